import type { Command } from 'commander';
import type { ModelRunResult } from '../../jobs/transform.js';
import { failuresFound } from '../exit-codes.js';
import { examples, projectOption } from '../options.js';
import { formatCount, formatMs, paint, plural, print, printJson, say, statusStyle } from '../output.js';
import { handleStopSignals } from '../signals.js';

export function registerRun(program: Command): void {
  const run = program
    .command('run')
    .description(
      "run the SQL models in dependency order (selector: name, +name, name+, domain:x, zone:x), each product's checks after it; exit 1 when a model fails",
    )
    .argument('[selector]', 'which models to run; all when omitted');
  projectOption(run)
    .option('--json', 'print the results as JSON')
    .option('--no-checks', "skip each product's checks after its build (its quality gate still guards what it writes)")
    .action((selector: string | undefined, opts: RunOptions) => runCommand(selector, opts, 'run'));
  examples(run, ['finmesh run', 'finmesh run +daily_volume_by_method', 'finmesh run --no-checks', 'finmesh run domain:payments --json']);

  const build = program
    .command('build')
    .description(
      'run the models and test each product after its build, as dbt build does; exit 1 when a model or an error-level check fails',
    )
    .argument('[selector]', 'which models to build; all when omitted');
  projectOption(build)
    .option('--json', 'print the results as JSON')
    .action((selector: string | undefined, opts: RunOptions) => runCommand(selector, { ...opts, checks: true }, 'build'));
  examples(build, ['finmesh build', 'finmesh build domain:payments --json']);
}

interface RunOptions {
  project: string;
  json?: boolean;
  /** False with `--no-checks`. */
  checks?: boolean;
}

async function runCommand(selector: string | undefined, opts: RunOptions, command: 'run' | 'build'): Promise<void> {
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
  if (project.config.engine.kind === 'bigquery') return runBigQuery(ctx, selector, opts, command);
  const interrupted = new AbortController();
  const release = handleStopSignals(command, () => interrupted.abort(), 30_000);
  try {
    await prepareSession(ctx);
    const results = await ctx.runs.track(
      {
        job: command,
        kind: 'run',
        lineage: {
          start: (r) => parentRunEvent(ctx, 'START', r.id, command),
          end: (r, o) => parentRunEvent(ctx, o.status === 'failed' ? 'FAIL' : 'COMPLETE', r.id, command, o.error),
        },
      },
      (run) =>
        runModels(ctx, {
          selector,
          checks: opts.checks ?? true,
          signal: interrupted.signal,
          parent: { runId: run.id, job: command },
          onModel: (r) => {
            if (!opts.json) say(modelLine(r));
          },
        }),
      (rs) => ({ error: interrupted.signal.aborted ? `stopped by a signal before every model ran` : failedModels(rs) }),
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
      if (command === 'build') {
        const checks = results.reduce((a, r) => ({ run: a.run + (r.checks?.run ?? 0), failed: a.failed + (r.checks?.failed ?? 0) }), {
          run: 0,
          failed: 0,
        });
        print(
          `${plural(checks.run, 'check')}: ${checks.failed > 0 ? paint('red', `${checks.failed} failed`) : '0 failed'} (finmesh test --json for each result)`,
        );
      }
    }
    if (results.some((r) => r.status !== 'succeeded')) failuresFound();
    if (command === 'build' && results.some((r) => (r.checks?.errors ?? 0) > 0)) failuresFound();
  } finally {
    release();
    await ctx.close();
  }
}

function modelLine(r: ModelRunResult): string {
  return `${paint(statusStyle(r.status) ?? 'bold', r.status.padEnd(9), process.stderr)} ${r.dataset} (${r.materialized}) ${formatCount(r.rowsOut)} rows in ${formatMs(r.durationMs)}${r.error ? ` — ${r.error}` : ''}`;
}

/** The failed models, named with their errors: what a run's `error` says. */
export function failedModels(rs: Pick<ModelRunResult, 'model' | 'status' | 'error'>[]): string | undefined {
  const failed = rs.filter((r) => r.status === 'failed');
  if (failed.length === 0) return undefined;
  return `${plural(failed.length, 'model')} failed: ${failed.map((r) => `${r.model} (${r.error ?? 'no reason given'})`).join('; ')}`;
}

/** `finmesh run` on a BigQuery target: bronze loaded by job, models run in BigQuery; exit 1 when a model fails. */
async function runBigQuery(
  ctx: import('../../jobs/context.js').Context,
  selector: string | undefined,
  opts: RunOptions,
  command: 'run' | 'build',
): Promise<void> {
  const { runInBigQuery } = await import('../../jobs/bigquery-build.js');
  try {
    const result = await ctx.runs.track({ job: command, kind: 'run' }, (run) =>
      runInBigQuery(ctx, { selector, parent: { runId: run.id, job: command }, checks: opts.checks ?? true }),
    );
    if (opts.json) printJson(result);
    else {
      const loaded = result.loads.filter((l) => l.ran).length;
      print(`bronze: ${plural(loaded, 'batch', 'batches')} loaded into BigQuery, ${result.loads.length - loaded} loaded before`);
      for (const m of result.models) {
        const bytes = m.jobs.reduce((a, j) => a + j.bytesBilled, 0);
        say(
          `${paint(statusStyle(m.status) ?? 'bold', m.status.padEnd(9), process.stderr)} ${m.dataset} (${m.materialized}) ${plural(m.jobs.length, 'job')}, ${formatCount(bytes)} bytes billed${m.error ? ` — ${m.error}` : ''}`,
        );
      }
    }
    if (result.models.some((m) => m.status !== 'succeeded')) failuresFound();
    if (command === 'build' && result.models.some((m) => (m.checks?.errors ?? 0) > 0)) failuresFound();
  } finally {
    await ctx.close();
  }
}
