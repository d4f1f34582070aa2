import type { Command } from 'commander';
import type { ModelRunResult } from '../../jobs/transform.js';
import { failuresFound } from '../exit-codes.js';
import { examples, projectOption } from '../options.js';
import { formatCount, formatMs, paint, plural, print, printJson, say, statusStyle } from '../output.js';
import { handleStopSignals } from '../signals.js';

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('run the SQL models in dependency order (selector: name, +name, name+, domain:x, zone:x); exit 1 when a model fails')
    .argument('[selector]', 'which models to run; all when omitted');
  projectOption(cmd)
    .option('--json', 'print the results as JSON')
    .action(async (selector: string | undefined, opts: { project: string; json?: boolean }) => {
      const [
        { loadProject },
        { FinmeshError },
        { buildDag, selectModels },
        { openContext },
        { runModels },
        { prepareSession },
        { parentRunEvent },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../engine/dag.js'),
        import('../../jobs/context.js'),
        import('../../jobs/transform.js'),
        import('../../lake/session.js'),
        import('../../lineage/events.js'),
      ]);
      const project = await loadProject(opts.project);
      // The project's own error-level policies hold before anything runs.
      (await import('../../mesh/user-policies.js')).assertUserPolicies(project);
      // A selector that names nothing is a usage error, found before any run is recorded.
      const { dag } = buildDag(project);
      if (selector && selectModels(dag, selector).length === 0)
        throw new FinmeshError(
          'NOT_FOUND',
          `no model matches "${selector}" (models: ${dag.nodes.map((n) => n.product.name).join(', ')}; selectors: name, +name, name+, domain:x, zone:x)`,
        );
      const ctx = await openContext(project, { secrets: true });
      const interrupted = new AbortController();
      const release = handleStopSignals('run', () => interrupted.abort(), 30_000);
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
              signal: interrupted.signal,
              parent: { runId: run.id, job: 'run' },
              onModel: (r) => {
                if (!opts.json) say(modelLine(r));
              },
            }),
          (rs) => ({ error: interrupted.signal.aborted ? 'stopped by a signal before every model ran' : failedModels(rs) }),
        );
        if (interrupted.signal.aborted) {
          say(`stopped by a signal after ${results.length} models; the others did not run (each dataset keeps its last committed state)`);
          failuresFound();
        }
        if (opts.json) printJson({ models: results });
        else {
          const count = (s: string) => results.filter((r) => r.status === s).length;
          const failed = count('failed');
          print(
            `\n${plural(results.length, 'model')}: ${paint('green', `${count('succeeded')} succeeded`)}, ${failed > 0 ? paint('red', `${failed} failed`) : '0 failed'}, ${count('skipped')} skipped`,
          );
        }
        if (results.some((r) => r.status !== 'succeeded')) failuresFound();
      } finally {
        release();
        await ctx.close();
      }
    });
  examples(cmd, ['finmesh run', 'finmesh run +daily_volume_by_method', 'finmesh run domain:payments --json']);
}

function modelLine(r: ModelRunResult): string {
  return `${paint(statusStyle(r.status) ?? 'bold', r.status.padEnd(9), process.stderr)} ${r.dataset} (${r.materialized}) ${formatCount(r.rowsOut)} rows in ${formatMs(r.durationMs)}${r.error ? ` — ${r.error}` : ''}`;
}

/** The failed models, named with their errors: what a run's `error` says. */
export function failedModels(rs: ModelRunResult[]): string | undefined {
  const failed = rs.filter((r) => r.status === 'failed');
  if (failed.length === 0) return undefined;
  return `${plural(failed.length, 'model')} failed: ${failed.map((r) => `${r.model} (${r.error ?? 'no reason given'})`).join('; ')}`;
}
