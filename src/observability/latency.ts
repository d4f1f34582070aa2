import type { Metrics } from './metrics.js';

/** p in [0, 1] of a sample, nearest-rank; undefined for an empty sample. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** A bounded uniform sample (reservoir sampling, algorithm R), so long runs keep constant memory. */
export class Reservoir {
  readonly values: number[] = [];
  private seen = 0;
  constructor(private readonly size = 100_000) {}
  add(v: number): void {
    this.seen++;
    if (this.values.length < this.size) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.size) this.values[j] = v;
    }
  }
}

/** Committed batches awaiting a gold build, at most. */
const MAX_PENDING_BATCHES = 10_000;

interface PendingBatch {
  committedAt: number;
  eventTimes: number[];
  /** The domain of the batch's source: the latency histogram's label. */
  domain: string;
}

/**
 * End-to-end latency of changes: event time → bronze commit, and event time → completion of the first gold run
 * that started after the change was in bronze (so its rows were in the gold it built).
 */
export class LatencyTracker {
  readonly toBronze = new Reservoir();
  readonly toGold = new Reservoir();
  private pending: PendingBatch[] = [];

  constructor(private readonly metrics?: Metrics) {}

  onBronzeCommit(committedAt: number, eventTimes: number[], domain: string): void {
    for (const t of eventTimes) this.toBronze.add(Math.max(0, committedAt - t) / 1000);
    this.pending.push({ committedAt, eventTimes, domain });
    // A stream whose gold never builds must not grow without bound: the oldest batches stop being tracked.
    if (this.pending.length > MAX_PENDING_BATCHES) this.pending.splice(0, this.pending.length - MAX_PENDING_BATCHES);
  }

  /** Call when a model run starts; returns a token for `goldBuilt`. */
  goldRunStarted(): number {
    return Date.now();
  }

  /** Call when the gold models that started at `startedAt` completed successfully. */
  goldBuilt(startedAt: number): void {
    const done = Date.now();
    const included = this.pending.filter((b) => b.committedAt <= startedAt);
    this.pending = this.pending.filter((b) => b.committedAt > startedAt);
    for (const b of included) {
      const histogram = this.metrics?.eventToGold.labels({ domain: b.domain });
      for (const t of b.eventTimes) {
        const s = Math.max(0, done - t) / 1000;
        this.toGold.add(s);
        histogram?.observe(s);
      }
    }
  }

  /**
   * `goldBuilt` for a model run that started at `startedAt`, when every gold model it built succeeded (a run that
   * built no gold, or failed one, brought no change to gold).
   */
  modelsBuilt(startedAt: number, results: { dataset: string; status: string }[]): void {
    const gold = results.filter((r) => r.dataset.includes('_gold.'));
    if (gold.length > 0 && gold.every((r) => r.status === 'succeeded')) this.goldBuilt(startedAt);
  }

  summary(): { toBronze: Percentiles; toGold: Percentiles } {
    return { toBronze: summarize(this.toBronze.values), toGold: summarize(this.toGold.values) };
  }
}

export interface Percentiles {
  samples: number;
  p50: number | null;
  p99: number | null;
}

function summarize(v: number[]): Percentiles {
  const round = (x: number | undefined) => (x === undefined ? null : Math.round(x * 1000) / 1000);
  return { samples: v.length, p50: round(percentile(v, 0.5)), p99: round(percentile(v, 0.99)) };
}
