import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { datasetKey, type Source } from '../config/project.js';
import { quoteIdent, quoteLiteral } from '../engine/engine.js';
import { fileKey } from '../lake/layout.js';
import type { Context } from './context.js';
import { refreshDataset } from './lake-session.js';

export interface BronzeBatch {
  source: Source;
  runId: string;
  /** Source offsets of the first and last record: the batch's file name, so a replay overwrites itself. */
  firstOffset: number;
  lastOffset: number;
  /** Records as JSON text, one per element, or an NDJSON file the engine reads whole. */
  input: { lines: string[] } | { ndjsonFile: string };
}

export interface BronzeCommit {
  rows: number;
  bytes: number;
  files: string[];
}

/**
 * Writes a micro-batch into bronze with the commit protocol of DESIGN §6: the engine parses the NDJSON whole
 * (typed by the source's schema) into staged Parquet partitioned by arrival date (`dt`, UTC), each file is made durable and renamed into place, and only
 * then recorded in the metadata store. The caller advances its checkpoint after this returns.
 */
export async function writeBronzeBatch(ctx: Context, batch: BronzeBatch): Promise<BronzeCommit> {
  const { source } = batch;
  const staging = await ctx.storage.stagingDir();
  try {
    let input: string;
    if ('lines' in batch.input) {
      input = join(staging, 'batch.ndjson');
      // Each line gets its offset in the batch, so bronze rows can be traced to the exact source position.
      let offset = batch.firstOffset;
      const body = batch.input.lines.map((l) => `{"_offset":${offset++},${l.slice(1)}`).join('\n');
      await writeFile(input, body);
    } else input = batch.input.ndjsonFile;
    const withOffset = 'lines' in batch.input;
    const columns = source.config.schema.map((c) => `${quoteIdent(c.name)}: ${quoteLiteral(c.type)}`);
    if (withOffset) columns.push(`"_offset": 'BIGINT'`);
    const select = `SELECT ${source.config.schema.map((c) => quoteIdent(c.name)).join(', ')},
        ${withOffset ? '_offset' : 'CAST(NULL AS BIGINT)'} AS _offset,
        now() AS _ingested_at, ${quoteLiteral(batch.runId)} AS _run_id,
        CAST(now() AS DATE) AS dt
      FROM read_json(${quoteLiteral(input)}, format = 'newline_delimited', columns = {${columns.join(', ')}})`;
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy: 'dt' });
    const add: { key: string; partition: string | undefined; rows: number; bytes: number }[] = [];
    for (const f of written) {
      const key = fileKey(source.dataset, f.partition, `${source.name}-${batch.firstOffset}-${batch.lastOffset}`);
      const bytes = await ctx.storage.commit(f.path, key);
      add.push({ key, partition: f.partition, rows: f.rows, bytes });
    }
    if (add.length > 0) ctx.meta.commitFiles({ dataset: datasetKey(source.dataset), runId: batch.runId, add, replace: [] });
    await refreshDataset(ctx, source.dataset);
    return { rows: add.reduce((s, f) => s + f.rows, 0), bytes: add.reduce((s, f) => s + f.bytes, 0), files: add.map((f) => f.key) };
  } finally {
    await ctx.storage.discard(staging);
  }
}
