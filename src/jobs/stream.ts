import { createHash } from 'node:crypto';
import { type Bus, busBytes, type Delivery } from '../bus/bus.js';
import type { Source } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { type BronzeBatch, commitBronzeBatch, type StagedBatch, stageBronzeBatch, writeBronzeBatch } from '../lake/bronze-writer.js';
import { type QuarantineRow, writeQuarantine } from '../lake/quarantine.js';
import { streamBatchEvents } from '../lineage/events.js';
import type { Metrics } from '../observability/metrics.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun } from '../runs/runs.js';
import type { ChangeFeedSource } from '../sources/changefeed/change-feed-source.js';
import { createChangeFeedSource, isChangeFeed } from '../sources/changefeed/registry.js';
import {
  batchLines,
  type ChangeBatch,
  type ChangeChunk,
  decodeChunk,
  encodeLines,
  lineDocument,
  lineOffset,
  mergeChunks,
  packMessages,
} from './change-codec.js';
import type { Context } from './context.js';
import { failureKind, failureText, isInfrastructureFailure } from './failures.js';

/** A flushed batch's deliveries, until its commit takes them up; `cancelled` when handed back before that. */
interface QueuedBatch {
  deliveries: Delivery[];
  records: number;
  cancelled: boolean;
}

/** Records per change-feed read. */
const PAGE_SIZE = 5000;
/** Largest bus message the stream publishes. */
const MAX_MESSAGE_BYTES = 512 * 1024;
/** Commits a poison batch's parts may take while it is halved to find the changes that fail (the rest load). */
const MAX_BISECT_COMMITS = 16;
/** Longest wait between two attempts at a batch that failed. */
const MAX_RETRY_DELAY_MS = 30_000;

export interface StreamOptions {
  bus: Bus;
  metrics?: Metrics | undefined;
  /** Exit once everything each source held at start is committed. */
  untilCaughtUp?: boolean;
  /** The run this stream belongs to (`stream`, `demo`). */
  parent?: ParentRun | undefined;
  /** Called after every committed batch, e.g. to track latency to gold. */
  onCommit?: (c: CommittedBatch) => void;
}

export interface CommittedBatch {
  source: string;
  domain: string;
  records: number;
  committedAt: number;
  /** Event times (epoch ms) of the batch's records. */
  eventTimes: number[];
}

export interface StreamStats {
  /** Records committed to bronze, per source. */
  committed: Record<string, number>;
  batches: number;
  /** Changes of poison batches moved to quarantine as dead letters, per source. */
  deadLettered: Record<string, number>;
  /** Changes read but not committed when a stop ran out of time, per source: read again on the next start. */
  abandoned: Record<string, number>;
}

/**
 * A running stream: per change-feed source, a reader that pages the feed onto the bus and a lake writer that
 * closes micro-batches by size or time, commits them to bronze together with the source checkpoint, and only
 * then acks the bus and tells the source. Memory is bounded by the bus's in-flight limit.
 */
export class StreamJob {
  readonly stats: StreamStats = { committed: {}, batches: 0, deadLettered: {}, abandoned: {} };
  private readonly lanes: Lane[] = [];
  private stopping = false;
  private done: Promise<void> | undefined;
  /** Gives the engine its threads back (see `start`). */
  private releaseCore: (() => Promise<void>) | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly options: StreamOptions,
  ) {}

  /** Starts every change-feed source of the project; resolves once they are open. */
  async start(): Promise<void> {
    const sources = this.ctx.project.sources.filter(isChangeFeed);
    // The readers (this process's main thread) need a CPU of their own beside the engine's bronze writes, for as
    // long as they read: given back when every lane has stopped (models run after a stream get the whole engine).
    if (sources.length > 0 && !this.releaseCore) this.releaseCore = await this.ctx.engine.leaveCore?.();
    try {
      for (const source of sources) {
        const feed = await createChangeFeedSource(source, this.ctx.project, { leases: this.ctx.meta.leases });
        await feed.open((await this.ctx.meta.checkpoints.get(`source:${source.name}`))?.value);
        const target = this.options.untilCaughtUp ? await feed.head() : undefined;
        this.lanes.push(new Lane(this.ctx, source, feed, this.options, this.stats, target));
      }
    } catch (e) {
      await this.giveCoreBack();
      throw e;
    }
    this.done = Promise.all(this.lanes.map((l) => l.run())).then(
      () => this.giveCoreBack(),
      async (e: unknown) => {
        await this.giveCoreBack();
        throw e;
      },
    );
  }

  private async giveCoreBack(): Promise<void> {
    const release = this.releaseCore;
    this.releaseCore = undefined;
    await release?.();
  }

  /**
   * Resolves when every lane stopped: caught up (with `untilCaughtUp`) or after `stop()`. Rejects with the reason
   * when a lane met a poison batch and `stream.poison.action` is `stop`, or its bus subscription failed.
   */
  async wait(): Promise<void> {
    await this.done;
    const fatal = this.lanes.find((l) => l.fatal)?.fatal;
    if (fatal) throw fatal;
  }

  /**
   * Stops reading, commits what was read, and resolves when everything read is committed — or, after
   * `stream.stopTimeoutMs`, gives up what is still uncommitted (not acked: read again on the next start).
   */
  async stop(): Promise<void> {
    // Never rejects: a lane's fatal error is for `wait()` to report.
    if (!this.stopping) {
      this.stopping = true;
      for (const l of this.lanes) l.stop();
    }
    await this.done;
  }

  /** True when every source's committed checkpoint has reached the feed's head as of now. */
  async caughtUp(): Promise<boolean> {
    for (const l of this.lanes) if (!(await l.caughtUp())) return false;
    return true;
  }

  async close(): Promise<void> {
    try {
      await this.stop();
      for (const l of this.lanes) await l.feed.close();
    } finally {
      await this.giveCoreBack();
    }
  }
}

class Lane {
  private stopped = false;
  /** Set when `stream.poison.action` is `stop` and a batch turned out poison, or when the bus subscription failed. */
  fatal: FinmeshError | undefined;
  /** The failure the last commits met in a row, and how often. */
  private failures = { text: '', count: 0 };
  private stopDeadline: number | undefined;
  private readonly stopping = new AbortController();
  private published = 0;
  private committed = 0;
  private readerDone = false;
  /**
   * The reader's last page was short (the source had nothing more for now) and it is published; `readerPage` counts
   * the reader's pages, so that a publish that resolves after a later page was read does not set it.
   */
  private readerCaughtUp = false;
  private readerPage = 0;
  /** Records of the batch `commitBatch` has taken up (0 when none). */
  private committing = 0;
  /** The micro-batch being gathered: chunks as the bus delivered them, and how many records they hold. */
  private buffer: ChangeChunk[] = [];
  private buffered = 0;
  private deliveries: Delivery[] = [];
  /** Batches flushed and not yet taken up by `commitBatch`, oldest first (at most one waits behind the engine). */
  private queued: QueuedBatch[] = [];
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
    if (this.stopped) return;
    this.stopped = true;
    this.stopDeadline = Date.now() + this.config.stopTimeoutMs;
    this.stopping.abort();
  }

  async caughtUp(): Promise<boolean> {
    return this.feed.reached(await this.committedCheckpoint(), await this.feed.head());
  }

  private async committedCheckpoint(): Promise<string | undefined> {
    return (await this.ctx.meta.checkpoints.get(this.checkpointKey))?.value;
  }

  private get busLabels() {
    return { bus: this.options.bus.kind, source: this.source.name };
  }

  private get checkpointKey(): string {
    return `source:${this.source.name}`;
  }

  async run(): Promise<void> {
    // The bound is in messages: each holds at most MAX_MESSAGE_BYTES, so unacked pages never exceed maxBufferedBytes.
    const sub = this.options.bus.subscribe(this.topic, 'lake-writer', {
      maxInFlight: maxInFlightMessages(this.config.maxBufferedBytes),
      ackWaitMs: LAKE_WRITER_ACK_WAIT_MS,
    });
    // A subscription that fails (its bus stopped answering, past the adapter's retries) ends the lane with the reason:
    // nothing more can be committed, and waiting for it would hang. What was read and not committed is read again.
    const writer = this.write(sub).catch((e: unknown) => {
      this.fatal ??=
        e instanceof FinmeshError
          ? e
          : new FinmeshError('UNAVAILABLE', `${this.source.name}: the ${this.options.bus.kind} bus failed: ${(e as Error).message}`, {
              cause: e,
            });
      this.ctx.log.error(
        { source: this.source.name, err_message: this.fatal.message },
        `${this.source.name}: ${this.fatal.message}; stopping`,
      );
      this.stop();
    });
    const ticker = setInterval(
      () => {
        // A batch closes when full (the writer), once batchMaxMs has passed since its first records were read, or — when
        // it holds half a full batch already — as soon as the source has nothing more to give and the writer holds
        // all the reader published: waiting then buys a file little larger, and the last changes of a burst would
        // wait for nothing. Not while a closed batch already waits behind the engine: it could not commit sooner,
        // and records that waited on the bus (a backlog, a redelivery) would otherwise close a small batch a tick.
        if (this.buffered === 0 || this.queued.length > 0) return;
        const due =
          Date.now() - this.firstBufferedAt >= this.config.batchMaxMs ||
          (this.readerCaughtUp && this.buffered * 2 >= this.config.batchMaxRecords && this.held() >= this.published);
        if (due) void this.flush();
      },
      Math.max(10, Math.min(100, Math.floor(this.config.batchMaxMs / 4))),
    );
    try {
      await this.read();
      // Everything read must be committed before the lane ends — unless a stop runs out of time, or the lane stops on
      // a poison batch: what is not committed then is not acked, and is read again on the next start.
      while (this.committed < this.published && !this.fatal) {
        if (this.stopDeadline !== undefined && Date.now() > this.stopDeadline) {
          this.stats.abandoned[this.source.name] = this.published - this.committed;
          this.ctx.log.warn(
            { source: this.source.name, uncommitted: this.published - this.committed },
            `${this.source.name}: stopping after ${this.config.stopTimeoutMs} ms with ${this.published - this.committed} changes read but not committed; the next start reads them again`,
          );
          break;
        }
        await this.flush();
        if (this.committed < this.published) await sleep(20, this.stopping.signal);
      }
    } finally {
      clearInterval(ticker);
      await sub.close();
      await writer.catch(() => undefined);
      // A batch the writer flushed meanwhile (messages handed back by a failed commit) ends before the lane does: the
      // context closes after the lane.
      await this.flushing.catch(() => undefined);
    }
  }

  private async read(): Promise<void> {
    const { meta } = this.ctx;
    let cursor = await this.committedCheckpoint();
    const labels = { domain: this.source.domain, source: this.source.name };
    let lastLagCheck = 0;
    // One publish goes out while the next page is read: the bus's round trip (a remote broker's) overlaps the feed's
    // read. Publishes go one after the other, in order; a failed one fails the reader at the next publish.
    let publishing: Promise<void> | undefined;
    // A bus that wants larger publishes than a page (Kafka: a send per round trip) gets full pages gathered until they
    // reach its `publishBytes` or a writer's batch (1M changes over Kafka, 2 CPUs: ~15% more changes a second than a
    // publish a page). Nothing gathered is checkpointed before it is published and committed: at a stop it is
    // published with the rest. The read-ahead bound below counts published changes; what is gathered is at most a
    // writer's batch more.
    const publishBytes = this.options.bus.publishBytes ?? 0;
    let gathered: { value: string | Uint8Array; bytes: number }[] = [];
    let gatheredCount = 0;
    let gatheredBytes = 0;
    const publishGathered = async () => {
      if (gatheredCount === 0) return;
      const messages = gathered;
      const count = gatheredCount;
      gathered = [];
      gatheredCount = 0;
      gatheredBytes = 0;
      await publishing;
      publishing = this.options.bus
        .publish(
          this.topic,
          messages.map((m) => ({ key: this.source.name, value: m.value })),
        )
        .then(() => {
          this.published += count;
          this.meterBus(
            'publish',
            messages.length,
            messages.reduce((n, m) => n + m.bytes, 0),
          );
          this.options.metrics?.sourceRecordsRead.inc(labels, count);
          this.options.metrics?.busPublished.inc(this.busLabels, messages.length);
          this.options.metrics?.busBacklog.set(this.busLabels, this.published - this.committed);
        });
      // Awaited at the next page or at the end; until then its failure is not an unhandled rejection.
      publishing.catch(() => undefined);
    };
    while (!this.stopped) {
      if (this.target !== undefined && this.feed.reached(cursor, this.target)) break;
      // Reading further ahead than the batch being committed and the next one buys nothing but memory, and on a
      // small machine it takes the CPU the engine needs for the commit: wait for the lake writer.
      if (this.published - this.committed >= 2 * this.config.batchMaxRecords) {
        await sleep(5);
        continue;
      }
      // A feed that renders its own lines (SQLite) hands over bytes: no record becomes a JS object or string.
      const lined = this.feed.readLines ? await this.feed.readLines(cursor, PAGE_SIZE, MAX_MESSAGE_BYTES) : undefined;
      const page = lined?.records
        ? { records: lined.records, checkpoint: lined.checkpoint }
        : lined
          ? { records: [], checkpoint: lined.checkpoint }
          : await this.feed.read(cursor, PAGE_SIZE);
      const count = lined && !lined.records ? lined.chunks.reduce((a, c) => a + c.records, 0) : page.records.length;
      // A short page: the source has nothing more for now (set once the page is published; see the ticker).
      const thisPage = ++this.readerPage;
      this.readerCaughtUp = false;
      if (count === 0) {
        // Everything read is published before the lane idles or commits a position past it.
        await publishGathered();
        await publishing;
        publishing = undefined;
        this.readerCaughtUp = true;
        // With no head to aim at (Cosmos DB), an idle page means caught up.
        if (this.options.untilCaughtUp && this.target === undefined) break;
        if (page.checkpoint !== undefined && page.checkpoint !== cursor) {
          // The source moved past changes that were not ours (PostgreSQL WAL of other tables): once everything read
          // is committed, the position itself may be committed, so the slot can release that WAL.
          cursor = page.checkpoint;
          if (this.committed === this.published && !this.feed.reached(await this.committedCheckpoint(), cursor)) {
            await meta.checkpoints.set(this.checkpointKey, cursor);
            await this.feed.acknowledge(cursor);
          }
          continue;
        }
        if (Date.now() - lastLagCheck > 1000) {
          lastLagCheck = Date.now();
          await this.updateLag();
        }
        await sleep(this.config.pollIntervalMs);
        continue;
      }
      // Pages travel as few bus messages as the bus's size limits allow (NATS and Kafka take 1 MiB by default):
      // per-event overhead stays off the hot path, and the feed's order is kept.
      const messages = lined && !lined.records ? lined.chunks.map(encodeLines) : packMessages(page.records, MAX_MESSAGE_BYTES);
      for (const m of messages) {
        gathered.push(m);
        gatheredBytes += m.bytes;
      }
      gatheredCount += count;
      cursor = page.checkpoint;
      // A short page means caught up: what was gathered goes now, as does a full publish or anything at a stop.
      const more =
        count >= PAGE_SIZE &&
        gatheredBytes < publishBytes &&
        gatheredCount < this.config.batchMaxRecords &&
        !this.stopped &&
        !(this.target !== undefined && this.feed.reached(cursor, this.target));
      if (!more) await publishGathered();
      if (count < PAGE_SIZE)
        (publishing ?? Promise.resolve()).then(
          () => {
            if (thisPage === this.readerPage) this.readerCaughtUp = true;
          },
          () => undefined,
        );
      // Synchronous sources (SQLite) would otherwise hold the event loop: let the writer's I/O run between pages.
      await new Promise((r) => setImmediate(r));
    }
    await publishGathered();
    await publishing;
    this.readerDone = true;
  }

  private async write(sub: AsyncIterable<Delivery>): Promise<void> {
    for await (const delivery of sub) {
      // A message is never split across batches, so its delivery is acked exactly when all its records are committed.
      const chunk = decodeChunk(delivery.message.value);
      // A batch's time runs from when its first records were read, not from when the writer got to them: records that
      // waited on the bus behind a busy engine (the last of a burst) do not wait a whole batchMaxMs more.
      if (this.buffered === 0) this.firstBufferedAt = Math.min(Date.now(), chunk.readAt ?? Number.POSITIVE_INFINITY);
      this.buffer.push(chunk);
      this.buffered += chunk.records;
      this.options.metrics?.busConsumed.inc(this.busLabels);
      this.meterBus('deliver', 1, busBytes(delivery.message.value));
      if (delivery.attempt > 1) this.options.metrics?.busRedelivered.inc(this.busLabels);
      this.deliveries.push(delivery);
      if (this.buffered >= this.config.batchMaxRecords) {
        // The batch is staged (its NDJSON written) while the one before it commits; the next is gathered only once
        // that one is committed, so at most one batch waits behind the engine.
        const previous = this.flushing;
        void this.flush();
        await previous;
      }
    }
  }

  /**
   * Closes the current micro-batch. Batches commit one at a time, in order, so the checkpoint only moves forward;
   * a batch's staging starts at once, beside the commit of the one before (1M changes, embedded, 2 CPUs: 3–7% more
   * changes a second than staging after it).
   */
  private flush(): Promise<void> {
    if (this.buffered > 0) {
      const batch = mergeChunks(this.buffer);
      const deliveries = this.deliveries;
      this.buffer = [];
      this.buffered = 0;
      this.deliveries = [];
      const started = Date.now();
      // A redelivered batch never moves the checkpoint backwards (checked again at commit).
      const bronze: BronzeBatch = {
        source: this.source,
        runId: '',
        firstOffset: batch.firstOffset,
        lastOffset: batch.lastOffset,
        rows: batch.records,
        input: { lines: batch.lines, identity: batch.identity },
        checkpoint: { source: this.checkpointKey, value: batch.checkpoint },
      };
      const staged = stageBronzeBatch(this.ctx, bronze);
      // Awaited by commitBatch, maybe later: a staging that fails before then is not an unhandled rejection.
      staged.catch(() => undefined);
      const queued: QueuedBatch = { deliveries, records: batch.records, cancelled: false };
      this.queued.push(queued);
      this.flushing = this.flushing.then(async () => {
        // Taken up: no longer waiting, and counted as being committed until this ends, whichever way.
        const at = this.queued.indexOf(queued);
        // (A batch handed back with one before it was taken off the queue already.)
        if (at >= 0) this.queued.splice(at, 1);
        this.committing = batch.records;
        try {
          await this.commitBatch(batch, queued, bronze, staged, started);
        } finally {
          this.committing = 0;
        }
      });
      // Awaited by the writer at its next batch or at the end (a failure fails the lane there), not always at once.
      this.flushing.catch(() => undefined);
    }
    return this.flushing;
  }

  /** Records the lake writer holds: committed, being committed, closed and waiting, and gathering. */
  private held(): number {
    return this.committed + this.committing + this.queued.reduce((n, q) => n + q.records, 0) + this.buffered;
  }

  /** A batch taken up from the queue: committed with its checkpoint, or handed back, or dead-lettered. */
  private async commitBatch(
    batch: ChangeBatch,
    queued: QueuedBatch,
    bronze: BronzeBatch,
    stagedP: Promise<StagedBatch>,
    started: number,
  ): Promise<void> {
    const { deliveries } = queued;
    if (queued.cancelled) {
      // A batch before it failed and was handed back: this one was handed back with it (see below).
      await stagedP.then((st) => this.ctx.storage.discard(st.staging)).catch(() => undefined);
      return;
    }
    if (this.stopDeadline !== undefined && Date.now() > this.stopDeadline) {
      // Past the stop timeout nothing more is tried: not acked, the changes are read again on the next start.
      for (const d of deliveries) await d.nak();
      await stagedP.then((st) => this.ctx.storage.discard(st.staging)).catch(() => undefined);
      return;
    }
    if (this.fatal) {
      // The lane is stopping on a poison batch: nothing more is committed.
      for (const d of deliveries) await d.nak();
      await stagedP.then((st) => this.ctx.storage.discard(st.staging)).catch(() => undefined);
      return;
    }
    const checkpoint = bronze.checkpoint?.value as string;
    const advance = !this.feed.reached(await this.committedCheckpoint(), checkpoint);
    if (!advance) bronze.checkpoint = undefined;
    let written = { rows: 0, bytes: 0 };
    const run = await this.ctx.runs.start({
      job: jobName.stream(this.source),
      kind: 'stream',
      parent: this.options.parent,
      startedAt: new Date(started),
      labels: { domain: this.source.domain, source: this.source.name },
      lineage: {
        start: (r) => streamBatchEvents(this.ctx, this.source, { runId: r.id, startedAt: r.startedAt, rows: 0, bytes: 0, ok: true })[0],
        end: (r, o) =>
          streamBatchEvents(this.ctx, this.source, {
            runId: r.id,
            startedAt: r.startedAt,
            rows: written.rows,
            bytes: written.bytes,
            ok: o.status === 'succeeded',
            error: o.error,
          })[1],
      },
    });
    run.enter();
    bronze.runId = run.id;
    try {
      const res = await commitBronzeBatch(this.ctx, bronze, await stagedP);
      written = res;
      await run.succeed({ rowsIn: batch.records, rowsOut: res.rows });
      for (const d of deliveries) await d.ack();
      if (advance) await this.feed.acknowledge(checkpoint);
      this.committed += batch.records;
      this.options.metrics?.busBacklog.set(this.busLabels, this.published - this.committed);
      this.stats.committed[this.source.name] = (this.stats.committed[this.source.name] ?? 0) + res.rows;
      this.stats.batches++;
      const committedAt = Date.now();
      const { eventTimes } = batch;
      this.observe(res.rows, res.bytes, res.files.length, started, committedAt, eventTimes);
      this.options.onCommit?.({ source: this.source.name, domain: this.source.domain, records: batch.records, committedAt, eventTimes });
      this.failures = { text: '', count: 0 };
    } catch (e) {
      if (!run.ended) await run.fail(e);
      this.options.metrics?.streamErrors.inc({ domain: this.source.domain, source: this.source.name });
      const text = failureText(e);
      const kind = failureKind(e);
      this.failures = { text: kind, count: this.failures.text === kind ? this.failures.count + 1 : 1 };
      const poison = this.config.poison;
      if (this.failures.count >= poison.attempts && !isInfrastructureFailure(e)) {
        const what = `a batch of ${batch.records} changes (offsets ${bronze.firstOffset}-${bronze.lastOffset}) failed ${this.failures.count} times the same way: ${text}`;
        if (poison.action === 'stop') {
          for (const d of deliveries) await d.nak();
          this.fatal ??= new FinmeshError(
            'DATA_INVALID',
            `${this.source.file}: ${this.source.name}: ${what}; stopping (stream.poison.action: stop)`,
            {
              cause: e,
            },
          );
          this.ctx.log.error({ source: this.source.name, err_message: text }, `${this.source.name}: ${what}; stopping`);
          this.stop();
          return;
        }
        try {
          await this.deadLetter(batch, deliveries, checkpoint, advance, what);
          this.failures = { text: '', count: 0 };
          return;
        } catch (dl) {
          this.ctx.log.error(
            { source: this.source.name, err_message: failureText(dl) },
            `${this.source.name}: the poison batch could not be dead-lettered either; retrying`,
          );
        }
      }
      // Nothing was committed: hand the records back for another try, after a wait that grows with each failure.
      // A batch queued behind this one goes back too, and first, so that redelivered it comes after this one's
      // changes (a bus that hands back in the order of naks): committed before them, it would move the checkpoint
      // past changes not in bronze yet.
      for (const later of this.queued.splice(0).reverse()) {
        later.cancelled = true;
        for (const d of later.deliveries) await d.nak();
      }
      for (const d of deliveries) await d.nak();
      const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(10, this.failures.count - 1));
      // Stopping: the wait is cut at the stop deadline, not skipped (a failing commit must not spin).
      if (this.stopDeadline === undefined) await sleep(delay, this.stopping.signal);
      else await sleep(Math.max(0, Math.min(delay, this.stopDeadline - Date.now())));
    }
  }

  /**
   * A poison batch: its changes are halved (in offset order) and each half tried again, so the changes that load do
   * and only those that fail on their own remain; those go to the source's quarantine dataset as dead letters, each
   * with its reason, in one metadata commit with the checkpoint past the batch. Then the batch is acked: the stream
   * goes on, and every change of the batch is either in bronze or in quarantine, once.
   */
  private async deadLetter(batch: ChangeBatch, deliveries: Delivery[], checkpoint: string, advance: boolean, what: string): Promise<void> {
    // The batch travelled as bronze lines: halving works on them, each known by the offset it starts with.
    const lines = batchLines(batch)
      .map((line) => ({ line, offset: lineOffset(line) }))
      .sort((a, b) => a.offset - b.offset);
    const labels = { domain: this.source.domain, source: this.source.name };
    const run = await this.ctx.runs.start({ job: `stream:${this.source.name}`, kind: 'stream', parent: this.options.parent, labels });
    try {
      let budget = MAX_BISECT_COMMITS;
      let loaded = 0;
      const dead: { line: Line; reason: string }[] = [];
      const settle = async (part: Line[], reason: string): Promise<void> => {
        if (part.length === 1 || budget <= 0) {
          for (const line of part) dead.push({ line, reason });
          return;
        }
        const mid = Math.ceil(part.length / 2);
        for (const half of [part.slice(0, mid), part.slice(mid)]) {
          budget--;
          try {
            loaded += (await writeBronzeBatch(this.ctx, this.partBatch(half, run.id))).rows;
          } catch (e) {
            if (isInfrastructureFailure(e)) throw e;
            await settle(half, failureText(e));
          }
        }
      };
      await settle(lines, what);
      const first = lines[0]?.offset ?? 0;
      const last = lines[lines.length - 1]?.offset ?? 0;
      const rows: QuarantineRow[] = dead.map(({ line, reason }) => ({
        kind: 'dead-letter',
        file: `${this.topic}@${line.offset}`,
        line: line.offset,
        reason: `${this.source.name}: ${reason}`,
        raw: lineDocument(line.line),
      }));
      await writeQuarantine(this.ctx, this.source, run.id, rows, {
        name: `dead-letter-${this.source.name}-${first}-${last}`,
        checkpoint: advance ? { source: this.checkpointKey, value: checkpoint } : undefined,
      });
      await run.end({ status: 'succeeded', rowsIn: batch.records, rowsOut: loaded, rowsRejected: dead.length });
      for (const d of deliveries) await d.ack();
      if (advance) await this.feed.acknowledge(checkpoint);
      this.committed += batch.records;
      this.stats.committed[this.source.name] = (this.stats.committed[this.source.name] ?? 0) + loaded;
      this.stats.deadLettered[this.source.name] = (this.stats.deadLettered[this.source.name] ?? 0) + dead.length;
      this.stats.batches++;
      const m = this.options.metrics;
      m?.deadLetters.inc(labels, dead.length);
      m?.quarantineRows.inc(labels, dead.length);
      m?.busBacklog.set(this.busLabels, this.published - this.committed);
      this.ctx.log.error(
        { ...labels, dead_letters: dead.length, loaded, first_offset: first, last_offset: last },
        `${this.source.name}: ${what}; ${dead.length} changes dead-lettered to ${this.source.domain}_quarantine.${this.source.dataset.name} (kind dead-letter), ${loaded} loaded; the stream goes on`,
      );
      if (loaded > 0)
        this.options.onCommit?.({
          source: this.source.name,
          domain: this.source.domain,
          records: loaded,
          committedAt: Date.now(),
          eventTimes: [],
        });
    } catch (e) {
      if (!run.ended) await run.fail(e);
      throw e;
    }
  }

  /**
   * A part of a poison batch as a bronze batch of its own, without the checkpoint. Its lines (which hold the records'
   * keys) name its file: the same part tried again overwrites itself.
   */
  private partBatch(part: Line[], runId: string): BronzeBatch {
    const lines = part.map((l) => l.line);
    return {
      source: this.source,
      runId,
      firstOffset: part[0]?.offset ?? 0,
      lastOffset: part[part.length - 1]?.offset ?? 0,
      rows: part.length,
      input: { lines, identity: createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 12) },
    };
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
    // One label lookup per batch, not per event: a batch holds tens of thousands.
    const toBronze = m.eventToBronze.labels(labels);
    for (const t of eventTimes) toBronze.observe(Math.max(0, committedAt - t) / 1000);
    m.lastSuccess.set({ domain: this.source.domain, zone: 'bronze', product: this.source.dataset.name }, committedAt / 1000);
    m.checkpointAge.set(labels, 0);
  }

  /** Bus messages and bytes, as Pub/Sub bills them: each published, and each delivered. */
  private meterBus(direction: 'publish' | 'deliver', messages: number, bytes: number): void {
    const at = new Date();
    const base = { at, component: 'bus', domain: this.source.domain, source: this.source.name };
    const attributes = { direction, bus: this.options.bus.kind };
    this.ctx.meter.record([
      { ...base, meter: 'bus.messages', quantity: messages, attributes },
      { ...base, meter: 'bus.bytes', quantity: bytes, attributes },
    ]);
  }

  private async updateLag(): Promise<void> {
    const m = this.options.metrics;
    if (!m) return;
    const labels = { domain: this.source.domain, source: this.source.name };
    const cp = await this.ctx.meta.checkpoints.get(this.checkpointKey);
    const lag = await this.feed.lag(cp?.value);
    if (lag.records !== undefined) m.sourceLagRecords.set(labels, lag.records);
    if (lag.bytes !== undefined) m.sourceLagBytes.set(labels, lag.bytes);
    if (cp) m.checkpointAge.set(labels, (Date.now() - cp.updatedAt.getTime()) / 1000);
  }

  get finishedReading(): boolean {
    return this.readerDone;
  }
}

/** A line of a poison batch and the source offset it carries. */
interface Line {
  line: string;
  offset: number;
}

/**
 * How long the bus waits for the lake writer's ack before it delivers a message again. A batch whose ack was lost
 * comes back this long after its commit: compaction leaves files younger than its `minAge` (default longer than this)
 * so that the batch overwrites its own file.
 */
export const LAKE_WRITER_ACK_WAIT_MS = 10 * 60_000;

/** Unacked messages the lake writer may hold: `maxBufferedBytes` of full-size messages (at least two). */
export function maxInFlightMessages(maxBufferedBytes: number): number {
  return Math.max(2, Math.floor(maxBufferedBytes / MAX_MESSAGE_BYTES));
}
