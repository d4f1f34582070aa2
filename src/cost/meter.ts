import { statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import type { Logger } from 'pino';
import type { Project } from '../config/project.js';
import type { Clock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { setUnscopedUsage, type UsageTally } from '../core/usage.js';
import type { MetadataStore, UsageRow } from '../metadata/metadata-store.js';
import { logTally } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RunUsageSink } from '../runs/runs.js';
import { Attributor, familyComponent } from './attribution.js';

export interface MeterOptions {
  project: Project;
  meta: MetadataStore;
  clock: Clock;
  /** The lake's root folder, to tell which dataset a file the engine read belongs to. */
  lakeRoot: string;
  /** This process's metrics: their series are metered as what a scrape would ingest. */
  metrics?: Metrics | undefined;
  log?: Logger | undefined;
  /**
   * Sample storage, the metadata store, metric series and log lines on each flush (default true). A read-only
   * command leaves storage and series to the processes that run the pipelines.
   */
  sample?: boolean | undefined;
}

/** How often the cost gauges are recomputed from the month's usage. */
const COST_EXPORT_EVERY_MS = 60_000;

/** Usage rows waiting to be written, merged by what the store merges them on. */
type Pending = Map<string, UsageRow>;

/**
 * The process's meter: runs hand it their usage when they end, adapters' usage outside any run lands here too, and
 * every `cost.meterEvery` it samples what exists over time — the lake's live bytes (and the metadata store's) times
 * the time since the last sample, the metric series this process exposes (times the scrapes that time holds at
 * `cost.monitoring.scrapeInterval`), and the log lines written or kept out — then writes everything to the metadata
 * store's `usage`, attributed to domain, product, source and cost centre. Metering never fails the work it measures:
 * a write that fails is reported in the log and its rows dropped.
 *
 * Storage time is the lake's, not the process's: a sample covers the time since the last one any process recorded,
 * split by UTC day, so a lake left alone for a week is charged for that week by the next process that opens it, once.
 */
export class Meter implements RunUsageSink {
  private pending: Pending = new Map();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly attributor: Attributor;
  private readonly startedAt: number;
  private lastSeriesAt: number;
  private closed = false;
  private costExportedAt = 0;
  private readonly sampling: boolean;
  readonly everyMs: number;
  private readonly scrapeMs: number;
  private readonly lakeRoot: string;

  constructor(private readonly o: MeterOptions) {
    this.attributor = new Attributor(o.project);
    this.startedAt = o.clock.now();
    this.lastSeriesAt = this.startedAt;
    this.everyMs = parseDuration(o.project.config.cost.meterEvery);
    this.scrapeMs = parseDuration(o.project.config.cost.monitoring.scrapeInterval);
    this.lakeRoot = o.lakeRoot.endsWith(sep) ? o.lakeRoot : o.lakeRoot + sep;
    this.sampling = o.sample ?? true;
  }

  /** Usage outside any run (a query, a report) is the `platform` component's. */
  readonly unscoped: UsageTally = {
    add: (meter, quantity, attributes) =>
      this.record([
        {
          at: new Date(this.o.clock.now()),
          meter,
          quantity,
          component: 'platform',
          attributes: attributes ? this.fold(meter, attributes) : undefined,
        },
      ]),
  };

  /** Buffers rows, completing their attribution (domain, cost centre) from the project. */
  record(rows: UsageRow[]): void {
    if (this.closed) return;
    for (const r of rows) {
      if (!(r.quantity > 0) || !Number.isFinite(r.quantity)) continue;
      const a = this.attributor.complete(r);
      const row: UsageRow = { ...r, ...a };
      const key = [
        row.at.toISOString().slice(0, 10),
        row.runId ?? '',
        row.meter,
        row.component,
        row.domain ?? '',
        row.product ?? '',
        row.source ?? '',
        row.costCenter ?? '',
        JSON.stringify(row.attributes ?? {}),
      ].join('\u0000');
      const seen = this.pending.get(key);
      if (!seen) this.pending.set(key, row);
      else {
        seen.quantity = row.aggregate === 'max' ? Math.max(seen.quantity, row.quantity) : seen.quantity + row.quantity;
        if (row.at > seen.at) seen.at = row.at;
      }
    }
  }

  /** A file the engine read → the dataset it belongs to (`input`), its zone, and what owns it. */
  fold(_meter: string, attributes: Record<string, string>): Record<string, string> {
    const { path, ...rest } = attributes;
    if (path === undefined) return attributes;
    const rel = path.startsWith(this.lakeRoot) ? relative(this.lakeRoot, path).split(sep) : undefined;
    if (!rel || rel.length < 3) return { ...rest, input: 'outside-the-lake' };
    // Candidate files a quality gate reads before they are committed: the writer's own output.
    if (rel[0]?.startsWith('.') || rel[0]?.startsWith('_')) return { ...rest, input: 'staging' };
    return { ...rest, input: rel.slice(0, 3).join('/') };
  }

  /** Starts sampling and writing every `cost.meterEvery`, and takes the usage outside runs. */
  start(): void {
    setUnscopedUsage(this.unscoped);
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.flush();
    }, this.everyMs);
    this.timer.unref();
  }

  /**
   * Samples (while sampling, or once when `sample` says so), then writes everything pending. Concurrent calls queue
   * behind each other.
   */
  flush(options: { sample?: boolean } = {}): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow(options.sample ?? this.sampling));
    return this.flushing;
  }

  /** Stops sampling and writes what is left. Idempotent. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.closed) return this.flushing;
    await this.flush();
    this.closed = true;
    setUnscopedUsage(undefined);
  }

  private async flushNow(sample: boolean): Promise<void> {
    try {
      if (sample) {
        await this.sampleStorage();
        await this.sampleMetadataStore();
        await this.sampleSeries();
        this.sampleLogs();
      }
      const rows = [...this.pending.values()];
      this.pending = new Map();
      if (rows.length > 0) await this.o.meta.usage.record(rows);
    } catch (e) {
      this.o.log?.warn({ err_message: e instanceof Error ? e.message : String(e) }, 'metered usage not recorded');
    }
    await this.exportCost();
  }

  /** The cost gauges of the served `/metrics` (month to date, forecast, budgets), at most once a minute. */
  private async exportCost(): Promise<void> {
    const now = this.o.clock.now();
    if (!this.o.metrics || now - this.costExportedAt < COST_EXPORT_EVERY_MS) return;
    this.costExportedAt = now;
    try {
      // Pricing reads the price sheet (a YAML parser): loaded only by a process whose /metrics someone scrapes.
      const [{ exportCostMetrics }, { monthPeriod, pricedUsage }] = await Promise.all([import('./budgets.js'), import('./report.js')]);
      const priced = await pricedUsage(this.o.project, this.o.meta.usage, monthPeriod(undefined, new Date(now)));
      exportCostMetrics(this.o.project, priced, this.o.metrics);
    } catch (e) {
      this.o.log?.warn({ err_message: e instanceof Error ? e.message : String(e) }, 'cost metrics not updated');
    }
  }

  /** The lake's live bytes per dataset, times the time since the last storage sample any process recorded. */
  private async sampleStorage(): Promise<void> {
    const now = this.o.clock.now();
    const last = (await this.o.meta.usage.lastAt('storage.byte_seconds'))?.getTime() ?? this.startedAt;
    if (now <= last) return;
    const classes = this.o.project.config.cost.storageClasses;
    for (const d of await this.o.meta.manifest.summaries()) {
      if (d.bytes <= 0) continue;
      const owner = this.attributor.owner(d.dataset);
      const storageClass = classes[owner.zone as keyof typeof classes] ?? 'standard';
      for (const part of splitByDay(last, now)) {
        this.record([
          {
            at: part.at,
            meter: 'storage.byte_seconds',
            quantity: d.bytes * part.seconds,
            component: 'lake',
            domain: owner.domain,
            product: owner.product,
            source: owner.source,
            attributes: { zone: owner.zone, class: storageClass, dataset: d.dataset },
          },
        ]);
      }
    }
    // Even an empty lake moves the mark, so the next sample does not charge this time again.
    this.record([{ at: new Date(now), meter: 'storage.byte_seconds', quantity: Number.MIN_VALUE, component: 'lake' }]);
  }

  /** The metadata store's bytes (SQLite: the file and its write-ahead log), times the time since the last sample. */
  private async sampleMetadataStore(): Promise<void> {
    if (this.o.meta.kind !== 'sqlite' || this.o.meta.location === ':memory:') return;
    const now = this.o.clock.now();
    const last = (await this.o.meta.usage.lastAt('metadata.byte_seconds'))?.getTime() ?? this.startedAt;
    if (now <= last) return;
    let bytes = 0;
    for (const f of [this.o.meta.location, `${this.o.meta.location}-wal`]) {
      try {
        bytes += statSync(f).size;
      } catch {
        // no write-ahead log right now
      }
    }
    for (const part of splitByDay(last, now))
      this.record([
        { at: part.at, meter: 'metadata.byte_seconds', quantity: Math.max(bytes * part.seconds, Number.MIN_VALUE), component: 'metadata' },
      ]);
  }

  /** Series this process exposes per family, and the samples a scrape every `scrapeInterval` takes of them meanwhile. */
  private async sampleSeries(): Promise<void> {
    if (!this.o.metrics) return;
    const now = this.o.clock.now();
    const scrapes = (now - this.lastSeriesAt) / this.scrapeMs;
    this.lastSeriesAt = now;
    const at = new Date(now);
    for (const f of await this.o.metrics.seriesCounts()) {
      const component = familyComponent(f.family);
      for (const [control, series] of Object.entries(f.series)) {
        const outcome = control === 'kept' ? 'kept' : control;
        if (series <= 0) continue;
        const attributes = { family: f.family, outcome };
        this.record([
          { at, meter: 'metric.series', quantity: series, component, attributes, aggregate: 'max' },
          { at, meter: 'metric.samples', quantity: series * scrapes, component, attributes },
        ]);
      }
    }
  }

  private sampleLogs(): void {
    const at = new Date(this.o.clock.now());
    for (const e of logTally.drain()) {
      const base = {
        at,
        component: e.component,
        domain: e.domain,
        product: e.product,
        source: e.source,
        attributes: { severity: e.severity, outcome: e.outcome },
      };
      this.record([
        { ...base, meter: 'log.lines', quantity: e.lines },
        { ...base, meter: 'log.bytes', quantity: e.bytes },
      ]);
    }
  }
}

/** The interval [from, to) cut at UTC midnights: each part's seconds, stamped with a moment inside its day. */
export function splitByDay(from: number, to: number): { at: Date; seconds: number }[] {
  const parts: { at: Date; seconds: number }[] = [];
  let start = from;
  while (start < to) {
    const midnight = Math.floor(start / 86_400_000) * 86_400_000 + 86_400_000;
    const end = Math.min(to, midnight);
    parts.push({ at: new Date(end - 1), seconds: (end - start) / 1000 });
    start = end;
  }
  if (parts.length > 0) (parts.at(-1) as { at: Date }).at = new Date(to);
  return parts;
}
