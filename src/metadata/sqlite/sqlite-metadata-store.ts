import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { FinmeshError } from '../../core/errors.js';
import type {
  CheckResultRecord,
  DatasetState,
  DatasetSummary,
  FileCommit,
  LakeFile,
  LedgerEntry,
  LineageEventRecord,
  MetadataStore,
  RunEnd,
  RunRecord,
  RunStart,
  RunStatus,
} from '../metadata-store.js';

const MIGRATIONS = [
  `CREATE TABLE runs (
     run_id TEXT PRIMARY KEY, job TEXT NOT NULL, kind TEXT NOT NULL, parent_run_id TEXT,
     status TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
     rows_in INTEGER NOT NULL DEFAULT 0, rows_out INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0,
     error TEXT);
   CREATE INDEX runs_job ON runs(job, started_at);
   CREATE INDEX runs_parent ON runs(parent_run_id);
   CREATE TABLE files (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, key TEXT NOT NULL, partition TEXT,
     rows INTEGER NOT NULL, bytes INTEGER NOT NULL, run_id TEXT NOT NULL, committed_at INTEGER NOT NULL,
     retired_at INTEGER);
   CREATE INDEX files_live ON files(dataset, retired_at);
   CREATE TABLE datasets (
     dataset TEXT PRIMARY KEY, schema TEXT, inputs TEXT NOT NULL DEFAULT '{}', updated_at INTEGER NOT NULL);
   CREATE TABLE checkpoints (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE file_ledger (
     source TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, sha256 TEXT NOT NULL,
     status TEXT NOT NULL, run_id TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (source, sha256, path));`,
  `CREATE TABLE lineage_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, event_type TEXT NOT NULL, event_time TEXT NOT NULL,
     job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, event TEXT NOT NULL);
   CREATE INDEX lineage_job ON lineage_events(job_namespace, job_name);`,
  `CREATE TABLE check_results (
     run_id TEXT NOT NULL, check_id TEXT NOT NULL, product TEXT NOT NULL, column_name TEXT, rule TEXT NOT NULL,
     severity TEXT NOT NULL, status TEXT NOT NULL, value REAL, expected TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX check_results_product ON check_results(product, at);`,
];

interface RunRow {
  run_id: string;
  job: string;
  kind: string;
  parent_run_id: string | null;
  status: string;
  started_at: number;
  ended_at: number | null;
  rows_in: number;
  rows_out: number;
  rows_rejected: number;
  error: string | null;
}

interface FileRow {
  seq: number;
  dataset: string;
  key: string;
  partition: string | null;
  rows: number;
  bytes: number;
  run_id: string;
  committed_at: number;
}

/** The embedded metadata store: one SQLite file in WAL mode, so a reader process never blocks the writer. */
export class SqliteMetadataStore implements MetadataStore {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating and migrating when needed) the store at `path`; `:memory:` for tests. */
  static open(path: string, options: { readonly?: boolean } = {}): SqliteMetadataStore {
    if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (cause) {
      throw new FinmeshError(
        'UNAVAILABLE',
        `cannot open the metadata store ${path}${options.readonly ? ' (has the project run yet?)' : ''}`,
        { cause },
      );
    }
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true }) as number;
      for (let v = version; v < MIGRATIONS.length; v++) {
        db.transaction(() => {
          db.exec(MIGRATIONS[v] as string);
          db.pragma(`user_version = ${v + 1}`);
        })();
      }
    }
    return new SqliteMetadataStore(db);
  }

  startRun(run: RunStart): void {
    this.db
      .prepare('INSERT INTO runs (run_id, job, kind, parent_run_id, status, started_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(run.runId, run.job, run.kind, run.parentRunId ?? null, 'running', run.startedAt.getTime());
  }

  finishRun(runId: string, end: RunEnd): void {
    const r = this.db
      .prepare('UPDATE runs SET status = ?, ended_at = ?, rows_in = ?, rows_out = ?, rows_rejected = ?, error = ? WHERE run_id = ?')
      .run(end.status, end.endedAt.getTime(), end.rowsIn ?? 0, end.rowsOut ?? 0, end.rowsRejected ?? 0, end.error ?? null, runId);
    if (r.changes !== 1) throw new FinmeshError('NOT_FOUND', `no run ${runId} to finish`);
  }

  listRuns(filter: { job?: string; limit?: number; parentRunId?: string } = {}): RunRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.job) {
      where.push('job = ?');
      args.push(filter.job);
    }
    if (filter.parentRunId) {
      where.push('parent_run_id = ?');
      args.push(filter.parentRunId);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, run_id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit ?? 1000) as RunRow[];
    return rows.map((r) => ({
      runId: r.run_id,
      job: r.job,
      kind: r.kind,
      parentRunId: r.parent_run_id ?? undefined,
      status: r.status as RunStatus,
      startedAt: new Date(r.started_at),
      endedAt: r.ended_at === null ? undefined : new Date(r.ended_at),
      rowsIn: r.rows_in,
      rowsOut: r.rows_out,
      rowsRejected: r.rows_rejected,
      error: r.error ?? undefined,
    }));
  }

  commitFiles(commit: FileCommit): number {
    const now = Date.now();
    let lastSeq = 0;
    this.db.transaction(() => {
      if (commit.replace.length > 0) {
        const retire = this.db.prepare('UPDATE files SET retired_at = ? WHERE dataset = ? AND key = ? AND retired_at IS NULL');
        for (const key of commit.replace) retire.run(now, commit.dataset, key);
      }
      const insert = this.db.prepare(
        'INSERT INTO files (dataset, key, partition, rows, bytes, run_id, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      // A replayed batch rewrites the same key: the older row is retired so the key is live once.
      const retireSame = this.db.prepare('UPDATE files SET retired_at = ? WHERE dataset = ? AND key = ? AND retired_at IS NULL');
      for (const f of commit.add) {
        retireSame.run(now, commit.dataset, f.key);
        lastSeq = Number(insert.run(commit.dataset, f.key, f.partition ?? null, f.rows, f.bytes, commit.runId, now).lastInsertRowid);
      }
      const prev = this.datasetState(commit.dataset);
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
      if (commit.checkpoint) this.setCheckpoint(commit.checkpoint.source, commit.checkpoint.value);
    })();
    return lastSeq;
  }

  liveFiles(dataset: string): LakeFile[] {
    const rows = this.db.prepare('SELECT * FROM files WHERE dataset = ? AND retired_at IS NULL ORDER BY seq').all(dataset) as FileRow[];
    return rows.map(toLakeFile);
  }

  commitTimes(dataset: string, since: Date): Date[] {
    const rows = this.db
      .prepare('SELECT DISTINCT committed_at AS t FROM files WHERE dataset = ? AND committed_at >= ? ORDER BY committed_at')
      .all(dataset, since.getTime()) as { t: number }[];
    return rows.map((r) => new Date(r.t));
  }

  datasetSummaries(): DatasetSummary[] {
    const rows = this.db
      .prepare(
        'SELECT dataset, count(*) files, sum(rows) rows, sum(bytes) bytes, max(committed_at) last FROM files WHERE retired_at IS NULL GROUP BY dataset ORDER BY dataset',
      )
      .all() as { dataset: string; files: number; rows: number; bytes: number; last: number }[];
    return rows.map((r) => ({ dataset: r.dataset, files: r.files, rows: r.rows, bytes: r.bytes, lastCommitAt: new Date(r.last) }));
  }

  retiredFiles(olderThanMs: number): LakeFile[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM files f WHERE retired_at IS NOT NULL AND retired_at < ?
           AND NOT EXISTS (SELECT 1 FROM files l WHERE l.key = f.key AND l.retired_at IS NULL)`,
      )
      .all(Date.now() - olderThanMs) as FileRow[];
    return rows.map(toLakeFile);
  }

  forgetFiles(keys: string[]): void {
    const del = this.db.prepare('DELETE FROM files WHERE key = ? AND retired_at IS NOT NULL');
    this.db.transaction(() => {
      for (const k of keys) del.run(k);
    })();
  }

  datasetState(dataset: string): DatasetState | undefined {
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

  getCheckpoint(source: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM checkpoints WHERE source = ?').get(source) as { value: string } | undefined;
    return row?.value;
  }

  checkpointUpdatedAt(source: string): Date | undefined {
    const row = this.db.prepare('SELECT updated_at FROM checkpoints WHERE source = ?').get(source) as { updated_at: number } | undefined;
    return row ? new Date(row.updated_at) : undefined;
  }

  setCheckpoint(source: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO checkpoints (source, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      )
      .run(source, value, Date.now());
  }

  ledgerFind(source: string, sha256: string): LedgerEntry | undefined {
    const row = this.db.prepare('SELECT * FROM file_ledger WHERE source = ? AND sha256 = ? ORDER BY seen_at LIMIT 1').get(source, sha256) as
      | { source: string; path: string; size: number; mtime: number; sha256: string; status: string; run_id: string; seen_at: number }
      | undefined;
    if (!row) return undefined;
    return {
      source: row.source,
      path: row.path,
      size: row.size,
      mtime: new Date(row.mtime),
      sha256: row.sha256,
      status: row.status,
      runId: row.run_id,
      seenAt: new Date(row.seen_at),
    };
  }

  ledgerPath(source: string, path: string): string | undefined {
    const row = this.db
      .prepare("SELECT sha256 FROM file_ledger WHERE source = ? AND path = ? AND status = 'ingested' ORDER BY seen_at DESC LIMIT 1")
      .get(source, path) as { sha256: string } | undefined;
    return row?.sha256;
  }

  ledgerDays(source: string, since: Date): { firstSeen: Date | undefined; ingested: Map<string, number> } {
    const first = this.db.prepare('SELECT min(seen_at) AS t FROM file_ledger WHERE source = ?').get(source) as { t: number | null };
    const rows = this.db
      .prepare(
        "SELECT strftime('%Y-%m-%d', seen_at / 1000, 'unixepoch') AS day, count(*) AS n FROM file_ledger WHERE source = ? AND status = 'ingested' AND seen_at >= ? GROUP BY day",
      )
      .all(source, since.getTime()) as { day: string; n: number }[];
    return { firstSeen: first.t === null ? undefined : new Date(first.t), ingested: new Map(rows.map((r) => [r.day, r.n])) };
  }

  ledgerRecord(e: LedgerEntry): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO file_ledger (source, path, size, mtime, sha256, status, run_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(e.source, e.path, e.size, e.mtime.getTime(), e.sha256, e.status, e.runId, e.seenAt.getTime());
  }

  recordCheckResults(results: CheckResultRecord[]): void {
    const ins = this.db.prepare(
      'INSERT INTO check_results (run_id, check_id, product, column_name, rule, severity, status, value, expected, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const r of results)
        ins.run(
          r.runId,
          r.checkId,
          r.product,
          r.column ?? null,
          r.rule,
          r.severity,
          r.status,
          r.value ?? null,
          r.expected,
          r.message,
          r.at.getTime(),
        );
    })();
  }

  checkResults(filter: { product?: string; since?: Date } = {}): CheckResultRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM check_results WHERE (? IS NULL OR product = ?) AND at >= ? ORDER BY at DESC')
      .all(filter.product ?? null, filter.product ?? null, filter.since?.getTime() ?? 0) as {
      run_id: string;
      check_id: string;
      product: string;
      column_name: string | null;
      rule: string;
      severity: 'error' | 'warning';
      status: CheckResultRecord['status'];
      value: number | null;
      expected: string;
      message: string;
      at: number;
    }[];
    return rows.map((r) => ({
      runId: r.run_id,
      checkId: r.check_id,
      product: r.product,
      column: r.column_name ?? undefined,
      rule: r.rule,
      severity: r.severity,
      status: r.status,
      value: r.value ?? undefined,
      expected: r.expected,
      message: r.message,
      at: new Date(r.at),
    }));
  }

  recordLineage(e: LineageEventRecord): void {
    this.db
      .prepare('INSERT INTO lineage_events (run_id, event_type, event_time, job_namespace, job_name, event) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.runId, e.eventType, e.eventTime, e.jobNamespace, e.jobName, JSON.stringify(e.event));
  }

  lineageEvents(): LineageEventRecord[] {
    const rows = this.db.prepare('SELECT * FROM lineage_events ORDER BY seq').all() as {
      run_id: string;
      event_type: string;
      event_time: string;
      job_namespace: string;
      job_name: string;
      event: string;
    }[];
    return rows.map((r) => ({
      runId: r.run_id,
      eventType: r.event_type,
      eventTime: r.event_time,
      jobNamespace: r.job_namespace,
      jobName: r.job_name,
      event: JSON.parse(r.event),
    }));
  }

  close(): void {
    this.db.close();
  }
}

function toLakeFile(r: FileRow): LakeFile {
  return {
    seq: r.seq,
    dataset: r.dataset,
    key: r.key,
    partition: r.partition ?? undefined,
    rows: r.rows,
    bytes: r.bytes,
    runId: r.run_id,
    committedAt: new Date(r.committed_at),
  };
}
