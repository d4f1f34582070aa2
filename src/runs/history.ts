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
