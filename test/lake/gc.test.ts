import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { projectConfigSchema } from '../../src/config/schema.js';
import { ManualClock } from '../../src/core/clock.js';
import { collectGarbage, type GcContext, type GcOptions } from '../../src/lake/gc.js';
import { LocalStorage } from '../../src/lake/local/local-storage.js';
import { LakeReaderSession } from '../../src/lake/reader-session.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Runs } from '../../src/runs/runs.js';
import { tempDir } from '../helpers.js';

const D = 'payments/silver/transactions';
const HOUR = 3_600_000;

/** A lake, its metadata store and a GC context, all on one manual clock. */
async function lakeFixture() {
  const clock = new ManualClock(Date.now());
  const root = tempDir();
  const storage = new LocalStorage(join(root, 'lake'));
  const meta = await SqliteMetadataStore.create({ path: join(root, 'metadata.db'), clock });
  const metrics = new Metrics({ processMetrics: false });
  const runs = new Runs({ meta, lineage: { emit() {} }, logger: pino({ level: 'silent' }), metrics, clock });
  const sessions: LakeReaderSession[] = [];
  const reader = (process: string) => {
    const s = new LakeReaderSession({ readers: meta.readers, clock, process });
    sessions.push(s);
    return s;
  };
  const ctx: GcContext = { meta, storage, runs, clock, metrics, lakeReader: reader('the gc process') };
  let n = 0;
  /** Commits one file to `dataset`, replacing `replace`; returns its key. */
  const commit = async (dataset: string, replace: string[] = []) => {
    const key = `${dataset}/dt=2026-11-27/part-${n++}.parquet`;
    const dir = await storage.stagingDir();
    writeFileSync(join(dir, 'f.parquet'), `file ${key}`);
    const bytes = await storage.commit(join(dir, 'f.parquet'), key);
    await storage.discard(dir);
    await meta.manifest.commit({ dataset, runId: `run-${n}`, add: [{ key, partition: 'dt=2026-11-27', rows: 1, bytes }], replace });
    return key;
  };
  const exists = (key: string) => existsSync(storage.readPath(key));
  const gc = (o: Partial<GcOptions> = {}) => collectGarbage(ctx, { graceMs: 0, ...o });
  const close = async () => {
    for (const s of sessions) await s.close();
    await runs.close();
    await meta.close();
  };
  return { clock, storage, meta, metrics, ctx, reader, commit, exists, gc, close, root };
}

type Fixture = Awaited<ReturnType<typeof lakeFixture>>;

describe('lake garbage collection', () => {
  let fx: Fixture | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('keeps a file retired after a live reader defined its view, naming the reader, and deletes it once no view lists it', async () => {
    fx = await lakeFixture();
    const { clock, meta, reader, commit, exists, gc } = fx;
    const old = await commit(D);
    const serve = reader('box 4242 finmesh serve');
    await serve.define(D, async () => undefined);
    const other = reader('box 4343 finmesh query');
    await other.define('payments/gold/daily_volume', async () => undefined);
    clock.advance(5000);
    const current = await commit(D, [old]);
    clock.advance(2000);

    const first = await gc();
    assert.deepEqual(first.deleted, []);
    assert.deepEqual(
      first.kept.map((k) => [k.key, k.reason, k.readers]),
      [[old, 'reader', ['box 4242 finmesh serve']]],
      'only the reader whose view of that dataset predates the replacement holds it',
    );
    assert.ok(exists(old) && (await meta.manifest.knows(old)));

    // The reader refreshes its view (after the replacement) and heartbeats: nothing holds the old file any more.
    await serve.define(D, async () => undefined);
    await serve.publish();
    const second = await gc();
    assert.deepEqual(
      second.deleted.map((f) => [f.key, f.dataset]),
      [[old, D]],
    );
    assert.equal(second.bytesFreed, `file ${old}`.length);
    assert.equal(exists(old), false, 'the object is deleted');
    assert.equal(await meta.manifest.knows(old), false, 'and the manifest forgot it');
    assert.ok(exists(current), 'the live file stays');
    assert.deepEqual(
      (await meta.manifest.liveFiles(D)).map((f) => f.key),
      [current],
    );
    assert.deepEqual((await gc()).deleted, [], 'nothing left to collect');
    const runs = await meta.runs.list({ job: 'lake:gc' });
    assert.ok(
      runs.length === 3 && runs.every((r) => r.kind === 'gc' && r.status === 'succeeded'),
      JSON.stringify(runs.map((r) => [r.kind, r.status])),
    );
    assert.deepEqual(runs.map((r) => r.rowsOut).sort(), [0, 0, 1], 'a run counts the files it deleted');
  });

  it('lets a dead reader (no heartbeat for the expiry) hold nothing, and unregisters it', async () => {
    fx = await lakeFixture();
    const { clock, meta, reader, commit, exists, gc } = fx;
    const old = await commit(D);
    const crashed = reader('box 99 finmesh stream');
    await crashed.define(D, async () => undefined);
    clock.advance(1000);
    await commit(D, [old]);
    clock.advance(30_000);
    const alive = await gc();
    assert.deepEqual(
      alive.kept.map((k) => k.readers),
      [['box 99 finmesh stream']],
      'alive 30 s after its last heartbeat',
    );

    clock.advance(31_000);
    const report = await gc();
    assert.deepEqual(
      report.deleted.map((f) => f.key),
      [old],
    );
    assert.deepEqual(report.readers.expired, ['box 99 finmesh stream']);
    assert.equal(exists(old), false);
    assert.deepEqual(await meta.readers.list(new Date(0)), [], 'the dead reader is unregistered');
  });

  it('respects the grace: a file retired less than the grace ago stays, whoever reads', async () => {
    fx = await lakeFixture();
    const { clock, commit, exists, gc } = fx;
    const old = await commit(D);
    await commit(D, [old]);
    clock.advance(5 * 60_000);
    const early = await gc({ graceMs: 10 * 60_000 });
    assert.deepEqual(
      early.kept.map((k) => [k.key, k.reason]),
      [[old, 'grace']],
    );
    assert.ok(exists(old));
    clock.advance(5 * 60_000);
    assert.deepEqual(
      (await gc({ graceMs: 10 * 60_000 })).deleted.map((f) => f.key),
      [old],
    );
    assert.equal(exists(old), false);
  });

  it('deletes nothing in a dry run, and reports what it would delete', async () => {
    fx = await lakeFixture();
    const { clock, meta, metrics, commit, exists, gc, storage } = fx;
    const old = await commit(D);
    await commit(D, [old]);
    const orphan = `${D}/dt=2026-11-27/part-crashed-run.parquet`;
    writeOld(storage.readPath(orphan), 2 * HOUR);
    const staging = await storage.stagingDir();
    writeOld(join(staging, 'batch.ndjson'), 2 * HOUR);
    const dead = fx.reader('box 7 finmesh run');
    await dead.define(D, async () => undefined);
    clock.advance(2 * 60_000);
    const report = await gc({ dryRun: true });
    assert.equal(report.dryRun, true);
    assert.deepEqual(
      report.deleted.map((f) => f.key),
      [old],
    );
    assert.deepEqual(
      report.orphans.map((o) => [o.key, o.deleted]),
      [[orphan, true]],
    );
    assert.equal(report.staging.length, 1);
    assert.ok(report.bytesFreed > 0);
    assert.ok(exists(old) && exists(orphan) && existsSync(staging), 'nothing deleted');
    assert.ok(await meta.manifest.knows(old), 'nothing forgotten');
    assert.equal((await meta.readers.list(new Date(0))).length, 1, 'no reader unregistered');
    assert.doesNotMatch(await metrics.registry.metrics(), /finmesh_lake_gc_files_total\{outcome="deleted"\} [1-9]/);
  });

  it('removes abandoned staging folders, and deletes only old orphans of derived zones', async () => {
    fx = await lakeFixture();
    const { storage, meta, commit, exists, gc, metrics } = fx;
    const live = await commit(D);
    const abandoned = await storage.stagingDir();
    writeOld(join(abandoned, 'out', 'dt=2026-11-27', 'data_0.parquet'), 2 * HOUR);
    const writing = await storage.stagingDir();
    writeOld(join(writing, 'batch.ndjson'), 60_000);
    const oldOrphan = `${D}/dt=2026-11-26/part-crashed.parquet`;
    const youngOrphan = `${D}/dt=2026-11-27/part-in-flight.parquet`;
    writeOld(storage.readPath(oldOrphan), 2 * HOUR);
    writeOld(storage.readPath(youngOrphan), 60_000);
    // Not finmesh's to judge: hidden names (another tool's temporary files) and landing (files as received).
    writeOld(storage.readPath(`${D}/_tmp-part.parquet`), 2 * HOUR);
    writeOld(storage.readPath('partners/landing/settlements/dt=2026-11-26/received.parquet'), 2 * HOUR);

    const report = await gc();
    assert.deepEqual(report.staging.map((s) => [s.key.split('/').length, s.removed]).sort(), [
      [3, false],
      [3, true],
    ]);
    assert.equal(existsSync(abandoned), false, 'the abandoned staging folder is gone');
    assert.ok(existsSync(join(writing, 'batch.ndjson')), 'a staging folder written a minute ago stays');
    assert.deepEqual(report.orphans.map((o) => [o.key, o.deleted]).sort(), [
      [oldOrphan, true],
      [youngOrphan, false],
    ]);
    assert.equal(exists(oldOrphan), false);
    assert.ok(exists(youngOrphan), 'a young unknown file may be a commit in flight');
    assert.ok(exists(live) && (await meta.manifest.knows(live)));
    assert.ok(exists(`${D}/_tmp-part.parquet`) && exists('partners/landing/settlements/dt=2026-11-26/received.parquet'));
    assert.match(await metrics.registry.metrics(), /finmesh_lake_gc_freed_bytes_total [1-9]/);
  });
});

describe('lake.gc in finmesh.yaml', () => {
  it('defaults to no grace and a collection every 5 minutes, and refuses what is not a duration', () => {
    const base = { apiVersion: 'finmesh/v1', name: 'p' };
    assert.deepEqual(projectConfigSchema.parse(base).lake.gc, { grace: '0s', every: '5m' });
    assert.deepEqual(projectConfigSchema.parse({ ...base, lake: { kind: 'local', gc: { grace: '1h' } } }).lake.gc, {
      grace: '1h',
      every: '5m',
    });
    const bad = projectConfigSchema.safeParse({ ...base, lake: { kind: 'local', gc: { grace: 'an hour' } } });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ['lake', 'gc', 'grace']);
  });
});

/** Writes a file whose mtime is `ageMs` in the past. */
function writeOld(path: string, ageMs: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `content of ${path}`);
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}
