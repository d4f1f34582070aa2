import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import {
  type DatasetState,
  type DatasetSummary,
  type FileCommit,
  type LakeFile,
  type ManifestStore,
  notLive,
  type RetiredFile,
} from '../metadata-store.js';
import type { SqliteCheckpoints } from './sqlite-ledger.js';

interface FileRow {
  seq: number;
  dataset: string;
  key: string;
  partition: string | null;
  rows: number;
  bytes: number;
  run_id: string;
  committed_at: number;
  retired_at: number | null;
  data_seq: number | null;
  column_bytes: string | null;
}

export class SqliteManifest implements ManifestStore {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly checkpoints: SqliteCheckpoints,
  ) {}

  async commit(commit: FileCommit): Promise<number> {
    const now = this.clock.now();
    let lastSeq = 0;
    this.db
      .transaction(() => {
        // A replayed batch rewrites the same key: the older row is retired so the key is live once.
        const retire = this.db.prepare('UPDATE files SET retired_at = ? WHERE dataset = ? AND key = ? AND retired_at IS NULL');
        for (const key of commit.replace) {
          const { changes } = retire.run(now, commit.dataset, key);
          if (changes === 0 && commit.replaceMustBeLive) throw notLive(commit.dataset, key);
        }
        const insert = this.db.prepare(
          'INSERT INTO files (dataset, key, partition, rows, bytes, run_id, committed_at, data_seq, column_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        );
        for (const f of commit.add) {
          retire.run(now, commit.dataset, f.key);
          lastSeq = Number(
            insert.run(
              commit.dataset,
              f.key,
              f.partition ?? null,
              f.rows,
              f.bytes,
              commit.runId,
              now,
              f.dataSeq ?? null,
              f.columnBytes ?? null,
            ).lastInsertRowid,
          );
        }
        const prev = this.readState(commit.dataset);
        this.db
          .prepare(
            'INSERT INTO datasets (dataset, schema, inputs, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(dataset) DO UPDATE SET schema = excluded.schema, inputs = excluded.inputs, updated_at = excluded.updated_at',
          )
          .run(
            commit.dataset,
            JSON.stringify(commit.schema ?? prev?.schema ?? null),
            JSON.stringify({ ...(prev?.inputs ?? {}), ...(commit.inputs ?? {}) }),
            now,
          );
        if (commit.checkpoint) this.checkpoints.setSync(commit.checkpoint.source, commit.checkpoint.value);
      })
      .immediate();
    return lastSeq;
  }

  async liveFiles(dataset: string): Promise<LakeFile[]> {
    const rows = this.db.prepare('SELECT * FROM files WHERE dataset = ? AND retired_at IS NULL ORDER BY seq').all(dataset) as FileRow[];
    return rows.map(toLakeFile);
  }

  async commitTimes(dataset: string, since: Date): Promise<Date[]> {
    const rows = this.db
      .prepare('SELECT DISTINCT committed_at AS t FROM files WHERE dataset = ? AND committed_at >= ? ORDER BY committed_at')
      .all(dataset, since.getTime()) as { t: number }[];
    return rows.map((r) => new Date(r.t));
  }

  async summaries(): Promise<DatasetSummary[]> {
    const rows = this.db
      .prepare(
        'SELECT dataset, count(*) files, sum(rows) rows, sum(bytes) bytes, max(committed_at) last FROM files WHERE retired_at IS NULL GROUP BY dataset ORDER BY dataset',
      )
      .all() as { dataset: string; files: number; rows: number; bytes: number; last: number }[];
    return rows.map((r) => ({ dataset: r.dataset, files: r.files, rows: r.rows, bytes: r.bytes, lastCommitAt: new Date(r.last) }));
  }

  async state(dataset: string): Promise<DatasetState | undefined> {
    return this.readState(dataset);
  }

  async retired(before: Date): Promise<RetiredFile[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM files f WHERE retired_at IS NOT NULL AND retired_at < ?
           AND NOT EXISTS (SELECT 1 FROM files l WHERE l.key = f.key AND l.retired_at IS NULL)
         ORDER BY retired_at, seq`,
      )
      .all(before.getTime()) as FileRow[];
    return rows.map((r) => ({ ...toLakeFile(r), retiredAt: new Date(r.retired_at as number) }));
  }

  async forget(keys: string[]): Promise<void> {
    const del = this.db.prepare('DELETE FROM files WHERE key = ? AND retired_at IS NOT NULL');
    this.db.transaction(() => {
      for (const k of keys) del.run(k);
    })();
  }

  async knows(key: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM files WHERE key = ? LIMIT 1').get(key) !== undefined;
  }

  private readState(dataset: string): DatasetState | undefined {
    const row = this.db.prepare('SELECT * FROM datasets WHERE dataset = ?').get(dataset) as
      | { dataset: string; schema: string | null; inputs: string; updated_at: number }
      | undefined;
    if (!row) return undefined;
    const schema = row.schema ? (JSON.parse(row.schema) as DatasetState['schema'] | null) : null;
    return {
      dataset: row.dataset,
      schema: schema ?? undefined,
      inputs: JSON.parse(row.inputs) as Record<string, number>,
      updatedAt: new Date(row.updated_at),
    };
  }
}

function toLakeFile(r: FileRow): LakeFile {
  return {
    seq: r.seq,
    dataSeq: r.data_seq ?? r.seq,
    columnBytes: r.column_bytes ?? undefined,
    dataset: r.dataset,
    key: r.key,
    partition: r.partition ?? undefined,
    rows: r.rows,
    bytes: r.bytes,
    runId: r.run_id,
    committedAt: new Date(r.committed_at),
  };
}
