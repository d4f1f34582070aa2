import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStorage } from '../../src/lake/local/local-storage.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { tempDir } from '../helpers.js';

describe('local lake storage and the file manifest', () => {
  it('commits a staged file under its key, and a replayed key replaces the live file instead of adding one', async () => {
    const root = tempDir();
    const storage = new LocalStorage(join(root, 'lake'));
    const meta = SqliteMetadataStore.open(join(root, 'meta.db'));
    const key = 'payments/bronze/transactions/dt=2026-11-27/part-core-1-10.parquet';
    for (const content of ['first', 'replayed']) {
      const staging = await storage.stagingDir();
      writeFileSync(join(staging, 'x.parquet'), content);
      const bytes = await storage.commit(join(staging, 'x.parquet'), key);
      meta.commitFiles({
        dataset: 'payments/bronze/transactions',
        runId: 'r',
        add: [{ key, partition: 'dt=2026-11-27', rows: 10, bytes }],
        replace: [],
      });
      await storage.discard(staging);
    }
    const live = meta.liveFiles('payments/bronze/transactions');
    assert.equal(live.length, 1);
    assert.equal(live[0]?.bytes, 'replayed'.length);
    assert.deepEqual(
      meta.datasetSummaries().map((d) => [d.dataset, d.rows, d.files]),
      [['payments/bronze/transactions', 10, 1]],
    );
    assert.deepEqual(readdirSync(join(root, 'lake', '.staging')), [], 'staging is cleaned up');
    meta.close();
  });

  it('swaps a dataset’s file set in one commit: readers see the old set or the new, never both', () => {
    const meta = SqliteMetadataStore.open(':memory:');
    meta.commitFiles({ dataset: 'd', runId: 'r1', add: [{ key: 'd/part-a.parquet', rows: 5, bytes: 1 }], replace: [] });
    meta.commitFiles({ dataset: 'd', runId: 'r2', add: [{ key: 'd/part-b.parquet', rows: 7, bytes: 1 }], replace: ['d/part-a.parquet'] });
    assert.deepEqual(
      meta.liveFiles('d').map((f) => f.key),
      ['d/part-b.parquet'],
    );
    assert.deepEqual(
      meta.retiredFiles(-1).map((f) => f.key),
      ['d/part-a.parquet'],
    );
    meta.close();
  });

  it('refuses keys that escape the lake root', () => {
    const storage = new LocalStorage(join(tempDir(), 'lake'));
    assert.throws(() => storage.readPath('../../etc/passwd'), /escapes the lake root/);
  });

  it('keeps runs, checkpoints and the file ledger', () => {
    const meta = SqliteMetadataStore.open(':memory:');
    meta.startRun({ runId: 'r1', job: 'model:x', kind: 'model', startedAt: new Date(1000) });
    meta.finishRun('r1', { status: 'failed', endedAt: new Date(2000), error: 'boom' });
    assert.deepEqual(
      meta.listRuns().map((r) => [r.runId, r.status, r.error]),
      [['r1', 'failed', 'boom']],
    );
    assert.throws(() => meta.finishRun('nope', { status: 'succeeded', endedAt: new Date() }), /no run nope/);
    meta.setCheckpoint('src', '41');
    meta.setCheckpoint('src', '42');
    assert.equal(meta.getCheckpoint('src'), '42');
    meta.ledgerRecord({
      source: 's',
      path: '/a.txt',
      size: 3,
      mtime: new Date(5),
      sha256: 'abc',
      status: 'ingested',
      runId: 'r1',
      seenAt: new Date(6),
    });
    assert.equal(meta.ledgerFind('s', 'abc')?.path, '/a.txt');
    assert.equal(meta.ledgerFind('s', 'def'), undefined);
    meta.close();
  });

  it('a reader process opens the store read-only and fails clearly when the project never ran', () => {
    const path = join(tempDir(), 'none.db');
    assert.throws(() => SqliteMetadataStore.open(path, { readonly: true }), /has the project run yet/);
    assert.ok(!existsSync(path));
  });
});
