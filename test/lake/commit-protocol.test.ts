import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStorage } from '../../src/lake/local/local-storage.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { tempDir } from '../helpers.js';

describe('local lake storage and the file manifest', () => {
  it('commits a staged file under its key, and a replayed key replaces the live file instead of adding one', async () => {
    const root = tempDir();
    const storage = new LocalStorage(join(root, 'lake'));
    const meta = await SqliteMetadataStore.create({ path: join(root, 'meta.db') });
    const key = 'payments/bronze/transactions/dt=2026-11-27/part-core-1-10.parquet';
    for (const content of ['first', 'replayed']) {
      const staging = await storage.stagingDir();
      writeFileSync(join(staging, 'x.parquet'), content);
      const bytes = await storage.commit(join(staging, 'x.parquet'), key);
      await meta.manifest.commit({
        dataset: 'payments/bronze/transactions',
        runId: 'r',
        add: [{ key, partition: 'dt=2026-11-27', rows: 10, bytes }],
        replace: [],
      });
      await storage.discard(staging);
    }
    const live = await meta.manifest.liveFiles('payments/bronze/transactions');
    assert.equal(live.length, 1);
    assert.equal(live[0]?.bytes, 'replayed'.length);
    assert.deepEqual(
      (await meta.manifest.summaries()).map((d) => [d.dataset, d.rows, d.files]),
      [['payments/bronze/transactions', 10, 1]],
    );
    assert.deepEqual(readdirSync(join(root, 'lake', '.staging')), [], 'staging is cleaned up');
    await meta.close();
  });

  it('swaps a dataset’s file set in one commit: readers see the old set or the new, never both', async () => {
    const meta = await SqliteMetadataStore.create({ path: ':memory:' });
    await meta.manifest.commit({ dataset: 'd', runId: 'r1', add: [{ key: 'd/part-a.parquet', rows: 5, bytes: 1 }], replace: [] });
    await meta.manifest.commit({
      dataset: 'd',
      runId: 'r2',
      add: [{ key: 'd/part-b.parquet', rows: 7, bytes: 1 }],
      replace: ['d/part-a.parquet'],
    });
    assert.deepEqual(
      (await meta.manifest.liveFiles('d')).map((f) => f.key),
      ['d/part-b.parquet'],
    );
    assert.deepEqual(
      (await meta.manifest.retired(new Date(Date.now() + 1000))).map((f) => f.key),
      ['d/part-a.parquet'],
    );
    await meta.close();
  });

  it('refuses keys that escape the lake root', () => {
    const storage = new LocalStorage(join(tempDir(), 'lake'));
    assert.throws(() => storage.readPath('../../etc/passwd'), /escapes the lake root/);
  });
});
