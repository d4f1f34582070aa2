import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import type { Engine } from '../../src/engine/engine.js';
import { runModels } from '../../src/jobs/transform.js';
import { compactLake } from '../../src/lake/compaction.js';
import { collectGarbage, VIEW_CLOCK_MARGIN_MS } from '../../src/lake/gc.js';
import { refreshDataset } from '../../src/lake/session.js';
import type { LakeFile } from '../../src/metadata/metadata-store.js';
import { exampleApp } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const BRONZE = 'payments/bronze/transactions';
const REF = { domain: 'payments', zone: 'bronze' as const, name: 'transactions' };
/** Every small file, whatever its age, in partitions of two or more. */
const ANY = { minAgeMs: 0, minFiles: 2, targetBytes: 128 * 2 ** 20, datasets: [REF] };

/** The example's app and lake, with `batches` stream runs of its transactions: a bronze file each. */
async function lake(batches: number) {
  const app = await exampleApp({
    sim: { customers: 40, merchants: 10, transactionsPerSecond: 40, start: new Date('2026-11-27T10:00:00Z') },
  });
  await app.streamed(app.sim.referenceData());
  const step = async () => app.streamed(app.sim.advance(500));
  for (let i = 0; i < batches; i++) await step();
  const { ctx } = app;
  const live = () => ctx.meta.manifest.liveFiles(BRONZE);
  /** Silver transactions, the incremental model that reads this bronze: until it first ran, nothing is merged. */
  const silver = async () => {
    const [r] = await runModels(ctx, { selector: 'transactions', checks: false });
    assert.equal(r?.status, 'succeeded', r?.error);
    return r;
  };
  // Every row as bronze's view shows it, the partition from the path included, in the feed's order.
  const rows = async () => (await ctx.engine.query('SELECT * FROM payments_bronze.transactions ORDER BY _offset')).rows;
  return { ...app, step, live, rows, silver };
}

/** Live files after merging every partition of two or more. */
function expectedAfter(files: LakeFile[]): number {
  const per = new Map<string, number>();
  for (const f of files) per.set(f.partition ?? '', (per.get(f.partition ?? '') ?? 0) + 1);
  return [...per.values()].reduce((n, c) => n + (c >= 2 ? 1 : c), 0);
}

describe('bronze compaction', () => {
  it('merges a change feed’s micro-batch files into one a partition, in one commit: the same rows; GC deletes the merged files', async () => {
    const { ctx, live, rows, silver } = await lake(12);
    try {
      await silver();
      const before = await live();
      assert.ok(before.length >= 12, `a file a stream run (${before.length})`);
      const rowsBefore = await rows();

      const report = await compactLake(ctx, ANY);
      const after = await live();
      assert.equal(after.length, expectedAfter(before));
      assert.ok(
        after.every((f) => f.key.includes('/part-compacted-')),
        'every file left is a merged one',
      );
      assert.deepEqual(await rows(), rowsBefore, 'the view reads the same rows, value for value, the partition column too');
      assert.equal(
        report.groups.reduce((n, g) => n + g.files, 0),
        before.length,
      );
      assert.equal(
        after.reduce((n, f) => n + f.rows, 0),
        rowsBefore.length,
        'the manifest counts the same rows',
      );
      // The merged file holds rows up to the newest file it merged: to incremental readers it is nothing new.
      const newest = Math.max(...before.map((f) => f.seq));
      assert.equal(Math.max(...after.map((f) => f.dataSeq)), newest);
      assert.ok(after.every((f) => f.seq > newest));
      assert.deepEqual(report.datasets, [{ dataset: BRONZE, filesBefore: before.length, filesAfter: after.length }]);

      const runsOf = await ctx.meta.runs.list({ job: 'lake:compact' });
      assert.deepEqual(
        runsOf.map((r) => [r.status, r.rowsIn, r.rowsOut]),
        [['succeeded', rowsBefore.length, rowsBefore.length]],
      );
      assert.match(
        await ctx.metrics.registry.metrics(),
        new RegExp(`finmesh_lake_compaction_files_total\\{outcome="merged"\\} ${before.length}\\b`),
      );

      // This process's view, defined again right after the swap, is taken to hold the merged files for a second more
      // (clocks differ between machines); defined after that, nothing holds them.
      const held = await collectGarbage(ctx, { graceMs: 0 });
      assert.deepEqual(
        held.kept.map((k) => k.reason),
        before.map(() => 'reader'),
      );
      await new Promise((r) => setTimeout(r, VIEW_CLOCK_MARGIN_MS + 100));
      await refreshDataset(ctx, REF);
      const gc = await collectGarbage(ctx, { graceMs: 0 });
      assert.deepEqual(gc.deleted.map((f) => f.key).sort(), before.map((f) => f.key).sort());
      assert.ok(before.every((f) => !existsSync(ctx.storage.readPath(f.key))));
      assert.deepEqual(await rows(), rowsBefore);
    } finally {
      await ctx.close();
    }
  });

  it('leaves everything until each incremental model ran once, then young files, partitions with fewer than minFiles, files of half the target or more; packs groups to the target', async () => {
    const { ctx, live, silver } = await lake(9);
    try {
      const before = await live();
      const held = await compactLake(ctx, ANY);
      assert.deepEqual(held.groups, [], 'nothing merged before silver transactions first ran');
      assert.deepEqual(held.datasets[0]?.heldBy, ['transactions']);
      await silver();
      const none = async (o: Partial<typeof ANY>, why: string) => {
        const r = await compactLake(ctx, { ...ANY, ...o });
        assert.deepEqual(r.groups, [], why);
        assert.deepEqual(
          (await live()).map((f) => f.key),
          before.map((f) => f.key),
          why,
        );
      };
      await none({ minAgeMs: 3_600_000 }, 'files committed less than an hour ago');
      await none({ minFiles: before.length + 1 }, 'fewer small files than minFiles');
      const smallest = Math.min(...before.map((f) => f.bytes));
      await none({ targetBytes: Math.max(1, smallest * 2) }, 'no file under half the target');
      const dry = await compactLake(ctx, { ...ANY, dryRun: true });
      assert.equal(dry.groups.length > 0 && dry.groups.every((g) => g.key === undefined), true, 'a dry run writes nothing');
      assert.equal((await live()).length, before.length);

      // A target of about three files: groups of two or three, none over the target.
      const largest = Math.max(...before.map((f) => f.bytes));
      const target = largest * 3;
      const packed = await compactLake(ctx, { ...ANY, targetBytes: target });
      assert.ok(packed.groups.length >= 2, `several groups (${packed.groups.length})`);
      for (const g of packed.groups) {
        assert.ok(g.bytesBefore <= target, `a group of ${g.bytesBefore} bytes fits ${target}`);
        assert.ok(g.files >= 2 && g.files <= 3, `a group of ${g.files} files`);
      }
    } finally {
      await ctx.close();
    }
  });

  it('never merges what an incremental model has yet to read; to a model that read it, the merged file is nothing new', async () => {
    const { ctx, sim, step, live, silver: run } = await lake(6);
    try {
      const silver = async () => {
        const r = await run();
        const s = (await ctx.engine.query('SELECT count(*) AS n, count(DISTINCT transaction_id) AS d FROM payments_silver.transactions'))
          .rows[0];
        assert.deepEqual(s, { n: sim.transactionsCreated, d: sim.transactionsCreated }, 'silver holds every transaction once');
        return r;
      };
      await silver();
      const read = await live();
      for (let i = 0; i < 5; i++) await step();
      const unread = (await live()).filter((f) => !read.some((x) => x.key === f.key));
      assert.ok(unread.length >= 5);

      await compactLake(ctx, ANY);
      const after = await live();
      assert.deepEqual(
        unread.map((f) => f.key),
        after.filter((f) => !f.key.includes('compacted-')).map((f) => f.key),
        'the files silver has not read stay as they are',
      );
      assert.equal(after.length, expectedAfter(read) + unread.length);

      // Silver reads the new files alone: the merged file holds rows it read already.
      const next = await silver();
      assert.equal(
        next?.rowsIn,
        unread.reduce((n, f) => n + f.rows, 0),
      );
      // Now everything is read: it is all merged, and silver finds nothing new.
      await compactLake(ctx, ANY);
      assert.ok((await live()).every((f) => f.key.includes('compacted-')));
      const idle = await silver();
      assert.equal(idle?.rowsIn, 0);
    } finally {
      await ctx.close();
    }
  });

  it('refuses a second compaction of the same files: its merged file is deleted, and no row is added twice', async () => {
    const { ctx, live, rows, silver } = await lake(6);
    const engine = await DuckDbEngine.create({ threads: 1, profile: false });
    try {
      await silver();
      const rowsBefore = await rows();
      let entered: () => void = () => undefined;
      const writing = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      // A compaction that has listed the files and waits before its write, while another runs from start to end.
      const held = {
        dialect: engine.dialect,
        writeParquet: async (...a: Parameters<Engine['writeParquet']>) => {
          entered();
          await gate;
          return engine.writeParquet(...a);
        },
        close: async () => undefined,
      } as unknown as Engine;
      const slow = compactLake(ctx, { ...ANY, engine: held });
      await writing;
      const fast = await compactLake(ctx, ANY);
      assert.ok(fast.groups.every((g) => g.key !== undefined));
      release();
      const late = await slow;
      assert.ok(late.groups.length > 0);
      for (const g of late.groups) {
        assert.equal(g.key, undefined);
        assert.match(g.refused ?? '', /no longer live .*nothing was committed/);
      }
      assert.equal((await live()).length, fast.datasets[0]?.filesAfter);
      assert.deepEqual(await rows(), rowsBefore, 'no row twice');

      // Nothing is left in bronze's folder but the live files (once GC deleted what was merged).
      await new Promise((r) => setTimeout(r, VIEW_CLOCK_MARGIN_MS + 100));
      await refreshDataset(ctx, REF);
      await collectGarbage(ctx, { graceMs: 0 });
      const objects: string[] = [];
      for await (const o of ctx.storage.list(`${BRONZE}/`)) objects.push(o.key);
      assert.deepEqual(objects.sort(), (await live()).map((f) => f.key).sort());
    } finally {
      await engine.close();
      await ctx.close();
    }
  });

  it('a group that cannot be merged holds up no other: the rest are merged, the run fails naming it', async () => {
    const { ctx, live, rows, silver } = await lake(9);
    const engine = await DuckDbEngine.create({ threads: 1, profile: false });
    try {
      await silver();
      const before = await live();
      const rowsBefore = await rows();
      let calls = 0;
      // The first group's write fails, as a file gone missing would make it.
      const failing = {
        dialect: engine.dialect,
        writeParquet: async (...a: Parameters<Engine['writeParquet']>) => {
          if (calls++ === 0) throw new Error('IO Error: No files found that match the pattern');
          return engine.writeParquet(...a);
        },
        interrupt: () => undefined,
        close: async () => undefined,
      } as unknown as Engine;
      const target = Math.max(...before.map((f) => f.bytes)) * 3;
      await assert.rejects(
        compactLake(ctx, { ...ANY, targetBytes: target, engine: failing }),
        /lake compact: 1 of \d+ groups could not be merged \(the others were\): payments\/bronze\/transactions\/dt=[\d-]+ \([23] files\): IO Error/,
      );
      assert.ok(calls >= 3, `the other groups were tried (${calls} writes)`);
      const after = await live();
      assert.ok(after.length < before.length, `the other groups merged (${before.length} → ${after.length} files)`);
      assert.ok(after.filter((f) => !f.key.includes('compacted-')).length >= 2, 'the failed group’s files stay');
      assert.deepEqual(await rows(), rowsBefore, 'the view, defined again after the merges, reads the same rows');
      const [run] = await ctx.meta.runs.list({ job: 'lake:compact' });
      assert.equal(run?.status, 'failed');
    } finally {
      await engine.close();
      await ctx.close();
    }
  });
});
