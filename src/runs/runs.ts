import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../core/clock.js';
import { formatDuration } from '../core/duration.js';
import { uuidv7 } from '../core/ids.js';
import { enterUsage, type UsageTally, withUsage } from '../core/usage.js';
import type { RunEvent } from '../lineage/openlineage.js';
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_RUN_EXPIRY_MS,
  type MetadataStore,
  type RunEnd,
  type RunRecord,
  type UsageRow,
  type WarehouseJobRecord,
} from '../metadata/metadata-store.js';
import type { Metrics } from '../observability/metrics.js';
import { RunLogTail, teeLogger } from './run-log.js';

export const RUN_KINDS = ['model', 'ingest', 'stream', 'check', 'demo', 'run', 'gc', 'compact'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** The part of finmesh a kind of run belongs to: its log lines' `component`, and what its metered usage is charged to. */
export const RUN_COMPONENTS: Record<RunKind, string> = {
  model: 'transform',
  check: 'check',
  ingest: 'ingest',
  stream: 'stream',
  gc: 'lake',
  compact: 'lake',
  demo: 'demo',
  run: 'run',
};

/** A run another run belongs to: `job` is its lineage job name, for the OpenLineage parent facet. */
export interface ParentRun {
  runId: string;
  job: string;
}

/** How a run ended. */
export interface RunOutcome {
  status: 'succeeded' | 'failed' | 'skipped';
  error?: string | undefined;
  rowsIn?: number | undefined;
  rowsOut?: number | undefined;
  rowsRejected?: number | undefined;
  /** The warehouse (BigQuery) jobs the run ran, kept with it: job id, bytes processed and billed, slot time. */
  warehouseJobs?: WarehouseJobRecord[] | undefined;
}

/**
 * A run's OpenLineage events, built by the job that knows its inputs and outputs. The lifecycle emits them: START
 * when the run starts, COMPLETE or FAIL when it ends. A builder that throws never fails the run.
 */
export interface RunLineage {
  start?(run: Run): RunEvent | undefined;
  end?(run: Run, outcome: RunOutcome): RunEvent | RunEvent[] | undefined | Promise<RunEvent | RunEvent[] | undefined>;
}

export interface RunSpec {
  /** The job as every store names it (`jobName`): `model:payments.transactions`, `ingest:acquirer-settlements`, `stream`. */
  job: string;
  kind: RunKind;
  parent?: ParentRun | undefined;
  /** Bindings for the run's log lines (`domain`, `source`, `product`…), besides `run_id` and `job`. */
  labels?: Record<string, string> | undefined;
  lineage?: RunLineage | undefined;
  startedAt?: Date | undefined;
}

/** Where emitted lineage goes (the `Lineage` fan-out: metadata store and transports). */
export interface LineageSink {
  emit(event: RunEvent): void;
}

/**
 * Where a run's metered usage goes when it ends (the cost plane's meter): wall and CPU seconds, rows, lineage events,
 * and what the job and the adapters it used measured while the run was the current usage scope.
 */
export interface RunUsageSink {
  record(rows: UsageRow[]): void;
  /** Folds adapter attributes into bounded ones (a file path read → the dataset it belongs to). */
  fold?(meter: string, attributes: Record<string, string>): Record<string, string>;
}

export interface RunsOptions {
  meta: MetadataStore;
  lineage: LineageSink;
  logger: Logger;
  /** The registry runs are counted in, or a function that makes it when the first run ends. */
  metrics?: Metrics | (() => Metrics) | undefined;
  /** A run's logger by its component (`RUN_COMPONENTS`), so level and sampling are set per component; else `logger`. */
  loggerFor?: ((component: string) => Logger) | undefined;
  usage?: RunUsageSink | undefined;
  clock?: Clock | undefined;
  /** How often running runs are proven alive (default `DEFAULT_HEARTBEAT_MS`). */
  heartbeatMs?: number | undefined;
  /** A running run without a heartbeat for this long belongs to a dead process (default `DEFAULT_RUN_EXPIRY_MS`). */
  expiryMs?: number | undefined;
}

/**
 * The one owner of the run lifecycle: every job (ingest cycle, stream batch, model, check, demo, gc) starts, ends
 * and fails through it, so each run is recorded, heartbeated, in lineage (START, then COMPLETE or FAIL), in the
 * metrics and in the logs with its `run_id` — the same way everywhere.
 *
 * Invariants: a run is finished exactly once; a run whose process died (no heartbeat for `expiryMs`) is failed by
 * the next process that looks (`expireDead`, called when a project is opened and on every heartbeat).
 */
export class Runs {
  readonly clock: Clock;
  private readonly running = new Map<string, Run>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private readonly heartbeatMs: number;
  private readonly expiryMs: number;
  private readonly cpu = new CpuLedger();

  constructor(private readonly o: RunsOptions) {
    this.clock = o.clock ?? systemClock;
    this.heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.expiryMs = o.expiryMs ?? DEFAULT_RUN_EXPIRY_MS;
  }

  /** Records the start of a run (and its START event) and keeps it heartbeating until it ends. */
  async start(spec: RunSpec): Promise<Run> {
    const startedAt = spec.startedAt ?? new Date(this.clock.now());
    const logger = this.o.loggerFor?.(RUN_COMPONENTS[spec.kind]) ?? this.o.logger;
    const usage = this.o.usage;
    const fold = usage?.fold
      ? (meter: string, attributes: Record<string, string>) => usage.fold?.(meter, attributes) ?? attributes
      : undefined;
    const run = new Run(this, spec, uuidv7(startedAt.getTime()), startedAt, logger, new RunLogTail(() => this.clock.now()), fold);
    await this.o.meta.runs.start({ runId: run.id, job: spec.job, kind: spec.kind, parentRunId: spec.parent?.runId, startedAt });
    this.running.set(run.id, run);
    this.cpu.start(run);
    this.ensureTimer();
    this.emit(() => spec.lineage?.start?.(run), run);
    return run;
  }

  /**
   * Runs `fn` as a run: succeeded with what `outcome` derives from its result (or failed when `outcome` says so),
   * failed with the error's message when it throws (and the error rethrown).
   */
  async track<T>(spec: RunSpec, fn: (run: Run) => Promise<T>, outcome?: (result: T) => Partial<RunOutcome>): Promise<T> {
    const run = await this.start(spec);
    let result: T;
    try {
      result = await run.measure(() => fn(run));
    } catch (e) {
      if (!run.ended) await run.fail(e);
      throw e;
    }
    if (!run.ended) {
      const o = outcome?.(result) ?? {};
      await run.end({ status: o.error && o.status !== 'skipped' ? 'failed' : (o.status ?? 'succeeded'), ...o });
    }
    return result;
  }

  /** Fails the runs of processes that stopped heartbeating; returns them. */
  async expireDead(): Promise<RunRecord[]> {
    const now = this.clock.now();
    const dead = await this.o.meta.runs.expire(new Date(now - this.expiryMs), new Date(now));
    for (const r of dead)
      this.o.logger.warn({ run_id: r.runId, job: r.job }, `run ${r.runId} of ${r.job} marked failed: ${r.error ?? 'no heartbeat'}`);
    return dead;
  }

  /** Stops heartbeating. Runs still running stay `running` until they end or another process expires them. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
  }

  /** @internal Called by `Run.end`. */
  async finish(run: Run, outcome: RunOutcome): Promise<void> {
    const endedAt = new Date(this.clock.now());
    const seconds = (endedAt.getTime() - run.startedAt.getTime()) / 1000;
    // The run's last line is logged before the run is stored, so its stored log ends with it.
    const rejected = outcome.rowsRejected ?? 0;
    const line = {
      outcome: outcome.status,
      duration_s: seconds,
      rows_in: outcome.rowsIn,
      rows_out: outcome.rowsOut,
      ...(rejected > 0 ? { rows_rejected: rejected } : {}),
    };
    if (outcome.status === 'failed') run.log.error({ ...line, err_message: outcome.error }, `${run.job} failed: ${outcome.error ?? ''}`);
    // Rows sent to quarantine are worth a line at the default level: the log-based metric finmesh/quarantined_rows
    // (src/iac/monitoring.ts) counts them from it.
    else if (rejected > 0)
      run.log.warn(
        line,
        `${run.job} ${outcome.status} in ${formatDuration(seconds * 1000)}; ${rejected} ${rejected === 1 ? 'row' : 'rows'} quarantined`,
      );
    else run.log.debug(line, `${run.job} ${outcome.status} in ${formatDuration(seconds * 1000)}`);
    const end: RunEnd = {
      status: outcome.status,
      endedAt,
      rowsIn: outcome.rowsIn,
      rowsOut: outcome.rowsOut,
      rowsRejected: outcome.rowsRejected,
      error: outcome.error,
      logs: run.logTail.lines(),
      warehouseJobs: outcome.warehouseJobs,
    };
    this.running.delete(run.id);
    const cpuSeconds = this.cpu.end(run);
    try {
      await this.o.meta.runs.finish(run.id, end);
    } finally {
      const metrics = typeof this.o.metrics === 'function' ? this.o.metrics() : this.o.metrics;
      metrics?.jobRuns.inc({ kind: run.kind, outcome: outcome.status });
      metrics?.jobDuration.observe({ kind: run.kind }, seconds);
      if (run.spec.lineage?.end) {
        try {
          const events = await run.spec.lineage.end(run, outcome);
          for (const e of Array.isArray(events) ? events : events ? [events] : []) this.emitted(e, run);
        } catch (e) {
          run.log.warn({ err_message: (e as Error).message }, 'lineage of the run could not be built');
        }
      }
      this.recordUsage(run, outcome, endedAt, seconds, cpuSeconds);
    }
  }

  private emit(build: () => RunEvent | undefined, run: Run): void {
    try {
      const e = build();
      if (e) this.emitted(e, run);
    } catch (e) {
      this.o.logger.warn({ err_message: (e as Error).message }, 'lineage of the run could not be built');
    }
  }

  private emitted(e: RunEvent, run: Run): void {
    this.o.lineage.emit(e);
    if (!this.o.usage) return;
    run.meter('lineage.events', 1);
    run.meter('lineage.bytes', Buffer.byteLength(JSON.stringify(e)));
  }

  /** The run's usage, attributed by its labels (`domain`, `product`, `source`) to its component. */
  private recordUsage(run: Run, outcome: RunOutcome, at: Date, wallSeconds: number, cpuSeconds: number): void {
    if (!this.o.usage) return;
    const labels = run.spec.labels ?? {};
    const base = {
      at,
      runId: run.id,
      component: RUN_COMPONENTS[run.kind],
      domain: labels.domain,
      product: labels.product,
      source: labels.source,
    };
    const rows: UsageRow[] = [
      { ...base, meter: 'compute.wall_seconds', quantity: wallSeconds },
      { ...base, meter: 'compute.cpu_seconds', quantity: cpuSeconds },
    ];
    if (outcome.rowsIn) rows.push({ ...base, meter: 'rows.in', quantity: outcome.rowsIn });
    if (outcome.rowsOut) rows.push({ ...base, meter: 'rows.out', quantity: outcome.rowsOut });
    if (outcome.rowsRejected) rows.push({ ...base, meter: 'rows.rejected', quantity: outcome.rowsRejected });
    for (const m of run.measured()) rows.push({ ...base, meter: m.meter, quantity: m.quantity, attributes: m.attributes });
    try {
      this.o.usage.record(rows.filter((r) => r.quantity > 0));
    } catch (e) {
      run.log.warn({ err_message: (e as Error).message }, 'usage of the run not recorded');
    }
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.beating = this.beat();
    }, this.heartbeatMs);
    // Heartbeats never keep a finished command alive.
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.o.meta.runs.heartbeat([...this.running.keys()], new Date(this.clock.now()));
      await this.expireDead();
    } catch (e) {
      this.o.logger.warn({ err_message: (e as Error).message }, 'heartbeat not recorded');
    }
  }
}

/** A started run: its id ties its log lines, metrics, lineage, results and metered usage together. */
export class Run {
  readonly log: Logger;
  private done = false;
  /** Usage measured while the run is the current scope, by meter and attributes. */
  private readonly usage = new Map<string, { meter: string; quantity: number; attributes: Record<string, string> | undefined }>();
  private readonly tally: UsageTally = { add: (meter, quantity, attributes) => this.meter(meter, quantity, attributes) };
  /** @internal CPU seconds the run's share of the process came to, and whether runs of its own are running. */
  cpuSeconds = 0;
  activeChildren = 0;

  constructor(
    private readonly owner: Runs,
    readonly spec: RunSpec,
    readonly id: string,
    readonly startedAt: Date,
    logger: Logger,
    /** @internal The lines of its log kept with the run when it ends (info and above, bounded, redacted). */
    readonly logTail: RunLogTail,
    private readonly fold?: ((meter: string, attributes: Record<string, string>) => Record<string, string>) | undefined,
  ) {
    this.log = teeLogger(logger.child({ run_id: id, job: spec.job, ...(spec.labels ?? {}) }), logTail);
  }

  /** Adds what the job measured (`sftp.bytes`, `bus.messages`, …) to the run's usage. Never throws. */
  meter(meter: string, quantity: number, attributes?: Record<string, string>): void {
    if (!(quantity > 0) || !Number.isFinite(quantity)) return;
    const attrs = attributes && this.fold ? this.fold(meter, attributes) : attributes;
    const key = `${meter}\u0000${attrs ? JSON.stringify(attrs) : ''}`;
    const m = this.usage.get(key);
    if (m) m.quantity += quantity;
    else this.usage.set(key, { meter, quantity, attributes: attrs });
  }

  /** What was measured so far. */
  measured(): { meter: string; quantity: number; attributes: Record<string, string> | undefined }[] {
    return [...this.usage.values()];
  }

  /** Runs `fn` with this run as the usage scope: what adapters measure inside it (bytes scanned, objects written) is the run's. */
  measure<T>(fn: () => T): T {
    return withUsage(this.tally, fn);
  }

  /**
   * Makes this run the usage scope for the rest of the calling async function. Call it right after the `await` that
   * started the run; a nested run entered later takes over until its own function returns.
   */
  enter(): void {
    enterUsage(this.tally);
  }

  get job(): string {
    return this.spec.job;
  }
  get kind(): RunKind {
    return this.spec.kind;
  }
  get parent(): ParentRun | undefined {
    return this.spec.parent;
  }
  get ended(): boolean {
    return this.done;
  }

  /** Ends the run once; a second end is ignored. */
  async end(outcome: RunOutcome): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.owner.finish(this, outcome);
  }

  succeed(counts: Omit<RunOutcome, 'status' | 'error'> = {}): Promise<void> {
    return this.end({ status: 'succeeded', ...counts });
  }

  fail(error: unknown, counts: Omit<RunOutcome, 'status' | 'error'> = {}): Promise<void> {
    return this.end({ status: 'failed', error: error instanceof Error ? error.message : String(error), ...counts });
  }

  skip(reason: string): Promise<void> {
    return this.end({ status: 'skipped', error: reason });
  }
}

/** `host pid` of this process, for messages about who holds what. */
export function processName(): string {
  return `${hostname()} ${process.pid}`;
}

/**
 * The process's CPU time, shared among the runs that were running while it was spent: at every start and end, the
 * CPU used since the previous one is split evenly between the running runs that have no running runs of their own
 * (a model run, not the `finmesh run` around it), or, when there are none, the ones that do. The shares add up to the
 * process's CPU time while runs ran, so nothing is counted twice when runs overlap.
 */
class CpuLedger {
  private last = process.cpuUsage();
  private readonly active = new Set<Run>();

  start(run: Run): void {
    this.settle();
    this.active.add(run);
    const parent = run.parent ? [...this.active].find((r) => r.id === run.parent?.runId) : undefined;
    if (parent) parent.activeChildren++;
  }

  /** Ends the run's share and returns its CPU seconds. */
  end(run: Run): number {
    if (!this.active.has(run)) return run.cpuSeconds;
    this.settle();
    this.active.delete(run);
    const parent = run.parent ? [...this.active].find((r) => r.id === run.parent?.runId) : undefined;
    if (parent) parent.activeChildren = Math.max(0, parent.activeChildren - 1);
    return run.cpuSeconds;
  }

  private settle(): void {
    const now = process.cpuUsage();
    const seconds = (now.user - this.last.user + now.system - this.last.system) / 1e6;
    this.last = now;
    if (this.active.size === 0 || !(seconds > 0)) return;
    let leaves = [...this.active].filter((r) => r.activeChildren === 0);
    if (leaves.length === 0) leaves = [...this.active];
    for (const r of leaves) r.cpuSeconds += seconds / leaves.length;
  }
}
