// While a stream runs, its readers (this process's main thread: reading and rendering the outbox) have a CPU of their
// own: the engine runs on one thread fewer, and has its threads back once the stream stops.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { Context } from '../../src/jobs/context.js';
import { StreamJob } from '../../src/jobs/stream.js';
import { exampleApp, transactionsOutbox } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const threads = async (ctx: Context) => Number((await ctx.engine.query(`SELECT current_setting('threads') AS t`)).rows[0]?.t);

describe('a stream and the engine’s threads', () => {
  it('leaves a core to the readers while it runs, commits everything on the threads left, and gives it back when it stops', async () => {
    const { ctx, sim, app, project } = await exampleApp({
      sim: { customers: 100, merchants: 10, transactionsPerSecond: 2000, start: new Date('2026-11-27T10:00:00Z') },
    });
    try {
      app.apply(sim.referenceData(), 100);
      app.apply(sim.advance(1000), 500);
      const own = await threads(ctx);
      let committed = 0;
      const job = new StreamJob(ctx, {
        bus: new MemoryBus(),
        untilCaughtUp: true,
        onCommit: (c) => (committed += c.source === 'core-transactions' ? c.records : 0),
      });
      await job.start();
      assert.equal(await threads(ctx), Math.max(1, own - 1), `${own} threads of its own`);
      await job.wait();
      assert.equal(committed, transactionsOutbox(project.root).n);
      assert.equal(await threads(ctx), own, 'given back once every lane stopped: models after a stream get them all');
      await job.close();
      await job.close();
      assert.equal(await threads(ctx), own, 'closed twice, given back once');
    } finally {
      app.close();
      await ctx.close();
    }
  });
});
