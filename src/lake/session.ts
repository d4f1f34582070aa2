import { type DatasetRef, datasetKey, type Source, sqlName } from '../config/project.js';
import { buildDag, type ModelNode, renderModel } from '../engine/dag.js';
import type { ColumnInfo, SqlDialect } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { contractColumns } from '../mesh/contract-columns.js';
import type { LakeFile } from '../metadata/metadata-store.js';
import { BRONZE_METADATA_COLUMNS } from './layout.js';

/**
 * Prepares the engine to read the lake: one schema per `<domain>_<zone>`, one view per dataset over its live
 * files (never a glob, so uncommitted or replaced files are invisible), the `view` models, and the macros models use.
 */
export async function prepareSession(ctx: Context, options: PrepareOptions = {}): Promise<void> {
  const { engine, project } = ctx;
  await engine.installMacros({ tokenizationKey: ctx.tokenizationKey });
  if (!engineReadsLake(ctx)) return;
  const { dag } = buildDag(project);
  const wanted = options.only ? withViewInputs(dag.nodes, new Set(options.only)) : undefined;
  const want = (ref: DatasetRef) => !wanted || wanted.has(sqlName(ref));
  for (const s of project.sources) {
    if (want(s.dataset)) await refreshDataset(ctx, s.dataset, bronzeColumns(s));
    // Rejected rows, with their reasons, are queryable where any exist: `<domain>_quarantine.<dataset>`.
    const quarantine = { domain: s.domain, zone: 'quarantine' as const, name: s.dataset.name };
    if (want(quarantine) && (await ctx.meta.manifest.state(datasetKey(quarantine)))) await refreshDataset(ctx, quarantine);
    // Landing keeps files as received (CSV, zip, PGP), not rows: `<domain>_landing.<dataset>` lists them, a row a file.
    const landing = { domain: s.domain, zone: 'landing' as const, name: s.dataset.name };
    const landed = want(landing) ? await ctx.meta.manifest.liveFiles(datasetKey(landing)) : [];
    if (landed.length > 0) await defineViewModel(ctx, landing, landingListing(ctx.engine.dialect, landed));
  }
  for (const node of dag.nodes) {
    if (!want(node.product.dataset)) continue;
    if (node.product.materialized === 'view') await defineViewModel(ctx, node.product.dataset, renderModel(node, project));
    // A product never built reads as empty with its contract's columns, rather than as a missing table.
    else await refreshDataset(ctx, node.product.dataset, contractColumns(node.product));
  }
}

export interface PrepareOptions {
  /**
   * Only these datasets (SQL names: `payments_silver.transactions`) and what the `view` models among them read: a
   * query that names two datasets need not define thirty views first. Every dataset when absent.
   */
  only?: Iterable<string> | undefined;
}

/** `names` and, for a `view` model among them, its inputs (and theirs). */
function withViewInputs(nodes: ModelNode[], names: Set<string>): Set<string> {
  const out = new Set(names);
  for (let grew = true; grew; ) {
    grew = false;
    for (const n of nodes) {
      if (n.product.materialized !== 'view' || !out.has(sqlName(n.product.dataset))) continue;
      for (const input of [...n.refs.map((r) => r.dataset), ...n.sources.map((x) => x.dataset)]) {
        if (out.has(sqlName(input))) continue;
        out.add(sqlName(input));
        grew = true;
      }
    }
  }
  return out;
}

/**
 * Redefines a dataset's view over its live files (after a commit). The process's reader session records when, so
 * garbage collection keeps the files this view lists until a later view replaces it (`reader-session.ts`).
 */
export async function refreshDataset(ctx: Context, ref: DatasetRef, fallback?: ColumnInfo[]): Promise<void> {
  if (!engineReadsLake(ctx)) return;
  const key = datasetKey(ref);
  await ctx.lakeReader.define(key, async () => {
    const live = await ctx.meta.manifest.liveFiles(key);
    const files = live.map((f) => ctx.storage.readPath(f.key));
    ctx.engine.knowColumnBytes?.(live.map((f, i) => ({ path: files[i] as string, columnBytes: f.columnBytes })));
    const columns = (await ctx.meta.manifest.state(key))?.schema ?? fallback;
    await ctx.engine.defineDataset(`${ref.domain}_${ref.zone}`, ref.name, files, columns);
  });
}

/**
 * Whether the embedded engine reads the lake's files: only on local disk. DuckDB reads `gs://` through its `httpfs`
 * extension, which is not bundled; a `gcs` lake is read by the warehouse (BigQuery load jobs), so its bronze is written
 * (staged locally, uploaded, recorded) without any view over the bucket.
 */
export function engineReadsLake(ctx: Pick<Context, 'project'>): boolean {
  return ctx.project.config.lake.kind === 'local';
}

export async function defineViewModel(ctx: Context, ref: DatasetRef, sql: string): Promise<void> {
  await ctx.engine.defineView(`${ref.domain}_${ref.zone}`, ref.name, sql);
}

/**
 * One row per landed file: its name as received, partition, size, SHA-256 prefix, when and by which run it landed
 * (the columns of `LANDING_COLUMNS`).
 */
export function landingListing(d: SqlDialect, files: LakeFile[]): string {
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
