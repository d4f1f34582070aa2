import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { describeMetadataContract } from '../contracts/metadata-contract.js';
import { tempDir } from '../helpers.js';

describeMetadataContract('sqlite', async (clock) => {
  const path = join(tempDir(), 'metadata.db');
  return {
    store: await SqliteMetadataStore.create({ path, clock }),
    openAnother: (c) => SqliteMetadataStore.create({ path, clock: c }),
  };
});

describe('sqlite metadata store', () => {
  it('upgrades a store written by an earlier finmesh, Cosmos DB leases included', async () => {
    const path = join(tempDir(), 'old.db');
    const db = new Database(path);
    // The schema finmesh 0.1 shipped (three migrations) and its Cosmos lease table, kept outside them.
    db.exec(`CREATE TABLE runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, kind TEXT NOT NULL, parent_run_id TEXT,
        status TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, rows_in INTEGER NOT NULL DEFAULT 0,
        rows_out INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0, error TEXT);
      CREATE TABLE files (seq INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, key TEXT NOT NULL, partition TEXT,
        rows INTEGER NOT NULL, bytes INTEGER NOT NULL, run_id TEXT NOT NULL, committed_at INTEGER NOT NULL, retired_at INTEGER);
      CREATE TABLE datasets (dataset TEXT PRIMARY KEY, schema TEXT, inputs TEXT NOT NULL DEFAULT '{}', updated_at INTEGER NOT NULL);
      CREATE TABLE checkpoints (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE file_ledger (source TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
        sha256 TEXT NOT NULL, status TEXT NOT NULL, run_id TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (source, sha256, path));
      CREATE TABLE lineage_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, event_type TEXT NOT NULL,
        event_time TEXT NOT NULL, job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, event TEXT NOT NULL);
      CREATE TABLE check_results (run_id TEXT NOT NULL, check_id TEXT NOT NULL, product TEXT NOT NULL, column_name TEXT,
        rule TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL, value REAL, expected TEXT NOT NULL,
        message TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE cosmos_leases (source TEXT NOT NULL, range_id TEXT NOT NULL, range TEXT NOT NULL, continuation TEXT,
        owner TEXT, heartbeat INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (source, range_id));
      INSERT INTO runs (run_id, job, kind, status, started_at) VALUES ('old-run', 'stream', 'stream', 'running', 1000);
      INSERT INTO cosmos_leases VALUES ('app-cosmos', 'r0', '{}', 'tok-9', NULL, 0);
      PRAGMA user_version = 3;`);
    db.close();
    const meta = await SqliteMetadataStore.create({ path });
    try {
      assert.deepEqual(
        (await meta.leases.list('app-cosmos')).map((l) => [l.rangeId, l.continuation]),
        [['r0', 'tok-9']],
      );
      const expired = await meta.runs.expire(new Date(2000), new Date(3000));
      assert.deepEqual(
        expired.map((r) => r.runId),
        ['old-run'],
        'a run left running by an old version is expired like any other',
      );
    } finally {
      await meta.close();
    }
  });

  it('says the project has not run yet when a read command finds no store, and creates nothing', async () => {
    const path = join(tempDir(), 'none.db');
    await assert.rejects(SqliteMetadataStore.create({ path, mustExist: true }), /has the project run yet/);
    assert.ok(!existsSync(path));
  });
});
