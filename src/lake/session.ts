import { type DatasetRef, datasetKey, type Source } from '../config/project.js';
import { buildDag, renderModel } from '../engine/dag.js';
import type { ColumnInfo } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { contractColumns } from '../mesh/contract-columns.js';
import type { LakeFile } from '../metadata/metadata-store.js';
import { BRONZE_METADATA_COLUMNS } from './layout.js';

/**
 * Prepares the engine to read the lake: one schema per `<domain>_<zone>`, one view per dataset over its live
 * files (never a glob, so uncommitted or replaced files are invisible), the `view` models, and the macros models use.
 */
export async function prepareSession(ctx: Context): Promise<void> {
  const { engine, project } = ctx;
  await engine.installMacros({ tokenizationKey: ctx.tokenizationKey });
  for (const s of project.sources) {
    await refreshDataset(ctx, s.dataset, bronzeColumns(s));
    // Rejected rows, with their reasons, are queryable where any exist: `<domain>_quarantine.<dataset>`.
    const quarantine = { domain: s.domain, zone: 'quarantine' as const, name: s.dataset.name };
    if (await ctx.meta.manifest.state(datasetKey(quarantine))) await refreshDataset(ctx, quarantine);
    // Landing keeps files as received (CSV, zip, PGP), not rows: `<domain>_landing.<dataset>` lists them, a row a file.
    const landing = { domain: s.domain, zone: 'landing' as const, name: s.dataset.name };
    const landed = await ctx.meta.manifest.liveFiles(datasetKey(landing));
    if (landed.length > 0) await defineViewModel(ctx, landing, landingListing(ctx, landed));
  }
  const { dag } = buildDag(project);
  for (const node of dag.nodes) {
    if (node.product.materialized === 'view') await defineViewModel(ctx, node.product.dataset, renderModel(node, project));
    // A product never built reads as empty with its contract's columns, rather than as a missing table.
    else await refreshDataset(ctx, node.product.dataset, contractColumns(node.product));
  }
}

/**
 * Redefines a dataset's view over its live files (after a commit). The process's reader session records when, so
 * garbage collection keeps the files this view lists until a later view replaces it (`reader-session.ts`).
 */
export async function refreshDataset(ctx: Context, ref: DatasetRef, fallback?: ColumnInfo[]): Promise<void> {
  const key = datasetKey(ref);
  await ctx.lakeReader.define(key, async () => {
    const files = (await ctx.meta.manifest.liveFiles(key)).map((f) => ctx.storage.readPath(f.key));
    const columns = (await ctx.meta.manifest.state(key))?.schema ?? fallback;
    await ctx.engine.defineDataset(`${ref.domain}_${ref.zone}`, ref.name, files, columns);
  });
}

export async function defineViewModel(ctx: Context, ref: DatasetRef, sql: string): Promise<void> {
  await ctx.engine.defineView(`${ref.domain}_${ref.zone}`, ref.name, sql);
}

/** One row per landed file: its name as received, partition, size, SHA-256 prefix, when and by which run it landed. */
function landingListing(ctx: Context, files: LakeFile[]): string {
  const d = ctx.engine.dialect;
  const str = (v: string) => d.cast(d.quoteLiteral(v), 'VARCHAR');
  return files
    .map((f) => {
      // Landed keys are `<dataset>/dt=<day>/<sha256 prefix>-<name as received>`.
      const base = f.key.slice(f.key.lastIndexOf('/') + 1);
      const dash = base.indexOf('-');
      return `SELECT ${str(base.slice(dash + 1))} AS file, ${str(f.partition ?? '')} AS ${d.quoteIdent('partition')}, ${d.cast(String(f.bytes), 'BIGINT')} AS bytes, ${str(base.slice(0, dash))} AS sha256_prefix, ${d.cast(d.quoteLiteral(f.committedAt.toISOString()), 'TIMESTAMPTZ')} AS landed_at, ${str(f.runId)} AS run_id, ${str(f.key)} AS lake_key`;
    })
    .join(' UNION ALL ');
}

export function bronzeColumns(source: Source): ColumnInfo[] {
  return [...source.config.schema.map((c) => ({ name: c.name, type: c.type })), ...BRONZE_METADATA_COLUMNS];
}
