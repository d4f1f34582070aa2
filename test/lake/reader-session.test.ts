import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { LakeReaderSession } from '../../src/lake/reader-session.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';

describe('lake reader sessions', () => {
  it('defines a dataset one definition at a time, in call order, so the view left is the last one listed; other datasets go on', async () => {
    const meta = await SqliteMetadataStore.create({ path: ':memory:' });
    const session = new LakeReaderSession({ readers: meta.readers, process: 'box 1 finmesh stream' });
    const log: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // A compaction's definition lists the files, then waits (its view still to be defined) while a commit's comes.
    const first = session.define('payments/bronze/transactions', async () => {
      log.push('compaction lists');
      await gate;
      log.push('compaction defines');
    });
    const second = session.define('payments/bronze/transactions', async () => {
      log.push('commit lists');
      log.push('commit defines');
    });
    await session.define('payments/silver/transactions', async () => {
      log.push('silver');
    });
    assert.deepEqual(log, ['compaction lists', 'silver'], 'another dataset is not held up; the second waits');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(log, ['compaction lists', 'silver', 'compaction defines', 'commit lists', 'commit defines']);
    // A failed definition does not stop the next one.
    await assert.rejects(
      session.define('payments/bronze/transactions', async () => {
        throw new Error('engine gone');
      }),
      /engine gone/,
    );
    assert.equal(await session.define('payments/bronze/transactions', async () => 42), 42);
    await session.close();
    await meta.close();
  });

  it('registers before its first view reads any file, moves a view’s time only once the new view is in place, and unregisters on close', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    const meta = await SqliteMetadataStore.create({ path: ':memory:', clock });
    const session = new LakeReaderSession({ readers: meta.readers, clock, process: 'box 1 finmesh serve' });
    const stored = async () => (await meta.readers.list(new Date(0))).map((r) => [r.process, r.views]);
    await session.publish();
    assert.deepEqual(await stored(), [], 'a process that defines no view does not register');

    const t0 = clock.now();
    await session.define('payments/silver/transactions', async () => {
      assert.deepEqual(
        await stored(),
        [['box 1 finmesh serve', { 'payments/silver/transactions': t0 }]],
        'registered before the file list is read',
      );
    });

    clock.advance(5000);
    await session.define('payments/silver/transactions', async () => {
      clock.advance(100);
      assert.deepEqual((await stored())[0]?.[1], { 'payments/silver/transactions': t0 }, 'the old view is still the one the engine runs');
    });
    assert.deepEqual(session.viewTimes(), { 'payments/silver/transactions': t0 + 5000 }, 'the time taken before the list was read');
    await session.publish();
    const [reader] = await meta.readers.list(new Date(0));
    assert.deepEqual(reader?.views, { 'payments/silver/transactions': t0 + 5000 });
    assert.equal(reader?.heartbeatAt.getTime(), clock.now(), 'a publish is a heartbeat');

    await session.close();
    assert.deepEqual(await stored(), [], 'unregistered on close');
    await session.close();
    await meta.close();
  });
});
