import { createHash } from 'node:crypto';
import { type DatasetRef, datasetKey, type Source } from '../config/project.js';
import { buildDag, renderModel } from '../engine/dag.js';
import { type ColumnInfo, quoteIdent, quoteLiteral } from '../engine/engine.js';
import { BRONZE_METADATA_COLUMNS } from '../lake/layout.js';
import type { Context } from './context.js';

/**
 * Prepares the engine to read the lake: one schema per `<domain>_<zone>`, one view per dataset over its live
 * files (never a glob, so uncommitted or replaced files are invisible), the `view` models, and the macros models use.
 */
export async function prepareSession(ctx: Context): Promise<void> {
  const { engine, project } = ctx;
  await engine.exec("SET TimeZone = 'UTC'");
  await engine.exec(macroSql(ctx.tokenizationKey));
  for (const s of project.sources) {
    await refreshDataset(ctx, s.dataset, bronzeColumns(s));
    // Rejected rows, with their reasons, are queryable where any exist: `<domain>_quarantine.<dataset>`.
    const quarantine = { domain: s.domain, zone: 'quarantine' as const, name: s.dataset.name };
    if (ctx.meta.datasetState(datasetKey(quarantine))) await refreshDataset(ctx, quarantine);
  }
  const { dag } = buildDag(project);
  for (const node of dag.nodes) {
    if (node.product.materialized === 'view') await defineViewModel(ctx, node.product.dataset, renderModel(node, project));
    else await refreshDataset(ctx, node.product.dataset);
  }
}

/** Redefines a dataset's view over its live files (after a commit). */
export async function refreshDataset(ctx: Context, ref: DatasetRef, fallback?: ColumnInfo[]): Promise<void> {
  const key = datasetKey(ref);
  const files = ctx.meta.liveFiles(key).map((f) => ctx.storage.readPath(f.key));
  const columns = ctx.meta.datasetState(key)?.schema ?? fallback;
  await ctx.engine.defineDataset(`${ref.domain}_${ref.zone}`, ref.name, files, columns);
}

export async function defineViewModel(ctx: Context, ref: DatasetRef, sql: string): Promise<void> {
  const schema = quoteIdent(`${ref.domain}_${ref.zone}`);
  await ctx.engine.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE OR REPLACE VIEW ${schema}.${quoteIdent(ref.name)} AS ${sql}`);
}

export function bronzeColumns(source: Source): ColumnInfo[] {
  return [...source.config.schema.map((c) => ({ name: c.name, type: c.type })), ...BRONZE_METADATA_COLUMNS];
}

/**
 * SQL macros available to models:
 * - `tokenize(v)`: HMAC-SHA256 of `v` under the project's tokenisation key, hex. Deterministic, so joins on the
 *   token still work; irreversible without the key. Where no key is loaded it raises an error instead.
 * - `mask_pan(v)`: keeps the first 6 and last 4 digits of a card number.
 */
export function macroSql(key: string | undefined): string {
  const tokenize = key
    ? (() => {
        const { ipad, opad } = hmacPads(key);
        return `CASE WHEN v IS NULL THEN NULL ELSE sha256(unhex(${quoteLiteral(opad)}) || unhex(sha256(unhex(${quoteLiteral(ipad)}) || encode(CAST(v AS VARCHAR))))) END`;
      })()
    : `error('tokenize() needs the tokenisation key: set tokenization.key in finmesh.yaml')`;
  return [
    `CREATE OR REPLACE MACRO tokenize(v) AS ${tokenize}`,
    `CREATE OR REPLACE MACRO mask_pan(v) AS CASE WHEN v IS NULL THEN NULL WHEN length(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g')) < 10 THEN '******' ELSE left(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g'), 6) || '******' || right(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g'), 4) END`,
  ].join('; ');
}

/** The inner and outer HMAC-SHA256 key pads (RFC 2104), hex. */
export function hmacPads(key: string): { ipad: string; opad: string } {
  let k = Buffer.from(key, 'utf8');
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  const ipad = Buffer.alloc(64);
  const opad = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = (block[i] ?? 0) ^ 0x36;
    opad[i] = (block[i] ?? 0) ^ 0x5c;
  }
  return { ipad: ipad.toString('hex'), opad: opad.toString('hex') };
}
