import type { Bus, Delivery } from '../bus/bus.js';
import type { Source } from '../config/project.js';
import { uuidv7 } from '../core/ids.js';
import { sleep } from '../core/sleep.js';
import type { Metrics } from '../observability/metrics.js';
import type { ChangeFeedSource, ChangeRecord } from '../sources/changefeed/change-feed-source.js';
import { createChangeFeedSource, isChangeFeed } from '../sources/changefeed/registry.js';
import { type BronzeBatch, commitBronzeBatch, type StagedBatch, stageBronzeBatch } from './bronze-writer.js';
import type { Context } from './context.js';
import { streamBatchEvents } from './lineage-events.js';

/** Records per change-feed read. */
const PAGE_SIZE = 5000;
/** Largest bus message the stream publishes. */
const MAX_MESSAGE_BYTES = 512 * 1024;

/** Joins lines into newline-separated strings of at most `max` bytes (a single longer line stands alone). */
function chunk(lines: string[], max: number): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let size = 0;
  for (const l of lines) {
    const n = Buffer.byteLength(l) + 1;
    if (cur.length > 0 && size + n > max) {
      out.push(cur.join('\n'));
      cur = [];
      size = 0;
    }
    cur.push(l);
    size += n;
  }
  if (cur.length > 0) out.push(cur.join('\n'));
  return out;
}

export interface StreamOptions {
  bus: Bus;
  metrics?: Metrics | undefined;
  /** Exit once everything each source held at start is committed. */
  untilCaughtUp?: boolean;
  parentRunId?: string | undefined;
  /** Called after every committed batch, e.g. to track latency to gold. */
  onCommit?: (c: CommittedBatch) => void;
}

export interface CommittedBatch {
  source: string;
  records: number;
  committedAt: number;
  /** Event times (epoch ms) of the batch's records. */
  eventTimes: number[];
}

export interface StreamStats {
  /** Records committed to bronze, per source. */
  committed: Record<string, number>;
  batches: number;
}

/**
 * A running stream: per change-feed source, a reader that pages the feed onto the bus and a lake writer that
 * closes micro-batches by size or time, commits them to bronze together with the source checkpoint, and only
 * then acks the bus and tells the source. Memory is bounded by the bus's in-flight limit.
 */
export class StreamJob {
  readonly stats: StreamStats = { committed: {}, batches: 0 };
  private readonly lanes: Lane[] = [];
  private stopping = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly options: StreamOptions,
  ) {}

  /** Starts every change-feed source of the project; resolves once they are open. */
  async start(): Promise<void> {
    const sources = this.ctx.project.sources.filter(isChangeFeed);
    for (const source of sources) {
      const feed = await createChangeFeedSource(source, this.ctx.project);
      await feed.open(this.ctx.meta.getCheckpoint(`source:${source.name}`));
      const target = this.options.untilCaughtUp ? await feed.head() : undefined;
      this.lanes.push(new Lane(this.ctx, source, feed, this.options, this.stats, target));
    }
    this.done = Promise.all(this.lanes.map((l) => l.run())).then(() => undefined);
  }

  /** Resolves when every lane stopped: caught up (with `untilCaughtUp`) or after `stop()`. */
  async wait(): Promise<void> {
    await this.done;
  }

  /** Stops reading, commits what was read, and resolves when everything read is committed. */
  async stop(): Promise<void> {
    if (this.stopping) return this.wait();
    this.stopping = true;
    for (const l of this.lanes) l.stop();
    await this.wait();
  }

  /** True when every source's committed checkpoint has reached the feed's head as of now. */
  async caughtUp(): Promise<boolean> {
    for (const l of this.lanes) if (!(await l.caughtUp())) return false;
    return true;
  }

  async close(): Promise<void> {
    await this.stop();
    for (const l of this.lanes) await l.feed.close();
  }
}

class Lane {
  private stopped = false;
  private published = 0;
  private committed = 0;
  private readerDone = false;
  private buffer: ChangeRecord[] = [];
  private deliveries: Delivery[] = [];
  private firstBufferedAt = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly topic: string;
  private readonly config: Context['project']['config']['stream'];

  constructor(
    private readonly ctx: Context,
    private readonly source: Source,
    readonly feed: ChangeFeedSource,
    private readonly options: StreamOptions,
    private readonly stats: StreamStats,
    private readonly target: string | undefined,
  ) {
    this.topic = `changes.${source.name}`;
    this.config = ctx.project.config.stream;
  }

  stop(): void {
    this.stopped = true;
  }

  async caughtUp(): Promise<boolean> {
    return this.feed.reached(this.ctx.meta.getCheckpoint(this.checkpointKey), await this.feed.head());
  }

  private get busLabels() {
    return { bus: this.options.bus.kind, source: this.source.name };
  }

  private get checkpointKey(): string {
    return `source:${this.source.name}`;
  }

  async run(): Promise<void> {
    const sub = this.options.bus.subscribe(this.topic, 'lake-writer', {
      maxInFlight: this.config.batchMaxRecords * 2,
      ackWaitMs: 10 * 60_000,
    });
    const writer = this.write(sub);
    const ticker = setInterval(
      () => {
        if (this.buffer.length > 0 && Date.now() - this.firstBufferedAt >= this.config.batchMaxMs) void this.flush();
      },
      Math.max(10, Math.floor(this.config.batchMaxMs / 4)),
    );
    try {
      await this.read();
      // Everything read must be committed before the lane ends.
      while (this.committed < this.published) {
        await this.flush();
        if (this.committed < this.published) await sleep(20);
      }
    } finally {
      clearInterval(ticker);
      await sub.close();
      await writer.catch(() => undefined);
    }
  }

  private async read(): Promise<void> {
    const { meta } = this.ctx;
    let cursor = meta.getCheckpoint(this.checkpointKey);
    const labels = { domain: this.source.domain, source: this.source.name };
    let lastLagCheck = 0;
    while (!this.stopped) {
      if (this.target !== undefined && this.feed.reached(cursor, this.target)) break;
      const page = await this.feed.read(cursor, PAGE_SIZE);
      if (page.records.length === 0) {
        // With no head to aim at (Cosmos DB), an idle page means caught up.
        if (this.options.untilCaughtUp && this.target === undefined) break;
        if (page.checkpoint !== undefined && page.checkpoint !== cursor) {
          // The source moved past changes that were not ours (PostgreSQL WAL of other tables): once everything read
          // is committed, the position itself may be committed, so the slot can release that WAL.
          cursor = page.checkpoint;
          if (this.committed === this.published && !this.feed.reached(meta.getCheckpoint(this.checkpointKey), cursor)) {
            meta.setCheckpoint(this.checkpointKey, cursor);
            await this.feed.acknowledge(cursor);
          }
          continue;
        }
        if (Date.now() - lastLagCheck > 1000) {
          lastLagCheck = Date.now();
          await this.updateLag(meta.getCheckpoint(this.checkpointKey));
        }
        await sleep(this.config.pollIntervalMs);
        continue;
      }
      // Pages travel as few bus messages as the bus's size limits allow (NATS and Kafka take 1 MiB by default):
      // per-event overhead stays off the hot path, and the feed's order is kept.
      await this.options.bus.publish(
        this.topic,
        chunk(page.records.map(encode), MAX_MESSAGE_BYTES).map((value) => ({ key: this.source.name, value })),
      );
      this.published += page.records.length;
      this.options.metrics?.sourceRecordsRead.inc(labels, page.records.length);
      this.options.metrics?.busPublished.inc(this.busLabels, Math.ceil(page.records.length / 500));
      this.options.metrics?.busBacklog.set(this.busLabels, this.published - this.committed);
      cursor = page.checkpoint;
      // Synchronous sources (SQLite) would otherwise hold the event loop: let the writer's I/O run between pages.
      await new Promise((r) => setImmediate(r));
    }
    this.readerDone = true;
  }

  private async write(sub: AsyncIterable<Delivery>): Promise<void> {
    for await (const delivery of sub) {
      if (this.buffer.length === 0) this.firstBufferedAt = Date.now();
      // A page is never split across batches, so its delivery is acked exactly when all its records are committed.
      for (const line of delivery.message.value.split('\n')) this.buffer.push(decode(line));
      this.options.metrics?.busConsumed.inc(this.busLabels);
      if (delivery.attempt > 1) this.options.metrics?.busRedelivered.inc(this.busLabels);
      this.deliveries.push(delivery);
      if (this.buffer.length >= this.config.batchMaxRecords) await this.flush();
    }
  }

  /**
   * Closes the current micro-batch. Batches commit one at a time, in order, so the checkpoint only moves forward.
   * (Staging the next batch beside the engine's work was measured slower on two cores: both compete for CPU.)
   */
  private flush(): Promise<void> {
    if (this.buffer.length > 0) {
      const batch = this.buffer;
      const deliveries = this.deliveries;
      this.buffer = [];
      this.deliveries = [];
      const started = Date.now();
      const bronze = this.bronzeBatch(batch);
      this.flushing = this.flushing.then(() => this.commitBatch(batch, deliveries, bronze, stageBronzeBatch(this.ctx, bronze), started));
    }
    return this.flushing;
  }

  private bronzeBatch(batch: ChangeRecord[]): BronzeBatch {
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    let checkpoint = batch[0]?.checkpoint as string;
    for (const r of batch) {
      if (r.offset < first) first = r.offset;
      if (r.offset > last) {
        last = r.offset;
        checkpoint = r.checkpoint;
      }
    }
    // A redelivered batch never moves the checkpoint backwards (checked again at commit).
    return {
      source: this.source,
      runId: uuidv7(),
      firstOffset: first,
      lastOffset: last,
      input: { records: batch },
      checkpoint: { source: this.checkpointKey, value: checkpoint },
    };
  }

  private async commitBatch(
    batch: ChangeRecord[],
    deliveries: Delivery[],
    bronze: BronzeBatch,
    stagedP: Promise<StagedBatch>,
    started: number,
  ): Promise<void> {
    const { meta } = this.ctx;
    const runId = bronze.runId;
    const checkpoint = bronze.checkpoint?.value as string;
    const current = meta.getCheckpoint(this.checkpointKey);
    const advance = !this.feed.reached(current, checkpoint);
    if (!advance) bronze.checkpoint = undefined;
    meta.startRun({
      runId,
      job: `stream:${this.source.name}`,
      kind: 'stream',
      parentRunId: this.options.parentRunId,
      startedAt: new Date(started),
    });
    try {
      const res = await commitBronzeBatch(this.ctx, bronze, await stagedP);
      meta.finishRun(runId, { status: 'succeeded', endedAt: new Date(), rowsIn: batch.length, rowsOut: res.rows });
      for (const e of streamBatchEvents(this.ctx, this.source, {
        runId,
        startedAt: new Date(started),
        rows: res.rows,
        bytes: res.bytes,
        ok: true,
      }))
        this.ctx.lineage.emit(e);
      for (const d of deliveries) await d.ack();
      if (advance) await this.feed.acknowledge(checkpoint);
      this.committed += batch.length;
      this.options.metrics?.busBacklog.set(this.busLabels, this.published - this.committed);
      this.stats.committed[this.source.name] = (this.stats.committed[this.source.name] ?? 0) + res.rows;
      this.stats.batches++;
      const committedAt = Date.now();
      const eventTimes = batch.map((r) => r.eventTime);
      this.observe(res.rows, res.bytes, res.files.length, started, committedAt, eventTimes);
      this.options.onCommit?.({ source: this.source.name, records: batch.length, committedAt, eventTimes });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      meta.finishRun(runId, { status: 'failed', endedAt: new Date(), error });
      for (const ev of streamBatchEvents(this.ctx, this.source, {
        runId,
        startedAt: new Date(started),
        rows: 0,
        bytes: 0,
        ok: false,
        error,
      }))
        this.ctx.lineage.emit(ev);
      // Nothing was committed: hand the records back for another try.
      for (const d of deliveries) await d.nak();
      this.options.metrics?.streamErrors.inc({ domain: this.source.domain, source: this.source.name });
      await sleep(1000);
    }
  }

  private observe(rows: number, bytes: number, files: number, started: number, committedAt: number, eventTimes: number[]): void {
    const m = this.options.metrics;
    if (!m) return;
    const labels = { domain: this.source.domain, source: this.source.name };
    m.sourceRecords.inc(labels, rows);
    m.lakeFiles.inc({ domain: this.source.domain, zone: 'bronze' }, files);
    m.lakeBytes.inc({ domain: this.source.domain, zone: 'bronze' }, bytes);
    m.commitLatency.observe(labels, (committedAt - started) / 1000);
    m.batchRecords.observe(labels, rows);
    for (const t of eventTimes) m.eventToBronze.observe(labels, Math.max(0, committedAt - t) / 1000);
    m.lastSuccess.set({ domain: this.source.domain, zone: 'bronze', product: this.source.dataset.name }, committedAt / 1000);
    m.checkpointAge.set(labels, 0);
  }

  private async updateLag(checkpoint: string | undefined): Promise<void> {
    const m = this.options.metrics;
    if (!m) return;
    const labels = { domain: this.source.domain, source: this.source.name };
    const lag = await this.feed.lag(checkpoint);
    if (lag.records !== undefined) m.sourceLagRecords.set(labels, lag.records);
    if (lag.bytes !== undefined) m.sourceLagBytes.set(labels, lag.bytes);
    const at = this.ctx.meta.checkpointUpdatedAt(this.checkpointKey);
    if (at) m.checkpointAge.set(labels, (Date.now() - at.getTime()) / 1000);
  }

  get finishedReading(): boolean {
    return this.readerDone;
  }
}

/**
 * One record a line: `offset \t op \t eventTime \t checkpoint \t key \t json`. Compact JSON holds no raw tab or
 * newline, and checkpoints and keys are free of both, so the splits are safe.
 */
function encode(r: ChangeRecord): string {
  return `${r.offset}\t${r.op}\t${r.eventTime}\t${r.checkpoint}\t${r.key}\t${r.json}`;
}

function decode(v: string): ChangeRecord {
  const a = v.indexOf('\t');
  const b = v.indexOf('\t', a + 1);
  const c = v.indexOf('\t', b + 1);
  const d = v.indexOf('\t', c + 1);
  const e = v.indexOf('\t', d + 1);
  return {
    offset: Number(v.slice(0, a)),
    op: v.slice(a + 1, b) === 'delete' ? 'delete' : 'upsert',
    eventTime: Number(v.slice(b + 1, c)),
    checkpoint: v.slice(c + 1, d),
    key: v.slice(d + 1, e),
    json: v.slice(e + 1),
  };
}
