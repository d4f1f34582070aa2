import type { Command } from 'commander';
import type { Bus } from '../../bus/bus.js';
import { createBus } from '../../bus/registry.js';
import { loadProject } from '../../config/load-project.js';
import { durationMs } from '../../config/schema.js';
import { FinmeshError } from '../../core/errors.js';
import { openContext } from '../../jobs/context.js';
import { ModelScheduler } from '../../jobs/scheduler.js';
import { StreamJob } from '../../jobs/stream.js';
import { runModels } from '../../jobs/transform.js';
import { collectGarbage } from '../../lake/gc.js';
import { prepareSession } from '../../lake/session.js';
import { parentRunEvent } from '../../lineage/events.js';
import { LatencyTracker } from '../../observability/latency.js';
import { componentLogger } from '../../observability/logger.js';
import { Metrics } from '../../observability/metrics.js';
import { type StartedServer, startServer } from '../../server/server.js';
import { isChangeFeed } from '../../sources/changefeed/registry.js';
import { formatCount, Progress, printJson, say } from '../output.js';
import { integer } from './generate.js';

interface StreamCliOptions {
  project: string;
  untilCaughtUp?: boolean;
  models: boolean;
  port?: number;
  json?: boolean;
}

export function registerStream(program: Command): void {
  program
    .command('stream')
    .description('stream every change-feed source into bronze (micro-batches, effectively once) and keep the models fresh')
    .option('--project <dir>', 'project folder', '.')
    .option('--until-caught-up', 'exit once everything the sources held at start is committed (and the models ran)')
    .option('--no-models', 'only ingest; do not run the models')
    .option('--port <n>', 'serve /healthz and /metrics on this port while streaming', integer)
    .option('--json', 'print the final counts as JSON')
    .action(async (opts: StreamCliOptions) => {
      const project = loadProject(opts.project);
      if (!project.sources.some(isChangeFeed)) {
        throw new FinmeshError('CONFIG_INVALID', 'the project has no change-feed source (kind sqlite-outbox, postgres or cosmos)');
      }
      const log = componentLogger(project.config.logging, 'stream');
      const metrics = new Metrics();
      const ctx = await openContext(project, { secrets: true, metrics });
      let bus: Bus | undefined;
      let job: StreamJob | undefined;
      let scheduler: ModelScheduler | undefined;
      let server: StartedServer | undefined;
      const progress = new Progress();
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        log.info('stopping: committing what was read');
        void job?.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
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
            const models = (o: Parameters<typeof runModels>[1] = {}) => runModels(ctx, { ...o, parent });
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
                    run: async (selector, realTime) => {
                      const at = latency.goldRunStarted();
                      const rs = await models({ selector });
                      const gold = rs.filter((r) => r.dataset.includes('_gold.'));
                      if (realTime && gold.length > 0 && gold.every((r) => r.status === 'succeeded')) latency.goldBuilt(at);
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
            log.info({ sources: project.sources.filter(isChangeFeed).map((s) => s.name), url: server?.url }, 'streaming');
            scheduler?.start();
            const running = job;
            const progressTicker = setInterval(() => {
              const n = Object.values(running.stats.committed).reduce((a, b) => a + b, 0);
              progress.update(`${formatCount(n)} changes committed to bronze in ${running.stats.batches} batches`);
            }, 500);
            try {
              await job.wait();
            } finally {
              clearInterval(progressTicker);
              progress.done();
            }
            await scheduler?.stop();
            const ran = opts.models ? await models() : [];
            const failed = ran.filter((m) => m.status === 'failed');
            const committed = Object.values(job.stats.committed).reduce((a, b) => a + b, 0);
            const result = {
              committed: job.stats.committed,
              batches: job.stats.batches,
              models: { ran: ran.length, failed: failed.length },
            };
            if (opts.json) printJson(result);
            else
              say(
                `committed ${formatCount(committed)} changes in ${job.stats.batches} batches${opts.models ? `; models: ${ran.length} ran, ${failed.length} failed` : ''}`,
              );
            if (failed.length > 0) process.exitCode = 1;
            return { committed, failed: failed.length };
          },
          (r) => ({ rowsOut: r.committed, error: r.failed > 0 ? `${r.failed} model runs failed` : undefined }),
        );
      } finally {
        await scheduler?.stop();
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await job?.close();
        await bus?.close();
        await server?.close();
        await ctx.close();
      }
    });
}
