import type { Command } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { openContext } from '../../jobs/context.js';
import { runHistory } from '../../runs/history.js';
import { formatTable, printJson } from '../output.js';
import { integer } from './generate.js';

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('pipeline runs per job: status, duration, rows in/out/rejected, failure reason')
    .option('--project <dir>', 'project folder', '.')
    .option('--job <job>', 'only this job (e.g. model:transactions, stream:core-transactions)')
    .option('--limit <n>', 'runs per job', integer, 20)
    .option('--json', 'print as JSON')
    .action(async (opts: { project: string; job?: string; limit: number; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const jobs = await runHistory(ctx, { job: opts.job, limit: opts.limit });
        if (opts.json) printJson({ jobs });
        else {
          process.stdout.write(
            `${formatTable(
              ['job', 'runs', 'failed', 'last_status', 'last_duration_ms', 'last_rows_out', 'last_error'],
              jobs.map((j) => ({
                job: j.job,
                runs: j.runs.length,
                failed: j.runs.filter((r) => r.status === 'failed').length,
                last_status: j.runs[0]?.status,
                last_duration_ms: j.runs[0]?.durationMs,
                last_rows_out: j.runs[0]?.rowsOut,
                last_error: j.runs[0]?.error?.slice(0, 80),
              })),
            )}\n`,
          );
        }
      } finally {
        await ctx.close();
      }
    });
}
