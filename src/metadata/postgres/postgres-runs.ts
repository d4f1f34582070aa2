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
import type { PostgresPool, Queryable } from './postgres-pool.js';

interface RunRow {
  run_id: string;
  job: string;
  kind: string;
  parent_run_id: string | null;
  status: string;
  started_at: Date;
  ended_at: Date | null;
  heartbeat_at: Date | null;
  rows_in: string;
  rows_out: string;
  rows_rejected: string;
  error: string | null;
}

export class PostgresRuns implements RunStore {
  /** `s` is the quoted schema the tables live in. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async start(run: RunStart): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO ${this.s}.runs (run_id, job, kind, parent_run_id, status, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, 'running', $5, $5)`,
        [run.runId, run.job, run.kind, run.parentRunId ?? null, run.startedAt],
      );
    } catch (e) {
      if (e instanceof FinmeshError && e.code === 'CONFLICT')
        throw new FinmeshError('CONFLICT', `a run ${run.runId} already exists`, { cause: e.cause });
      throw e;
    }
  }

  async finish(runId: string, end: RunEnd): Promise<void> {
    await this.db.transaction(async (q) => {
      const r = await q.query(
        `UPDATE ${this.s}.runs SET status = $1, ended_at = $2, heartbeat_at = $2, rows_in = $3, rows_out = $4, rows_rejected = $5, error = $6
         WHERE run_id = $7`,
        [end.status, end.endedAt, end.rowsIn ?? 0, end.rowsOut ?? 0, end.rowsRejected ?? 0, end.error ?? null, runId],
      );
      if (r.rowCount !== 1) throw new FinmeshError('NOT_FOUND', `no run ${runId} to finish in ${this.db.location}`);
      const jobs = end.warehouseJobs ?? [];
      await this.replaceRows(q, 'run_warehouse_jobs', runId, jobs, {
        job_id: ['text', (j) => j.jobId],
        bytes_processed: ['bigint', (j) => Math.round(j.bytesProcessed)],
        bytes_billed: ['bigint', (j) => Math.round(j.bytesBilled)],
        slot_ms: ['bigint', (j) => Math.round(j.slotMs)],
      });
      await this.replaceRows(q, 'run_logs', runId, end.logs ?? [], {
        at: ['timestamptz', (l) => l.time],
        severity: ['text', (l) => l.severity],
        message: ['text', (l) => l.message],
        fields: ['jsonb', (l) => JSON.stringify(l.fields)],
      });
    });
  }

  /**
   * A run's rows of a child table (its warehouse jobs, its log lines) replaced by `items` in their order (`seq`), in
   * one INSERT of arrays; nothing is touched when there are none (a run finishing with no jobs keeps those it had).
   */
  private async replaceRows<T>(
    q: Queryable,
    table: string,
    runId: string,
    items: readonly T[],
    columns: Record<string, [pgType: string, value: (item: T) => unknown]>,
  ): Promise<void> {
    if (items.length === 0) return;
    const names = Object.keys(columns);
    const arrays = Object.values(columns).map(([type], i) => `$${i + 2}::${type}[]`);
    await q.query(`DELETE FROM ${this.s}.${table} WHERE run_id = $1`, [runId]);
    await q.query(
      `INSERT INTO ${this.s}.${table} (run_id, seq, ${names.join(', ')})
       SELECT $1, seq - 1, ${names.join(', ')}
       FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS c(${names.join(', ')}, seq)`,
      [runId, ...Object.values(columns).map(([, value]) => items.map(value))],
    );
  }

  async warehouseJobs(runId: string): Promise<WarehouseJobRecord[]> {
    const { rows } = await this.db.query<{ job_id: string; bytes_processed: string; bytes_billed: string; slot_ms: string }>(
      `SELECT job_id, bytes_processed, bytes_billed, slot_ms FROM ${this.s}.run_warehouse_jobs WHERE run_id = $1 ORDER BY seq`,
      [runId],
    );
    return rows.map((r) => ({
      jobId: r.job_id,
      bytesProcessed: Number(r.bytes_processed),
      bytesBilled: Number(r.bytes_billed),
      slotMs: Number(r.slot_ms),
    }));
  }

  async logs(runId: string): Promise<RunLogLine[]> {
    const { rows } = await this.db.query<{ at: Date; severity: string; message: string; fields: RunLogLine['fields'] }>(
      `SELECT at, severity, message, fields FROM ${this.s}.run_logs WHERE run_id = $1 ORDER BY seq`,
      [runId],
    );
    return rows.map((r) => ({ time: r.at, severity: r.severity, message: r.message, fields: r.fields }));
  }

  async heartbeat(runIds: string[], at: Date): Promise<void> {
    if (runIds.length === 0) return;
    await this.db.query(`UPDATE ${this.s}.runs SET heartbeat_at = $1 WHERE run_id = ANY($2::text[]) AND status = 'running'`, [at, runIds]);
  }

  async expire(staleBefore: Date, at: Date): Promise<RunRecord[]> {
    return this.db.transaction(async (q) => {
      // SKIP LOCKED: a run another process is finishing, heartbeating or expiring right now is not this call's to fail.
      const { rows } = await q.query<RunRow>(
        `SELECT * FROM ${this.s}.runs WHERE status = 'running' AND coalesce(heartbeat_at, started_at) < $1
         ORDER BY run_id COLLATE "C" FOR UPDATE SKIP LOCKED`,
        [staleBefore],
      );
      if (rows.length === 0) return [];
      for (const r of rows) {
        r.error = expiredRunError(r.heartbeat_at ?? r.started_at);
        r.status = 'failed';
        r.ended_at = at;
      }
      await q.query(
        `UPDATE ${this.s}.runs r SET status = 'failed', ended_at = $1, error = d.error
         FROM unnest($2::text[], $3::text[]) AS d(run_id, error) WHERE r.run_id = d.run_id`,
        [at, rows.map((r) => r.run_id), rows.map((r) => r.error)],
      );
      return rows.map(toRun);
    });
  }

  async list(filter: RunFilter = {}): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (column: string, value: unknown) => {
      args.push(value);
      where.push(`${column} = $${args.length}`);
    };
    if (filter.job) add('job', filter.job);
    if (filter.parentRunId) add('parent_run_id', filter.parentRunId);
    if (filter.status) add('status', filter.status);
    args.push(filter.limit ?? 1000);
    const { rows } = await this.db.query<RunRow>(
      `SELECT * FROM ${this.s}.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_at DESC, run_id COLLATE "C" DESC LIMIT $${args.length}`,
      args,
    );
    return rows.map(toRun);
  }
}

function toRun(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    job: r.job,
    kind: r.kind,
    parentRunId: r.parent_run_id ?? undefined,
    status: r.status as RunStatus,
    startedAt: r.started_at,
    endedAt: r.ended_at ?? undefined,
    heartbeatAt: r.heartbeat_at ?? undefined,
    rowsIn: Number(r.rows_in),
    rowsOut: Number(r.rows_out),
    rowsRejected: Number(r.rows_rejected),
    error: r.error ?? undefined,
  };
}
