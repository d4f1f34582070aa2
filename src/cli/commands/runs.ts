import type { Command } from 'commander';
import type { RunDetail } from '../../runs/history.js';
import { examples, integer, projectOption } from '../options.js';
import { formatCount, formatMs, formatTable, paint, print, printJson, statusStyle } from '../output.js';

export function registerRuns(program: Command): void {
  const cmd = program
    .command('runs')
    .description(
      'pipeline runs per job: status, duration, rows in/out/rejected, failure reason; with a run id, that run with the runs it started, its checks and the tail of its log',
    )
    .argument('[runId]', 'one run (its id, as `finmesh runs` and every log line of the run show it)');
  projectOption(cmd)
    .option('--job <job>', 'only this job, e.g. model:payments.transactions (or model:transactions), stream:core-transactions')
    .option('--limit <n>', 'runs per job', integer, 20)
    .option('--json', 'print as JSON')
    .action(async (runId: string | undefined, opts: { project: string; job?: string; limit: number; json?: boolean }) => {
      const [{ loadProject }, { FinmeshError }, { openContext }, { runHistory, runDetail }, { jobSpellings }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../runs/history.js'),
        import('../../runs/job-names.js'),
      ]);
      const project = await loadProject(opts.project);
      if (runId !== undefined) {
        const ctx = await openContext(project, { readonly: true });
        try {
          const d = await runDetail(ctx, runId);
          if (opts.json) printJson(d);
          else print(formatRun(d));
        } finally {
          await ctx.close();
        }
        return;
      }
      const spellings = opts.job === undefined ? undefined : jobSpellings(project.products, opts.job);
      if (opts.job !== undefined && !spellings)
        throw new FinmeshError(
          'NOT_FOUND',
          `--job ${opts.job}: no product "${opts.job.replace(/^\w+:/, '')}" (products: ${project.products.map((p) => `${p.domain}.${p.name}`).join(', ')})`,
        );
      const ctx = await openContext(project, { readonly: true });
      try {
        let jobs = spellings
          ? (await Promise.all(spellings.map((job) => runHistory(ctx, { job, limit: opts.limit })))).flat()
          : await runHistory(ctx, { limit: opts.limit });
        if (spellings) {
          const [canonical = ''] = spellings;
          // Runs recorded under an older spelling of the same job are shown as one job.
          const runs = jobs
            .flatMap((j) => j.runs)
            .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
            .slice(0, opts.limit);
          const kind = jobs[0]?.kind;
          if (!kind) {
            const known = (await runHistory(ctx, { limit: 1 })).map((j) => j.job);
            throw new FinmeshError(
              'NOT_FOUND',
              `no runs of job "${opts.job}"${known.length > 0 ? ` (jobs with runs: ${known.join(', ')})` : ' (no job has run yet)'}`,
            );
          }
          jobs = [{ job: canonical, kind, runs }];
        }
        if (opts.json) printJson({ jobs });
        else {
          print(
            formatTable(
              [
                'job',
                'runs',
                'failed',
                { key: 'last', style: (v) => statusStyle(String(v)) },
                { key: 'duration', align: 'right' },
                { key: 'rows_out', header: 'rows out' },
                'started',
                'last_error',
              ],
              jobs.map((j) => {
                const last = j.runs[0];
                return {
                  job: j.job,
                  runs: j.runs.length,
                  failed: j.runs.filter((r) => r.status === 'failed').length,
                  last: last?.status,
                  duration: formatMs(last?.durationMs),
                  rows_out: last?.rowsOut,
                  started: last?.startedAt.replace('T', ' ').slice(0, 19),
                  // Whole: an error cut short hides its cause.
                  last_error: last?.status === 'failed' || last?.status === 'skipped' ? last.error : undefined,
                };
              }),
            ),
          );
        }
      } finally {
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh runs',
    'finmesh runs --job model:transactions --limit 5',
    'finmesh runs --job stream --json',
    'finmesh runs 019a1b2c-0000-7000-8000-000000000000',
  ]);
}

function style(status: string): string {
  const s = statusStyle(status);
  return s ? paint(s, status) : status;
}

/** One run as text: what it was, how it ended, its checks, the runs it started, then its log's tail. */
function formatRun(d: RunDetail): string {
  const r = d.run;
  const lines = [
    `run ${r.runId}`,
    `job       ${r.job} (${r.kind})${r.parentRunId ? `, started by ${r.parentRunId}` : ''}`,
    `status    ${style(r.status)}`,
    `started   ${r.startedAt}${r.endedAt ? `, ended ${r.endedAt} (${formatMs(r.durationMs)})` : ''}`,
    `rows      in ${r.rowsIn}, out ${r.rowsOut}, rejected ${r.rowsRejected}`,
  ];
  if (r.error) lines.push(`error     ${r.error}`);
  if (d.checks.length > 0) lines.push('', 'checks', ...d.checks.map((c) => `  ${c.status} ${c.checkId} (${c.severity}): ${c.message}`));
  if (d.warehouseJobs.length > 0)
    lines.push(
      '',
      'BigQuery jobs',
      ...d.warehouseJobs.map(
        (j) =>
          `  ${j.jobId}: ${formatCount(j.bytesProcessed)} bytes processed, ${formatCount(j.bytesBilled)} billed, ${formatCount(j.slotMs)} slot ms`,
      ),
    );
  if (d.children.length > 0) lines.push('', 'runs it started', ...d.children.map((c) => `  ${c.runId} ${c.job} ${c.status}`));
  lines.push('', d.logs.length > 0 ? 'log (info, warnings and errors kept with the run)' : 'log: no lines kept with this run');
  for (const l of d.logs) {
    const fields = Object.entries(l.fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    lines.push(`  ${l.time} ${l.severity.padEnd(8)} ${l.message}${fields ? `  ${fields}` : ''}`);
  }
  return lines.join('\n');
}
