// A bus whose round trips are dear (Kafka: one send at a time) asks for larger publishes than a page of the feed
// (`Bus.publishBytes`): the stream's reader gathers full pages first. Every change must still land once, in order,
// with the checkpoint at the last one — whether the gathering runs to the bus's size or stops at a writer's batch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { StreamJob } from '../../src/jobs/stream.js';
import { exampleApp, transactionsOutbox } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

/** The embedded bus, asking for publishes of `publishBytes`, and keeping what each publish carried. */
class GatheringBus extends MemoryBus {
  readonly publishes: { messages: number; bytes: number }[] = [];
  constructor(readonly publishBytes: number) {
    super();
  }
  override publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (topic.endsWith('core-transactions'))
      this.publishes.push({ messages: messages.length, bytes: messages.reduce((n, m) => n + m.value.length, 0) });
    return super.publish(topic, messages);
  }
}

async function streamThrough(bus: GatheringBus, batchMaxRecords: number) {
  const { project, ctx, sim, app } = await exampleApp({
    stream: { batchMaxRecords, batchMaxMs: 200 },
    sim: { customers: 300, merchants: 30, transactionsPerSecond: 2000, start: new Date('2026-11-27T10:00:00Z') },
  });
  try {
    app.apply(sim.referenceData(), 100);
    app.apply(sim.advance(12_000), 1000);
    app.close();
    const outbox = transactionsOutbox(project.root);
    const job = new StreamJob(ctx, { bus, untilCaughtUp: true });
    await job.start();
    await job.wait();
    await job.close();
    const landed = await ctx.engine.query(
      'SELECT count(*) AS n, count(DISTINCT _offset) AS offsets, max(_offset) AS last FROM payments_bronze.transactions',
    );
    const checkpoint = (await ctx.meta.checkpoints.get('source:core-transactions'))?.value;
    return { outbox, landed: landed.rows[0] as { n: unknown; offsets: unknown; last: unknown }, checkpoint };
  } finally {
    await ctx.close();
  }
}

describe('a stream on a bus that asks for large publishes', () => {
  it('gathers full pages into few publishes, and lands every change once with the checkpoint at the last', async () => {
    const bus = new GatheringBus(64 * 2 ** 20);
    const { outbox, landed, checkpoint } = await streamThrough(bus, 50_000);
    assert.ok(outbox.n > 20_000, `${outbox.n} changes: several pages of 5,000`);
    assert.deepEqual(
      { n: Number(landed.n), offsets: Number(landed.offsets), last: Number(landed.last) },
      { n: outbox.n, offsets: outbox.n, last: outbox.last },
    );
    assert.equal(Number(checkpoint), outbox.last);
    assert.ok(
      bus.publishes.length < Math.ceil(outbox.n / 5000),
      `${bus.publishes.length} publishes for ${outbox.n} changes: pages were gathered (${JSON.stringify(bus.publishes)})`,
    );
  });

  it("stops gathering at a writer's batch, so a small batch size never holds the reader back", async () => {
    const bus = new GatheringBus(64 * 2 ** 20);
    const { outbox, landed, checkpoint } = await streamThrough(bus, 2000);
    assert.deepEqual({ n: Number(landed.n), offsets: Number(landed.offsets) }, { n: outbox.n, offsets: outbox.n });
    assert.equal(Number(checkpoint), outbox.last);
    assert.ok(bus.publishes.length >= Math.floor(outbox.n / 5000), `${bus.publishes.length} publishes: a page each`);
  });
});
