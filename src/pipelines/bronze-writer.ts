import { createHash } from 'node:crypto';
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
  /** Records with their source offsets, or an NDJSON file the engine reads whole. */
  input: { records: BronzeRecord[] } | { ndjsonFile: string };
  /** Source checkpoint committed in the same metadata transaction as the files. */
  checkpoint?: { source: string; value: string } | undefined;
}

export interface BronzeRecord {
  offset: number;
  key: string;
  op: 'upsert' | 'delete';
  /** The document as compact JSON text (an object). */
  json: string;
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
    const withOffset = 'records' in batch.input;
    if ('records' in batch.input) {
      input = join(staging, 'batch.ndjson');
      // Each line carries its source offset and operation, so a bronze row traces to its exact source position.
      const body = batch.input.records.map((r) => `{"_offset":${r.offset},"_op":"${r.op}",${r.json.slice(1)}`).join('\n');
      await writeFile(input, body);
    } else input = batch.input.ndjsonFile;
    const columns = source.config.schema.map((c) => `${quoteIdent(c.name)}: ${quoteLiteral(c.type)}`);
    if (withOffset) columns.push(`"_offset": 'BIGINT'`, `"_op": 'VARCHAR'`);
    const select = `SELECT ${source.config.schema.map((c) => quoteIdent(c.name)).join(', ')},
        ${withOffset ? '_offset' : 'CAST(NULL AS BIGINT)'} AS _offset,
        ${withOffset ? '_op' : "'upsert'"} AS _op,
        now() AS _ingested_at, ${quoteLiteral(batch.runId)} AS _run_id,
        CAST(now() AS DATE) AS dt
      FROM read_json(${quoteLiteral(input)}, format = 'newline_delimited', columns = {${columns.join(', ')}})`;
    const identity = 'records' in batch.input ? `-${batchIdentity(batch.input.records)}` : '';
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy: 'dt' });
    const add: { key: string; partition: string | undefined; rows: number; bytes: number }[] = [];
    for (const f of written) {
      const key = fileKey(source.dataset, f.partition, `${source.name}-${batch.firstOffset}-${batch.lastOffset}${identity}`);
      const bytes = await ctx.storage.commit(f.path, key);
      add.push({ key, partition: f.partition, rows: f.rows, bytes });
    }
    if (add.length > 0 || batch.checkpoint) {
      ctx.meta.commitFiles({ dataset: datasetKey(source.dataset), runId: batch.runId, add, replace: [], checkpoint: batch.checkpoint });
    }
    await refreshDataset(ctx, source.dataset);
    return { rows: add.reduce((s, f) => s + f.rows, 0), bytes: add.reduce((s, f) => s + f.bytes, 0), files: add.map((f) => f.key) };
  } finally {
    await ctx.storage.discard(staging);
  }
}

/**
 * A short hash of the batch's (offset, key) pairs. With the offsets it names the file: replaying the same batch
 * gives the same name (the file overwrites itself), while batches from feeds whose offsets are per partition
 * (Cosmos DB's _lsn) never collide.
 */
function batchIdentity(records: BronzeRecord[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(`${r.offset}\u0000${r.key}\u0001`);
  return h.digest('hex').slice(0, 12);
}
