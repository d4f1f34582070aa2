import type { Command } from 'commander';
import type { Bus } from '../../bus/bus.js';
import type { ModelScheduler } from '../../jobs/scheduler.js';
import type { StreamJob } from '../../jobs/stream.js';
import type { ModelRunner } from '../../jobs/target-models.js';
import type { CompactionTimer } from '../../lake/compaction.js';
import type { StartedServer } from '../../server/server.js';
import { failuresFound } from '../exit-codes.js';
import { examples, integer, projectOption } from '../options.js';
import { formatCount, Progress, paint, plural, print, printJson, say } from '../output.js';
import { handleStopSignals } from '../signals.js';
import { failedModels } from './run.js';

interface StreamCliOptions {
  project: string;
  untilCaughtUp?: boolean;
  models: boolean;
  port?: number;
  json?: boolean;
}

export function registerStream(program: Command): void {
  const cmd = program
    .command('stream')
    .description('stream every change-feed source into bronze (micro-batches, effectively once) and keep the models fresh');
  projectOption(cmd)
    .option('--until-caught-up', 'exit once everything the sources held at start is committed (and the models ran)')
    .option('--no-models', 'only ingest; do not run the models')
    .option('--port <n>', 'serve /healthz and /metrics on this port while streaming', integer)
    .option('--json', 'print the final counts as JSON')
    .action(async (opts: StreamCliOptions) => {
      const [
        { createBus },
        { loadProject },
        { durationMs },
        { FinmeshError },
        { openContext },
        { ModelScheduler },
        { StreamJob },
        { modelRunner },
        { startCompaction },
        { collectGarbage },
        { prepareSession },
        { parentRunEvent },
        { LatencyTracker },
        { componentLogger },
        { Metrics },
        { startServer },
        { isChangeFeed },
      ] = await Promise.all([
        import('../../bus/registry.js'),
        import('../../config/project-cache.js'),
        import('../../config/schema.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../jobs/scheduler.js'),
        import('../../jobs/stream.js'),
        import('../../jobs/target-models.js'),
        import('../../lake/compaction.js'),
        import('../../lake/gc.js'),
        import('../../lake/session.js'),
        import('../../lineage/events.js'),
        import('../../observability/latency.js'),
        import('../../observability/logger.js'),
        import('../../observability/metrics.js'),
        import('../../server/server.js'),
        import('../../sources/changefeed/registry.js'),
      ]);
      // A person at a terminal reads sentences; a service's log collector reads the JSON lines.
      const person = Boolean(process.stderr.isTTY);
      const project = await loadProject(opts.project);
      // The project's own error-level policies hold before anything runs.
      (await import('../../mesh/user-policies.js')).assertUserPolicies(project);
      if (project.config.lake.kind !== 'local' && project.config.engine.kind === 'duckdb' && opts.models) {
        // Refused before anything is read: bronze reaches the bucket, but no model could read it there.
        throw new FinmeshError(
          'CONFIG_INVALID',
          `target "${project.target}": its models run in the embedded DuckDB, which cannot read a ${project.config.lake.kind} lake's objects (its httpfs extension is not bundled); give the target engine: { kind: bigquery }, or stream with --no-models (docs/google-cloud.md)`,
        );
      }
      if (!project.sources.some(isChangeFeed)) {
        throw new FinmeshError('CONFIG_INVALID', 'the project has no change-feed source (kind sqlite-outbox, postgres or cosmos)');
      }
      const log = componentLogger(project.config.logging, 'stream');
      const metrics = new Metrics();
      const ctx = await openContext(project, { secrets: true, metrics });
      let bus: Bus | undefined;
      let job: StreamJob | undefined;
      let scheduler: ModelScheduler | undefined;
      let compaction: CompactionTimer | undefined;
      let server: StartedServer | undefined;
      const progress = new Progress();
      let stopped = false;
      // The stream gives up what it cannot commit after stopTimeoutMs; the process ends a little after at the latest.
      const release = handleStopSignals(
        'stream',
        () => {
          stopped = true;
          if (!person) log.info('stopping: committing what was read');
          void job?.stop();
        },
        project.config.stream.stopTimeoutMs + 15_000,
      );
      try {
        // The stream's own run spans everything, opening the sources included: a source that cannot open fails it.
        await ctx.runs.track(
          {
            job: 'stream',
            kind: 'stream',
            lineage: {
              start: (r) => parentRunEvent(ctx, 'START', r.id, 'stream'),
              end: (r, o) => parentRunEvent(ctx, o.status === 'failed' ? 'FAIL' : 'COMPLETE', r.id, 'stream', o.error),
            },
          },
          async (run) => {
            const parent = { runId: run.id, job: 'stream' };
            // In the embedded DuckDB, or where the engine is BigQuery, there: bronze loaded by job, then the models.
            const runner = modelRunner(ctx);
            const models = (o: Parameters<ModelRunner>[0] = {}) => runner({ ...o, parent });
            // Event → gold latency, as the demo measures it: a change counts once a gold run that started after its
            // commit to bronze succeeded.
            const latency = new LatencyTracker(metrics);
            const interval = project.config.stream.modelIntervalMs;
            // Models fed by a change feed run as soon as it commits new changes; the others every `modelIntervalMs`.
            scheduler =
              opts.models && interval > 0 && !opts.untilCaughtUp
                ? new ModelScheduler(project, {
                    realTimeSources: project.sources.filter(isChangeFeed).map((s) => s.name),
                    intervalMs: interval,
                    firstRunBy: Date.now() + interval,
                    // Gold counts as built once its files are committed; the products' checks run after the builds.
                    run: async (selector, realTime) => {
                      const at = latency.goldRunStarted();
                      await models({
                        selector,
                        onBuilt: (rs) => (realTime ? latency.modelsBuilt(at, rs) : undefined),
                      });
                    },
                    // Replaced files are deleted between model runs, never during one (`lake.gc`).
                    between: {
                      everyMs: durationMs(project.config.lake.gc.every),
                      run: async () => {
                        await collectGarbage(ctx, { graceMs: durationMs(project.config.lake.gc.grace), parent });
                      },
                    },
                    onError: (e) => log.error({ err: e }, 'model run or lake gc failed'),
                  })
                : undefined;
            bus = await createBus(project.config.bus, project.root);
            job = new StreamJob(ctx, {
              bus,
              metrics,
              untilCaughtUp: opts.untilCaughtUp,
              parent,
              onCommit: (c) => {
                if (!scheduler) return;
                latency.onBronzeCommit(c.committedAt, c.eventTimes, c.domain);
                scheduler.committed(c.source);
              },
            });
            await prepareSession(ctx);
            if (opts.port !== undefined) server = await startServer({ host: project.config.server.host, port: opts.port, metrics });
            await job.start();
            if (stopped) void job.stop();
            const names = project.sources.filter(isChangeFeed).map((s) => s.name);
            if (person)
              say(
                `streaming ${names.join(', ')} into bronze${opts.untilCaughtUp ? ' until caught up' : '; Ctrl-C stops after committing what was read'}${server ? ` — metrics ${server.url}/metrics` : ''}`,
              );
            else log.info({ sources: names, url: server?.url }, 'streaming');
            scheduler?.start();
            // Bronze's micro-batch files merged every lake.compaction.every, on an engine of its own (a long stream only).
            if (!opts.untilCaughtUp)
              compaction = startCompaction(ctx, {
                sources: project.sources.filter(isChangeFeed).map((s) => s.dataset),
                parent,
                onError: (e) => log.error({ err: e }, 'lake compaction failed'),
              });
            const running = job;
            const progressTicker = setInterval(() => {
              const n = Object.values(running.stats.committed).reduce((a, b) => a + b, 0);
              progress.update(
                `stream: ${formatCount(n)} changes committed to bronze in ${plural(running.stats.batches, 'batch', 'batches')}`,
              );
            }, 500);
            try {
              await job.wait();
            } finally {
              clearInterval(progressTicker);
              progress.done();
            }
            await scheduler?.stop();
            await compaction?.stop();
            // Stopped by a signal: what was read is committed; the models catch up on the next start.
            const ran = opts.models && !stopped ? await models() : [];
            const failed = ran.filter((m) => m.status === 'failed');
            const committed = Object.values(job.stats.committed).reduce((a, b) => a + b, 0);
            const deadLettered = Object.values(job.stats.deadLettered).reduce((a, b) => a + b, 0);
            const abandoned = Object.values(job.stats.abandoned).reduce((a, b) => a + b, 0);
            const result = {
              committed: job.stats.committed,
              batches: job.stats.batches,
              models: {
                ran: ran.length,
                failed: failed.length,
                failures: failed.map((m) => ({ model: m.model, runId: m.runId, error: m.error })),
              },
              deadLettered: job.stats.deadLettered,
              uncommitted: job.stats.abandoned,
            };
            if (opts.json) printJson(result);
            else {
              print(
                `committed ${formatCount(committed)} changes in ${plural(job.stats.batches, 'batch', 'batches')}${deadLettered > 0 ? `; ${formatCount(deadLettered)} dead-lettered to quarantine` : ''}${abandoned > 0 ? `; ${formatCount(abandoned)} read but not committed (read again next start)` : ''}${opts.models ? `; models: ${ran.length} ran, ${failed.length > 0 ? paint('red', `${failed.length} failed`) : '0 failed'}` : ''}`,
              );
              for (const m of failed) print(`  ${paint('red', 'failed')} ${m.model} (run ${m.runId}): ${m.error ?? 'no reason given'}`);
            }
            if (failed.length > 0) failuresFound();
            return { committed, failed: failedModels(ran) };
          },
          (r) => ({ rowsOut: r.committed, error: r.failed }),
        );
      } finally {
        await scheduler?.stop();
        await compaction?.stop();
        release();
        await job?.close();
        await bus?.close();
        await server?.close();
        await ctx.close();
      }
    });
  examples(cmd, ['finmesh stream', 'finmesh stream --until-caught-up --json', 'finmesh stream --port 9464']);
}
