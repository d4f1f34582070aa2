import { FinmeshError } from '../core/errors.js';
import type { Context } from '../jobs/context.js';

export interface JobHistory {
  job: string;
  kind: string;
  runs: {
    runId: string;
    parentRunId: string | undefined;
    status: string;
    startedAt: string;
    durationMs: number | null;
    rowsIn: number;
    rowsOut: number;
    rowsRejected: number;
    error: string | undefined;
  }[];
}

/** Run history grouped by job, newest first; a failed run carries its error. */
export async function runHistory(ctx: Context, options: { job?: string | undefined; limit?: number } = {}): Promise<JobHistory[]> {
  const runs = await ctx.meta.runs.list({ job: options.job, limit: 100_000 });
  const byJob = new Map<string, JobHistory>();
  for (const r of runs) {
    const h = byJob.get(r.job) ?? { job: r.job, kind: r.kind, runs: [] };
    if (h.runs.length >= (options.limit ?? 20)) continue;
    h.runs.push({
      runId: r.runId,
      parentRunId: r.parentRunId,
      status: r.status,
      startedAt: r.startedAt.toISOString(),
      durationMs: r.endedAt ? r.endedAt.getTime() - r.startedAt.getTime() : null,
      rowsIn: r.rowsIn,
      rowsOut: r.rowsOut,
      rowsRejected: r.rowsRejected,
      error: r.error,
    });
    byJob.set(r.job, h);
  }
  return [...byJob.values()].sort((a, b) => a.job.localeCompare(b.job));
}

export interface RunDetail {
  run: JobHistory['runs'][number] & { job: string; kind: string; endedAt: string | null };
  children: (JobHistory['runs'][number] & { job: string })[];
  checks: { checkId: string; product: string; status: string; severity: string; message: string }[];
  /** The warehouse (BigQuery) jobs the run ran: job id, bytes processed and billed, slot time; empty for other runs. */
  warehouseJobs: { jobId: string; bytesProcessed: number; bytesBilled: number; slotMs: number }[];
  /** The tail of the run's log kept with it (`RunLogTail`): oldest first. */
  logs: { time: string; severity: string; message: string; fields: Record<string, string | number | boolean | null> }[];
}

/** One run: what it did, the runs it started, the checks it ran and the tail of its log. */
export async function runDetail(ctx: Context, runId: string): Promise<RunDetail> {
  const all = await ctx.meta.runs.list({ limit: 1_000_000 });
  const r = all.find((x) => x.runId === runId);
  if (!r) throw new FinmeshError('NOT_FOUND', `no run ${runId}`);
  const view = (x: typeof r) => ({
    runId: x.runId,
    parentRunId: x.parentRunId,
    status: x.status,
    startedAt: x.startedAt.toISOString(),
    durationMs: x.endedAt ? x.endedAt.getTime() - x.startedAt.getTime() : null,
    rowsIn: x.rowsIn,
    rowsOut: x.rowsOut,
    rowsRejected: x.rowsRejected,
    error: x.error,
    job: x.job,
  });
  const checks = (await ctx.meta.checks.list()).filter((c) => c.runId === runId);
  const logs = await ctx.meta.runs.logs(runId);
  return {
    run: { ...view(r), kind: r.kind, endedAt: r.endedAt?.toISOString() ?? null },
    warehouseJobs: await ctx.meta.runs.warehouseJobs(runId),
    logs: logs.map((l) => ({ ...l, time: l.time.toISOString() })),
    children: all.filter((x) => x.parentRunId === runId).map(view),
    checks: checks.map((c) => ({ checkId: c.checkId, product: c.product, status: c.status, severity: c.severity, message: c.message })),
  };
}
