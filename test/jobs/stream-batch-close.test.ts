// When a stream's micro-batch closes: at `batchMaxRecords`, `batchMaxMs` after its first changes were read, or —
// holding half a full batch already — as soon as the source has nothing more. The last changes of a burst must not
// wait a whole `batchMaxMs` for changes that are not coming, nor wait it again after waiting on the bus behind a busy
// engine; and a trickle must still be gathered into batches rather than a file per poll.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bus, Delivery, SubscribeOptions, Subscription } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { ProjectConfig } from '../../src/config/schema.js';
import type { Context } from '../../src/jobs/context.js';
import { type CommittedBatch, StreamJob } from '../../src/jobs/stream.js';
import { exampleApp, transactionsOutbox } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const SOURCE = 'core-transactions';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(20);
}

/**
 * The embedded bus, holding the first delivery of transactions back (as a writer behind a busy engine would take it),
 * and each later one `eachMs` (as a remote broker's fetches come in).
 */
class HoldingBus extends MemoryBus {
  readonly delivered: number[] = [];
  constructor(
    private holdMs: number,
    private readonly eachMs = 0,
  ) {
    super();
  }
  override subscribe(topic: string, group: string, options?: SubscribeOptions): Subscription {
    const inner = super.subscribe(topic, group, options);
    if (!topic.endsWith(SOURCE)) return inner;
    const bus = this;
    return {
      close: () => inner.close(),
      async *[Symbol.asyncIterator](): AsyncGenerator<Delivery> {
        for await (const d of inner) {
          if (bus.holdMs > 0) {
            await sleep(bus.holdMs);
            bus.holdMs = 0;
          } else if (bus.eachMs > 0) await sleep(bus.eachMs);
          bus.delivered.push(Date.now());
          yield d;
        }
      },
    };
  }
}

/**
 * The example app with its reference data and `ms` of simulated transactions in its outbox, under the stream settings
 * given; `n` is how many transaction changes that made. Closed after `fn`.
 */
async function withApp(
  stream: Partial<ProjectConfig['stream']>,
  ms: number,
  fn: (a: Awaited<ReturnType<typeof exampleApp>> & { n: number }) => Promise<void>,
): Promise<void> {
  const opened = await exampleApp({
    stream,
    sim: { customers: 200, merchants: 20, transactionsPerSecond: 2000, start: new Date('2026-11-27T10:00:00Z') },
  });
  try {
    opened.app.apply(opened.sim.referenceData(), 100);
    opened.app.apply(opened.sim.advance(ms), 500);
    await fn({ ...opened, n: transactionsOutbox(opened.project.root).n });
  } finally {
    opened.app.close();
    await opened.ctx.close();
  }
}

/** A stream through `bus`, keeping its commits of transactions, during `fn`; then stopped (which commits what was read). */
async function streaming(ctx: Context, bus: Bus, fn: (commits: CommittedBatch[]) => Promise<void>): Promise<CommittedBatch[]> {
  const commits: CommittedBatch[] = [];
  const job = new StreamJob(ctx, { bus, onCommit: (c) => (c.source === SOURCE ? commits.push(c) : undefined) });
  await job.start();
  try {
    await fn(commits);
  } finally {
    await job.stop();
    await job.close();
  }
  return commits;
}

const records = (commits: CommittedBatch[]) => commits.reduce((n, c) => n + c.records, 0);

describe('a stream closing its micro-batches', () => {
  it('closes a batch of half a full one or more as soon as the source has nothing more; holds a smaller one for batchMaxMs', async () => {
    await withApp({ batchMaxMs: 60_000 }, 1500, async ({ project, ctx, sim, app, n: burst }) => {
      // One batch would hold the burst and 500 more: the burst is more than half of it, and no batch fills.
      ctx.project.config.stream.batchMaxRecords = burst + 500;
      const commits = await streaming(ctx, new MemoryBus(), async (commits) => {
        // Without closing on the source's idleness, nothing would commit for a minute (batchMaxMs).
        await until(() => records(commits) >= burst, 30_000);
        assert.equal(records(commits), burst, `the burst of ${burst} changes committed long before batchMaxMs`);
        assert.equal(commits.length, 1, 'in one batch');
        // A trickle after it: far less than half a batch, so it waits for more (for batchMaxMs) as a trickle should.
        app.apply(sim.advance(30), 500);
        const trickle = transactionsOutbox(project.root).n - burst;
        assert.ok(trickle > 0 && trickle * 2 < burst + 500, `${trickle} changes in the trickle`);
        await sleep(1500);
        assert.equal(records(commits), burst, 'the trickle is still gathering');
      });
      // A stop commits what was read.
      assert.equal(records(commits), transactionsOutbox(project.root).n);
    });
  });

  it('closes on the source’s idleness only once the writer holds all the reader published', async () => {
    await withApp({ batchMaxMs: 60_000 }, 1500, async ({ ctx, n: burst }) => {
      ctx.project.config.stream.batchMaxRecords = burst + 500;
      // The burst's messages come in 400 ms apart: half a batch is there before the rest, which must not be left to
      // wait a minute (batchMaxMs) in a batch of its own.
      const bus = new HoldingBus(0, 400);
      const commits = await streaming(ctx, bus, (commits) => until(() => records(commits) >= burst, 30_000));
      assert.ok(bus.delivered.length >= 3, `${bus.delivered.length} messages: half a batch arrives before the rest`);
      assert.deepEqual(
        { committed: records(commits), commits: commits.length },
        { committed: burst, commits: 1 },
        'the burst in one batch, long before batchMaxMs',
      );
    });
  });

  it('runs a batch’s batchMaxMs from when its changes were read, not from when the writer took them off the bus', async () => {
    await withApp({ batchMaxMs: 5000, batchMaxRecords: 1_000_000 }, 100, async ({ ctx, n }) => {
      // Held on the bus for longer than batchMaxMs: by the time the writer has them, their batch is due.
      const bus = new HoldingBus(5500);
      const commits = await streaming(ctx, bus, (commits) => until(() => commits.length > 0, 30_000));
      const committedAt = commits.find((c) => c.records === n)?.committedAt ?? 0;
      const delivered = bus.delivered[0] ?? Number.NaN;
      assert.ok(committedAt > 0, `the ${n} changes committed in one batch`);
      // Timed from the delivery, the batch would close no sooner than batchMaxMs after it.
      const after = committedAt - delivered;
      assert.ok(after < 5000, `committed ${after} ms after the writer took the changes, not batchMaxMs (5000 ms) after`);
    });
  });
});
