import type Database from 'better-sqlite3';
import { FinmeshError } from '../../core/errors.js';
import {
  expiredRunError,
  type RunEnd,
  type RunFilter,
  type RunLogLine,
  type RunRecord,
  type RunStart,
  type RunStatus,
  type RunStore,
  type WarehouseJobRecord,
} from '../metadata-store.js';

interface RunRow {
  run_id: string;
  job: string;
  kind: string;
  parent_run_id: string | null;
  status: string;
  started_at: number;
  ended_at: number | null;
  heartbeat_at: number | null;
  rows_in: number;
  rows_out: number;
  rows_rejected: number;
  error: string | null;
}

export class SqliteRuns implements RunStore {
  constructor(private readonly db: Database.Database) {}

  async start(run: RunStart): Promise<void> {
    try {
      this.db
        .prepare('INSERT INTO runs (run_id, job, kind, parent_run_id, status, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(run.runId, run.job, run.kind, run.parentRunId ?? null, 'running', run.startedAt.getTime(), run.startedAt.getTime());
    } catch (cause) {
      if ((cause as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new FinmeshError('CONFLICT', `a run ${run.runId} already exists`, { cause });
      throw cause;
    }
  }

  async finish(runId: string, end: RunEnd): Promise<void> {
    this.db.transaction(() => {
      this.end(runId, end);
      this.replaceRows('run_warehouse_jobs', runId, end.warehouseJobs ?? [], {
        job_id: (j) => j.jobId,
        bytes_processed: (j) => j.bytesProcessed,
        bytes_billed: (j) => j.bytesBilled,
        slot_ms: (j) => j.slotMs,
      });
      // A run another process had expired and that ends after all: its lines replace nothing but its own.
      this.replaceRows('run_logs', runId, end.logs ?? [], {
        at: (l) => l.time.getTime(),
        severity: (l) => l.severity,
        message: (l) => l.message,
        fields: (l) => JSON.stringify(l.fields),
      });
    })();
  }

  /**
   * A run's rows of a child table (its warehouse jobs, its log lines) replaced by `items` in their order (`seq`);
   * nothing is touched when there are none (a run finishing with no jobs keeps those it had). Inside the caller's
   * transaction.
   */
  private replaceRows<T>(table: string, runId: string, items: readonly T[], columns: Record<string, (item: T) => unknown>): void {
    if (items.length === 0) return;
    const names = Object.keys(columns);
    const values = Object.values(columns);
    this.db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
    const add = this.db.prepare(
      `INSERT INTO ${table} (run_id, seq, ${names.join(', ')}) VALUES (?, ?, ${names.map(() => '?').join(', ')})`,
    );
    for (const [i, item] of items.entries()) add.run(runId, i, ...values.map((value) => value(item)));
  }

  async warehouseJobs(runId: string): Promise<WarehouseJobRecord[]> {
    return this.db
      .prepare(
        'SELECT job_id AS jobId, bytes_processed AS bytesProcessed, bytes_billed AS bytesBilled, slot_ms AS slotMs FROM run_warehouse_jobs WHERE run_id = ? ORDER BY seq',
      )
      .all(runId) as WarehouseJobRecord[];
  }

  async logs(runId: string): Promise<RunLogLine[]> {
    const rows = this.db.prepare('SELECT at, severity, message, fields FROM run_logs WHERE run_id = ? ORDER BY seq').all(runId) as {
      at: number;
      severity: string;
      message: string;
      fields: string;
    }[];
    return rows.map((r) => ({ time: new Date(r.at), severity: r.severity, message: r.message, fields: JSON.parse(r.fields) }));
  }

  private end(runId: string, end: RunEnd): void {
    const r = this.db
      .prepare(
        'UPDATE runs SET status = ?, ended_at = ?, heartbeat_at = ?, rows_in = ?, rows_out = ?, rows_rejected = ?, error = ? WHERE run_id = ?',
      )
      .run(
        end.status,
        end.endedAt.getTime(),
        end.endedAt.getTime(),
        end.rowsIn ?? 0,
        end.rowsOut ?? 0,
        end.rowsRejected ?? 0,
        end.error ?? null,
        runId,
      );
    if (r.changes !== 1) throw new FinmeshError('NOT_FOUND', `no run ${runId} to finish`);
  }

  async heartbeat(runIds: string[], at: Date): Promise<void> {
    if (runIds.length === 0) return;
    const up = this.db.prepare("UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND status = 'running'");
    this.db.transaction(() => {
      for (const id of runIds) up.run(at.getTime(), id);
    })();
  }

  async expire(staleBefore: Date, at: Date): Promise<RunRecord[]> {
    return this.db.transaction(() => {
      const rows = this.db
        .prepare("SELECT * FROM runs WHERE status = 'running' AND coalesce(heartbeat_at, started_at) < ?")
        .all(staleBefore.getTime()) as RunRow[];
      const fail = this.db.prepare("UPDATE runs SET status = 'failed', ended_at = ?, error = ? WHERE run_id = ? AND status = 'running'");
      for (const r of rows) {
        r.error = expiredRunError(new Date(r.heartbeat_at ?? r.started_at));
        r.status = 'failed';
        r.ended_at = at.getTime();
        fail.run(at.getTime(), r.error, r.run_id);
      }
      return rows.map(toRun);
    })();
  }

  async list(filter: RunFilter = {}): Promise<RunRecord[]> {
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
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, run_id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as RunRow[]).map(toRun);
  }
}

function toRun(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    job: r.job,
    kind: r.kind,
    parentRunId: r.parent_run_id ?? undefined,
    status: r.status as RunStatus,
    startedAt: new Date(r.started_at),
    endedAt: r.ended_at === null ? undefined : new Date(r.ended_at),
    heartbeatAt: r.heartbeat_at === null ? undefined : new Date(r.heartbeat_at),
    rowsIn: r.rows_in,
    rowsOut: r.rows_out,
    rowsRejected: r.rows_rejected,
    error: r.error ?? undefined,
  };
}
