import type { Command } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { openContext } from '../../jobs/context.js';
import { runModels } from '../../jobs/transform.js';
import { prepareSession } from '../../lake/session.js';
import { parentRunEvent } from '../../lineage/events.js';
import { formatTable, printJson, say } from '../output.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the SQL models in dependency order (selector: name, +name, name+, domain:x, zone:x)')
    .argument('[selector]', 'which models to run; all when omitted')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the results as JSON')
    .action(async (selector: string | undefined, opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = await openContext(project, { secrets: true });
      try {
        await prepareSession(ctx);
        const results = await ctx.runs.track(
          {
            job: 'run',
            kind: 'run',
            lineage: {
              start: (r) => parentRunEvent(ctx, 'START', r.id, 'run'),
              end: (r, o) => parentRunEvent(ctx, o.status === 'failed' ? 'FAIL' : 'COMPLETE', r.id, 'run', o.error),
            },
          },
          (run) =>
            runModels(ctx, {
              selector,
              parent: { runId: run.id, job: 'run' },
              onModel: (r) => {
                if (!opts.json)
                  say(
                    `${r.status.padEnd(9)} ${r.dataset} (${r.materialized}) ${r.rowsOut} rows in ${r.durationMs} ms${r.error ? ` — ${r.error}` : ''}`,
                  );
              },
            }),
          (rs) => ({ error: rs.some((r) => r.status === 'failed') ? 'a model failed' : undefined }),
        );
        if (opts.json) printJson({ models: results });
        else say(`\n${formatTable(['status', 'count'], countBy(results.map((r) => r.status)))}`);
        if (results.some((r) => r.status !== 'succeeded')) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });
}

function countBy(items: string[]): Record<string, unknown>[] {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return [...m].map(([status, count]) => ({ status, count }));
}
