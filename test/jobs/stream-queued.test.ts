// A stream stages its next batch while the one before commits. When that commit fails, the staged batch must not
// commit ahead of it: it would move the checkpoint past changes not in bronze yet, and a crash then (the embedded
// bus lives in the process) would lose them. Both go back to the bus, and commit again in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { StreamJob } from '../../src/jobs/stream.js';
import { exampleApp, transactionsOutbox } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

describe('a stream whose commit fails while the next batch is staged', () => {
  it('commits every change once, batches in offset order, the checkpoint never past a change not in bronze', async () => {
    const { project, ctx, sim, app } = await exampleApp({
      stream: { batchMaxRecords: 200, batchMaxMs: 60_000 },
      sim: { customers: 200, merchants: 20, transactionsPerSecond: 1000, start: new Date('2026-11-27T10:00:00Z') },
    });
    try {
      app.apply(sim.referenceData(), 100);
      app.apply(sim.advance(5000), 500);
      app.close();
      const outbox = transactionsOutbox(project.root);

      // The first bronze write of transactions is slow (the next batch is gathered and staged meanwhile), then fails.
      const writeParquet = ctx.engine.writeParquet.bind(ctx.engine);
      let writes = 0;
      ctx.engine.writeParquet = async (select, dir, options) => {
        if (select.includes('"pix"') && writes++ === 0) {
          await new Promise((r) => setTimeout(r, 400));
          throw new Error('the disk is full (test)');
        }
        return writeParquet(select, dir, options);
      };
      // Each metadata commit of transactions' bronze: its checkpoint and the offsets of the files it adds.
      const commits: { checkpoint: number; first: number; last: number }[] = [];
      const commit = ctx.meta.manifest.commit.bind(ctx.meta.manifest);
      ctx.meta.manifest.commit = async (c) => {
        const result = await commit(c);
        if (c.checkpoint && c.dataset.endsWith('transactions') && c.add.length > 0) {
          const ranges = c.add.map((f) => /-(\d+)-(\d+)-[0-9a-f]+\.parquet$/.exec(f.key)).map((m) => [Number(m?.[1]), Number(m?.[2])]);
          commits.push({
            checkpoint: Number(c.checkpoint.value),
            first: Math.min(...ranges.map((r) => r[0] as number)),
            last: Math.max(...ranges.map((r) => r[1] as number)),
          });
        }
        return result;
      };

      const job = new StreamJob(ctx, { bus: new MemoryBus(), untilCaughtUp: true });
      await job.start();
      await job.wait();
      await job.close();

      assert.ok(writes >= 3, `the failed write was tried again (${writes} writes)`);
      const counts = await ctx.engine.query('SELECT count(*) AS n, count(DISTINCT _offset) AS offsets FROM payments_bronze.transactions');
      const expected = outbox.n;
      assert.ok(expected > 4000, `${expected} changes: enough for several batches (a bus message holds about a thousand)`);
      assert.deepEqual({ n: Number(counts.rows[0]?.n), offsets: Number(counts.rows[0]?.offsets) }, { n: expected, offsets: expected });
      assert.ok(commits.length >= 3, `${commits.length} commits`);
      for (let i = 1; i < commits.length; i++) {
        const [before, now] = [commits[i - 1], commits[i]] as [(typeof commits)[0], (typeof commits)[0]];
        assert.ok(now.first > before.last, `commit ${i + 1} (offsets ${now.first}-${now.last}) after ${before.first}-${before.last}`);
        assert.ok(now.checkpoint > before.checkpoint, `commit ${i + 1}'s checkpoint moves forward`);
      }
      assert.equal(commits[0]?.first, outbox.first, 'the first batch committed first');
    } finally {
      await ctx.close();
    }
  });
});
