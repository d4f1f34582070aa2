import { datasetKey, type Project, sqlName } from '../config/project.js';
import { uuidv7 } from '../core/ids.js';
import type { Metrics } from '../observability/metrics.js';
import { FintechSimulator } from '../simulator/fintech-simulator.js';
import type { Context } from './context.js';
import { prepareSession } from './lake-session.js';
import { SimulatorFeed } from './simulator-feed.js';
import { type ModelRunResult, runModels } from './transform.js';

export interface DemoOptions {
  seconds: number;
  /** How often the simulated app commits a batch to bronze. */
  batchIntervalMs?: number;
  /** How often the models run. */
  modelIntervalMs?: number;
  metrics: Metrics;
  onProgress?: (p: DemoProgress) => void;
  signal?: AbortSignal;
}

export interface DemoProgress {
  elapsedS: number;
  events: number;
  modelRuns: number;
  failures: number;
}

export interface DemoSummary {
  runId: string;
  seconds: number;
  events: Record<string, number>;
  datasets: { dataset: string; domain: string; zone: string; rows: number; files: number }[];
  zones: Record<string, number>;
  transactions: { bronze: number; silver: number; gold: number };
  runs: { total: number; succeeded: number; failed: number; skipped: number };
  failures: { job: string; runId: string; error: string }[];
}

/**
 * The demo's main loop: the simulated app commits a micro-batch to bronze every second, the models run every few
 * seconds (silver merges incrementally, gold rebuilds), until the time is up; then a last batch and model run.
 */
export async function runDemo(ctx: Context, options: DemoOptions): Promise<DemoSummary> {
  const runId = uuidv7();
  const started = Date.now();
  ctx.meta.startRun({ runId, job: 'demo', kind: 'demo', startedAt: new Date(started) });
  const { project, meta } = ctx;
  const metrics = options.metrics;
  await prepareSession(ctx);
  const sim = new FintechSimulator({ ...project.config.simulator, start: new Date(started) });
  const feed = new SimulatorFeed(ctx, sim, { parentRunId: runId, metrics });
  const results: ModelRunResult[] = [];
  const record = (r: ModelRunResult) => {
    results.push(r);
    const product = project.products.find((p) => p.name === r.model);
    const labels = { domain: product?.domain ?? '', product: r.model };
    metrics.modelRuns.inc({ ...labels, outcome: r.status });
    metrics.modelDuration.observe(labels, r.durationMs / 1000);
    metrics.modelRowsOut.inc(labels, r.rowsOut);
    if (r.status === 'succeeded' && product) metrics.lastSuccess.set({ ...labels, zone: product.dataset.zone }, Date.now() / 1000);
  };
  const batchEvery = options.batchIntervalMs ?? 1000;
  const modelEvery = options.modelIntervalMs ?? 5000;
  const deadline = started + options.seconds * 1000;
  const progress = () =>
    options.onProgress?.({
      elapsedS: Math.round((Date.now() - started) / 1000),
      events: Object.values(feed.stats.events).reduce((a, b) => a + b, 0),
      modelRuns: results.length,
      failures: results.filter((r) => r.status === 'failed').length,
    });
  let error: unknown;
  try {
    await feed.seedReferenceData();
    let simulatedTo = started;
    let nextModels = started + Math.min(modelEvery, options.seconds * 500);
    while (Date.now() < deadline && !options.signal?.aborted) {
      await sleep(Math.min(batchEvery, Math.max(0, deadline - Date.now())), options.signal);
      const now = Date.now();
      await feed.step(now - simulatedTo);
      simulatedTo = now;
      if (now >= nextModels) {
        await runModels(ctx, { parentRunId: runId, onModel: record });
        nextModels = Date.now() + modelEvery;
      }
      updateDatasetGauges(ctx, metrics);
      progress();
    }
    await feed.step(Date.now() - simulatedTo);
    await runModels(ctx, { parentRunId: runId, onModel: record });
    updateDatasetGauges(ctx, metrics);
    progress();
  } catch (e) {
    error = e;
  }
  const summary = await summarize(ctx, project, runId, started, feed);
  meta.finishRun(runId, {
    status: error || summary.runs.failed > 0 ? 'failed' : 'succeeded',
    endedAt: new Date(),
    rowsIn: Object.values(feed.stats.events).reduce((a, b) => a + b, 0),
    error: error instanceof Error ? error.message : summary.runs.failed > 0 ? `${summary.runs.failed} runs failed` : undefined,
  });
  if (error) throw error;
  return summary;
}

function updateDatasetGauges(ctx: Context, metrics: Metrics): void {
  for (const d of ctx.meta.datasetSummaries()) {
    const [domain, zone, product] = d.dataset.split('/');
    if (domain && zone && product) metrics.datasetRows.set({ domain, zone, product }, d.rows);
  }
}

async function summarize(ctx: Context, project: Project, runId: string, started: number, feed: SimulatorFeed): Promise<DemoSummary> {
  const datasets = ctx.meta.datasetSummaries().map((d) => {
    const [domain = '', zone = '', name = ''] = d.dataset.split('/');
    return { dataset: `${domain}_${zone}.${name}`, domain, zone, rows: d.rows, files: d.files };
  });
  const zones: Record<string, number> = {};
  for (const d of datasets) zones[d.zone] = (zones[d.zone] ?? 0) + d.rows;
  const runs = ctx.meta.listRuns({ parentRunId: runId, limit: 100_000 });
  const count = (s: string) => runs.filter((r) => r.status === s).length;
  const rowsOf = (name: string) => datasets.find((d) => d.dataset === name)?.rows ?? 0;
  const gold = project.products.find((p) => p.name === 'daily_volume_by_method');
  let goldTransactions = 0;
  if (gold && ctx.meta.liveFiles(datasetKey(gold.dataset)).length > 0) {
    const r = await ctx.engine.query(`SELECT coalesce(sum(transactions), 0)::BIGINT AS n FROM ${sqlName(gold.dataset)}`);
    goldTransactions = Number(r.rows[0]?.n ?? 0);
  }
  const txSource = project.sources.find((s) => s.config.kind === 'simulator' && s.config.entity === 'transactions');
  const txSilver = project.products.find((p) => p.dataset.zone === 'silver' && p.name === 'transactions');
  return {
    runId,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    events: feed.stats.events,
    datasets,
    zones,
    transactions: {
      bronze: txSource ? rowsOf(sqlName(txSource.dataset)) : 0,
      silver: txSilver ? rowsOf(sqlName(txSilver.dataset)) : 0,
      gold: goldTransactions,
    },
    runs: { total: runs.length, succeeded: count('succeeded'), failed: count('failed'), skipped: count('skipped') },
    failures: runs.filter((r) => r.status === 'failed').map((r) => ({ job: r.job, runId: r.runId, error: r.error ?? '' })),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
