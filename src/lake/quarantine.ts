import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { datasetKey, type Source } from '../config/project.js';
import type { Context } from '../jobs/context.js';
import { fileKey } from './layout.js';
import { refreshDataset } from './session.js';

/** The fields of a quarantine NDJSON line. */
const QUARANTINE_INPUT = ['kind', 'source', 'file', 'line', 'reason', 'raw'].map((name) => ({
  name,
  type: name === 'line' ? 'BIGINT' : 'VARCHAR',
}));

export interface QuarantineRow {
  /** `row` for a rejected row, `file` for a file refused whole, `dead-letter` for a change of a poison stream batch. */
  kind: 'row' | 'file' | 'dead-letter';
  file: string;
  line: number;
  reason: string;
  raw: string;
}

/** Appends NDJSON lines to a file through a buffer: rows of a large file never sit in memory all at once. */
export class NdjsonWriter {
  private readonly fd: number;
  private buffer: string[] = [];
  private size = 0;
  count = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  add(json: string): void {
    this.buffer.push(json);
    this.size += json.length + 1;
    this.count++;
    if (this.size > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    writeSync(this.fd, `${this.buffer.join('\n')}\n`);
    this.buffer = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** A quarantine row as the NDJSON line `writeQuarantine` reads. */
export const quarantineLine = (source: Source, r: QuarantineRow) => JSON.stringify({ ...r, source: source.name });

/**
 * Writes quarantine rows — what was rejected, why, where (file and line), the raw text, and the run — into the
 * source's quarantine dataset, from rows or from an NDJSON file of `quarantineLine`s.
 */
export async function writeQuarantine(
  ctx: Context,
  source: Source,
  runId: string,
  input: QuarantineRow[] | { ndjsonFile: string; identity: string },
  options: {
    /** The files' name instead of run id + identity: one a replay of the same work overwrites. */
    name?: string | undefined;
    /** A source checkpoint that moves in the same metadata commit as the rows. */
    checkpoint?: { source: string; value: string } | undefined;
  } = {},
): Promise<void> {
  const dataset = { domain: source.domain, zone: 'quarantine' as const, name: source.dataset.name };
  const staging = await ctx.storage.stagingDir();
  try {
    let file: string;
    let identity: string;
    if (Array.isArray(input)) {
      file = join(staging, 'q.ndjson');
      const w = new NdjsonWriter(file);
      for (const r of input) w.add(quarantineLine(source, r));
      w.close();
      identity = createHash('sha256')
        .update(input.map((r) => `${r.file}:${r.line}`).join('|'))
        .digest('hex')
        .slice(0, 12);
    } else {
      file = input.ndjsonFile;
      identity = input.identity;
    }
    const d = ctx.engine.dialect;
    const select = `SELECT kind, source, file AS _source_file, line AS _line, reason, raw, ${d.quoteLiteral(runId)} AS _run_id, ${d.currentTimestamp()} AS _ingested_at, ${d.currentDate()} AS dt
      FROM ${d.readNdjson(file, QUARANTINE_INPUT)}`;
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy: 'dt' });
    const add = [];
    for (const w of written) {
      const key = fileKey(dataset, w.partition, options.name ?? `${runId}-${identity}`);
      add.push({ key, partition: w.partition, rows: w.rows, bytes: await ctx.storage.commit(w.path, key), columnBytes: w.columnBytes });
    }
    await ctx.meta.manifest.commit({ dataset: datasetKey(dataset), runId, add, replace: [], checkpoint: options.checkpoint });
    await refreshDataset(ctx, dataset);
  } finally {
    await ctx.storage.discard(staging);
  }
}
