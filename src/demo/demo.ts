import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Bus } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import { createBus } from '../bus/registry.js';
import { datasetKey, type Project, type Source, sqlName } from '../config/project.js';
import { durationMs } from '../config/schema.js';
import { sleep } from '../core/sleep.js';
import type { Context } from '../jobs/context.js';
import { type IngestReport, ingestFileSource } from '../jobs/ingest.js';
import { ModelScheduler } from '../jobs/scheduler.js';
import { StreamJob } from '../jobs/stream.js';
import { type ModelRunner, modelRunner, type TargetModelResult } from '../jobs/target-models.js';
import { type CompactionTimer, startCompaction } from '../lake/compaction.js';
import { collectGarbage } from '../lake/gc.js';
import { prepareSession } from '../lake/session.js';
import { parentRunEvent } from '../lineage/events.js';
import { LatencyTracker, type Percentiles } from '../observability/latency.js';
import type { ParentRun } from '../runs/runs.js';
import { openAppWriters } from './app-writers.js';
import { FintechSimulator } from './simulator/fintech-simulator.js';
import {
  chargebackReport,
  dropPartnerFiles,
  generatePgpKeys,
  type SettledSale,
  sealForFintech,
  zipOne,
} from './simulator/partner-files.js';
import { simulatorConfig } from './simulator-config.js';

export interface DemoOptions {
  seconds: number;
  /** How often the simulated app commits its changes. */
  appIntervalMs?: number;
  /** How often the models run. */
  modelIntervalMs?: number;
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
  /** Changes committed to bronze per source. */
  events: Record<string, number>;
  eventsPerSecond: number;
  latencySeconds: { toBronze: Percentiles; toGold: Percentiles };
  datasets: { dataset: string; domain: string; zone: string; rows: number; files: number }[];
  zones: Record<string, number>;
  transactions: { generated: number; bronze: number; silver: number; gold: number };
  runs: { total: number; succeeded: number; failed: number; skipped: number };
  failures: { job: string; runId: string; error: string }[];
  /** Per partner source: the demo's ingestion of today's files. */
  partnerFiles?: Record<string, Record<string, number>>;
  /** Where it all is: the target, the lake, and the warehouse the products were built in. */
  where: {
    target: string;
    /** The lake's folder, or `gs://<bucket>/<prefix>`. */
    lake: string;
    /** The embedded DuckDB, or BigQuery and its project (silver and gold are tables there, `<project>.<domain>_<zone>.<name>`). */
    engine: string;
    bus: string;
  };
}

/**
 * The acquirer, simulated: drops its files for the card sales captured so far into the embedded partner SFTP
 * folders — the settlement EDI file and the chargeback report (CSV, zipped, PGP-encrypted and signed) — and, unless
 * told not to, ingests them and runs the products they feed. The late round adds the defects the next
 * `finmesh ingest` finds: a settlement file re-sent under a new name, one cut short, and a chargeback report
 * signed by a key that is not the acquirer's.
 */
async function settlePartnerFiles(
  ctx: Context,
  o: { late: boolean; parent: ParentRun; ingest?: boolean; models: ModelRunner },
): Promise<IngestReport[]> {
  const embedded = (name: string) => {
    const s = ctx.project.sources.find((x) => x.name === name);
    return s?.config.kind === 'sftp' && s.config.embedded
      ? { source: s, config: s.config, embeddedRoot: s.config.embedded.root }
      : undefined;
  };
  const settlements = embedded('acquirer-settlements');
  const chargebacks = embedded('acquirer-chargebacks');
  const sales = capturedCardSales(ctx);
  if (sales.length === 0 || (!settlements && !chargebacks)) return [];
  const today = new Date().toISOString().slice(0, 10);
  const seed = simulatorConfig(ctx.project).seed;
  const folder = (e: { embeddedRoot: string; config: { path: string } }) => resolve(ctx.project.root, e.embeddedRoot, `.${e.config.path}`);
  if (settlements) dropPartnerFiles(folder(settlements), sales, { seed, fileDate: today, sequence: o.late ? 2 : 1, late: o.late });
  if (chargebacks?.config.pgp) {
    const base = `CHARGEBACKS_${today.replaceAll('-', '')}_${o.late ? '002' : '001'}`;
    const { csv } = chargebackReport(sales, { seed: seed + (o.late ? 1 : 0), fileDate: today });
    const fintechPublicKey = readFileSync(resolve(ctx.project.root, '.finmesh/secrets/fintech-pgp.pub'), 'utf8');
    // In the late round the report is signed by a key that is not the acquirer's: it must not load.
    const signingKey = o.late
      ? (await generatePgpKeys('Someone else', 'unknown@example.com')).privateKey
      : readFileSync(resolve(ctx.project.root, '.finmesh/secrets/acquirer-pgp.key'), 'utf8');
    mkdirSync(folder(chargebacks), { recursive: true });
    writeFileSync(
      join(folder(chargebacks), `${base}.zip.pgp`),
      await sealForFintech(await zipOne(`${base}.csv`, csv), { fintechPublicKey, signingKey }),
    );
  }
  if (o.ingest === false) return [];
  const reports: IngestReport[] = [];
  for (const e of [settlements, chargebacks]) {
    if (e) reports.push(await ingestFileSource(ctx, e.source, { parent: o.parent }));
  }
  await o.models({ selector: 'settlements+ chargebacks+', parent: o.parent });
  return reports;
}

/** The card sales the simulated app captured (or refunded), with their merchants: what the acquirer settles. */
function capturedCardSales(ctx: Context): SettledSale[] {
  const outbox = ctx.project.sources.find((s) => s.config.kind === 'sqlite-outbox');
  if (outbox?.config.kind !== 'sqlite-outbox') return [];
  const db = new Database(resolve(ctx.project.root, outbox.config.database), { readonly: true });
  const rows = db
    .prepare(
      `SELECT t.doc AS doc, m.doc AS merchant FROM transactions t LEFT JOIN merchants m ON m.id = json_extract(t.doc, '$.merchant_id')
       WHERE json_extract(t.doc, '$.type') = 'card' AND json_extract(t.doc, '$.status') IN ('captured', 'refunded') ORDER BY t.id`,
    )
    .all() as { doc: string; merchant: string | null }[];
  db.close();
  return rows.map((r) => {
    const d = JSON.parse(r.doc) as {
      created_at: string;
      merchant_id: string | null;
      amount: number;
      card: { nsu: string; auth_code: string; brand: string };
    };
    const m = r.merchant ? (JSON.parse(r.merchant) as { trade_name: string }) : undefined;
    return {
      transactionDate: d.created_at.slice(0, 10),
      merchantId: d.merchant_id ?? '',
      nsu: d.card.nsu,
      authCode: d.card.auth_code,
      brand: d.card.brand,
      amount: d.amount,
      merchantName: m?.trade_name ?? '',
    };
  });
}

/**
 * The demo: the simulated app writes each change and its outbox row in one SQLite transaction; the stream tails the
 * outbox through the in-process bus into bronze micro-batches; the models the transactions feed run as soon as new
 * transactions are committed, the others every few seconds (`ModelScheduler`; silver merges incrementally, gold
 * refreshes by partition). At the end the app stops, the stream catches up and the real-time branch builds the last
 * changes; then the acquirer's files are ingested and every model runs once more.
 */
export async function runDemo(ctx: Context, options: DemoOptions): Promise<DemoSummary> {
  const demoRun = await ctx.runs.start({
    job: 'demo',
    kind: 'demo',
    lineage: {
      start: (r) => parentRunEvent(ctx, 'START', r.id, 'demo'),
      end: (r, o) => parentRunEvent(ctx, o.status === 'failed' ? 'FAIL' : 'COMPLETE', r.id, 'demo', o.error),
    },
  });
  demoRun.enter();
  const runId = demoRun.id;
  const parent = { runId, job: 'demo' };
  const started = demoRun.startedAt.getTime();
  const { project } = ctx;
  const metrics = ctx.metrics;
  const latency = new LatencyTracker(metrics);
  await prepareSession(ctx);
  const sim = new FintechSimulator({ ...simulatorConfig(project), start: new Date(started) });
  const app = await openAppWriters(project);
  const transactionsSource = appTransactionsSource(project)?.name;
  // The in-process bus, unless the target's bus is Pub/Sub (Google's, or its emulator on the emulated target).
  const bus: Bus =
    project.config.bus.kind === 'memory'
      ? new MemoryBus(project.config.bus.capacity, project.config.bus.maxBytes)
      : project.config.bus.kind === 'pubsub'
        ? await createBus(project.config.bus, project.root)
        : new MemoryBus();
  const stream = new StreamJob(ctx, {
    bus,
    metrics,
    parent,
    // Latency is the real-time path's: transactions. Reference data loaded at start carries old event times.
    onCommit: (c) => {
      if (c.source !== transactionsSource) return;
      latency.onBronzeCommit(c.committedAt, c.eventTimes, c.domain);
      scheduler.committed(c.source);
    },
  });
  const results: TargetModelResult[] = [];
  // In the embedded DuckDB, or on a BigQuery target there (bronze loaded by job, then the models and their checks).
  const runner = modelRunner(ctx);
  const models: ModelRunner = async (o) => {
    const rs = await runner(o);
    results.push(...rs);
    return rs;
  };
  // `builds` says whether the run rebuilds the real-time gold (then the latency tracker counts it).
  // Gold is built once its files are committed: the products' checks run after every build of the run, not in it.
  const run = async (selector: string | undefined, builds = selector === undefined) => {
    const at = latency.goldRunStarted();
    await models({ selector, parent, onBuilt: (rs) => (builds ? latency.modelsBuilt(at, rs) : undefined) });
  };
  const runAll = () => run(undefined);
  const appEvery = options.appIntervalMs ?? 200;
  const modelEvery = options.modelIntervalMs ?? 5000;
  const deadline = started + options.seconds * 1000;
  const scheduler = new ModelScheduler(project, {
    realTimeSources: transactionsSource ? [transactionsSource] : [],
    intervalMs: modelEvery,
    // The app writes transactions from the first second: the first run waits for them to reach bronze (on a busy
    // machine that can take longer than an interval; running before would fail the products' volume checks on an
    // empty silver). If none ever arrive, the last run after the drain still builds everything.
    firstRunBy: deadline,
    run,
    // Replaced files are deleted between model runs, never during one (`lake.gc`).
    between: {
      everyMs: durationMs(project.config.lake.gc.every),
      run: async () => {
        await collectGarbage(ctx, { graceMs: durationMs(project.config.lake.gc.grace), parent });
      },
    },
  });
  const committed = () => Object.values(stream.stats.committed).reduce((a, b) => a + b, 0);
  const progress = () =>
    options.onProgress?.({
      elapsedS: Math.round((Date.now() - started) / 1000),
      events: committed(),
      modelRuns: results.length,
      failures: results.filter((r) => r.status === 'failed').length,
    });
  let error: unknown;
  let streamSeconds = 0;
  let partners: IngestReport[] = [];
  let compaction: CompactionTimer | undefined;
  try {
    if (!(await app.hasReferenceData())) await app.apply(sim.referenceData(), 500);
    await stream.start();
    const streamStarted = Date.now();
    let simulatedTo = started;
    scheduler.start();
    // A long demo (--seconds 3600) merges bronze's micro-batch files as `finmesh stream` does.
    compaction = startCompaction(ctx, {
      sources: transactionsSource ? project.sources.filter((s) => s.name === transactionsSource).map((s) => s.dataset) : [],
      parent,
      onError: (e) => ctx.log.error({ err: e }, 'lake compaction failed'),
    });
    while (Date.now() < deadline && !options.signal?.aborted) {
      await sleep(Math.min(appEvery, Math.max(0, deadline - Date.now())), options.signal);
      const now = Date.now();
      await app.apply(sim.advance(now - simulatedTo));
      simulatedTo = now;
      progress();
    }
    await app.apply(sim.advance(Date.now() - simulatedTo));
    // Drain: let the stream commit everything the app wrote, then stop it. The scheduler keeps building the
    // real-time branch meanwhile, and once more for the last commits: every streamed change is in gold before the
    // partner files below are taken (a batch ingestion must not hold up the real-time path).
    const drainBy = Date.now() + 60_000;
    while (!(await stream.caughtUp()) && Date.now() < drainBy) await sleep(50);
    await stream.stop();
    await compaction.stop();
    streamSeconds = (Date.now() - streamStarted) / 1000;
    await scheduler.stop({ flush: true });
    // The acquirer settles what was captured so far: today's file, ingested now over SFTP.
    partners = await settlePartnerFiles(ctx, { late: false, parent, models });
    await runAll();
    // And, after the last ingestion, a re-sent copy under a new name, a transfer cut short and a chargeback report
    // signed by a stranger: the next `finmesh ingest` finds the duplicate and quarantines the other two.
    await settlePartnerFiles(ctx, { late: true, parent, ingest: false, models });
    progress();
  } catch (e) {
    error = e;
  } finally {
    await scheduler.stop().catch(() => undefined);
    await compaction?.stop();
    await stream.close().catch(() => undefined);
    await bus.close();
    await app.close();
  }
  const summary = await summarize(ctx, project, runId, started, stream, sim, latency, streamSeconds);
  for (const p of partners) {
    summary.partnerFiles ??= {};
    summary.partnerFiles[p.source] = { ...p.files, rowsAccepted: p.rows.accepted, rowsRejected: p.rows.rejected };
  }
  const failure = error instanceof Error ? error.message : summary.runs.failed > 0 ? `${summary.runs.failed} runs failed` : undefined;
  await demoRun.end({ status: failure ? 'failed' : 'succeeded', rowsIn: committed(), error: failure });
  if (error) throw error;
  return summary;
}

async function summarize(
  ctx: Context,
  project: Project,
  runId: string,
  started: number,
  stream: StreamJob,
  sim: FintechSimulator,
  latency: LatencyTracker,
  streamSeconds: number,
): Promise<DemoSummary> {
  const datasets = (await ctx.meta.manifest.summaries()).map((d) => {
    const [domain = '', zone = '', name = ''] = d.dataset.split('/');
    return { dataset: `${domain}_${zone}.${name}`, domain, zone, rows: d.rows, files: d.files };
  });
  const engine = project.config.engine;
  // On BigQuery the products are its tables, not lake files: their rows are counted there.
  const wh = engine.kind === 'bigquery' ? await (await import('../jobs/bigquery-build.js')).openWarehouse(ctx) : undefined;
  if (wh) {
    for (const p of project.products) {
      const name = sqlName(p.dataset);
      const [dataset, table] = name.split('.') as [string, string];
      if (!datasets.some((d) => d.dataset === name))
        datasets.push({ dataset: name, domain: p.domain, zone: p.dataset.zone, rows: await wh.rowCount(dataset, table), files: 0 });
    }
  }
  const zones: Record<string, number> = {};
  for (const d of datasets) zones[d.zone] = (zones[d.zone] ?? 0) + d.rows;
  const runs = await ctx.meta.runs.list({ parentRunId: runId, limit: 1_000_000 });
  const count = (s: string) => runs.filter((r) => r.status === s).length;
  const rowsOf = (name: string) => datasets.find((d) => d.dataset === name)?.rows ?? 0;
  const gold = project.products.find((p) => p.name === 'daily_volume_by_method');
  let goldTransactions = 0;
  if (gold && wh) {
    const [dataset, table] = sqlName(gold.dataset).split('.') as [string, string];
    if ((await wh.rowCount(dataset, table)) > 0) {
      const { bigQueryTable } = await import('../jobs/bigquery-models.js');
      const r = await wh.run(`SELECT COALESCE(SUM(transactions), 0) AS n FROM ${bigQueryTable(wh.options.projectId, gold.dataset)}`);
      goldTransactions = Number(r.rows[0]?.n ?? 0);
    }
  } else if (gold && (await ctx.meta.manifest.liveFiles(datasetKey(gold.dataset))).length > 0) {
    const r = await ctx.engine.query(
      `SELECT ${ctx.engine.dialect.cast('coalesce(sum(transactions), 0)', 'BIGINT')} AS n FROM ${sqlName(gold.dataset)}`,
    );
    goldTransactions = Number(r.rows[0]?.n ?? 0);
  }
  const txSource = appTransactionsSource(project);
  const txSilver = project.products.find((p) => p.dataset.zone === 'silver' && p.name === 'transactions');
  const events = stream.stats.committed;
  const total = Object.values(events).reduce((a, b) => a + b, 0);
  return {
    runId,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    events,
    eventsPerSecond: streamSeconds > 0 ? Math.round(total / streamSeconds) : 0,
    latencySeconds: latency.summary(),
    datasets,
    zones,
    transactions: {
      generated: sim.transactionsCreated,
      bronze: txSource ? rowsOf(sqlName(txSource.dataset)) : 0,
      silver: txSilver ? rowsOf(sqlName(txSilver.dataset)) : 0,
      gold: goldTransactions,
    },
    runs: { total: runs.length, succeeded: count('succeeded'), failed: count('failed'), skipped: count('skipped') },
    failures: runs.filter((r) => r.status === 'failed').map((r) => ({ job: r.job, runId: r.runId, error: r.error ?? '' })),
    where: {
      target: project.target,
      lake:
        project.config.lake.kind === 'local'
          ? project.config.lake.path
          : `gs://${project.config.lake.bucket}/${project.config.lake.prefix}`,
      engine: engine.kind === 'bigquery' ? `bigquery project ${engine.projectId}` : 'duckdb (embedded)',
      bus: project.config.bus.kind,
    },
  };
}

/** The change feed carrying the app's transactions: the outbox aggregate, or the PostgreSQL table, `transactions`. */
function appTransactionsSource(project: Project): Source | undefined {
  return project.sources.find(
    (s) =>
      (s.config.kind === 'sqlite-outbox' && s.config.aggregate === 'transactions') ||
      (s.config.kind === 'postgres' && s.config.table.endsWith('.transactions')),
  );
}
