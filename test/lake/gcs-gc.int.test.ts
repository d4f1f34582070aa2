import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../../src/core/clock.js';
import { collectGarbage, type GcContext } from '../../src/lake/gc.js';
import { GcsStorage } from '../../src/lake/gcs/gcs-storage.js';
import { LakeReaderSession } from '../../src/lake/reader-session.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { Metrics } from '../../src/observability/metrics.js';
import { Runs } from '../../src/runs/runs.js';
import { createBucket, FAKE_GCS_BIN, gcsClient, INSTALL_HINT, type StandIn, startFakeGcs } from '../gcp-stand-ins.js';
import { cli, copyExample, tempDir } from '../helpers.js';
import { skipUnless } from '../launchers.js';

// finmesh lake gc on a lake in a Cloud Storage bucket, through the real client against fake-gcs-server.
const skip = skipUnless(FAKE_GCS_BIN !== undefined, 'fake-gcs-server', INSTALL_HINT);
const HOUR = 3_600_000;
let gcs: StandIn | undefined;
before(async () => {
  if (skip.skip) return;
  gcs = await startFakeGcs();
  process.env.STORAGE_EMULATOR_HOST = gcs.url;
});
after(async () => {
  await gcs?.stop();
});

/** Writes a file whose mtime is `at`. */
function writeAt(path: string, at: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `content of ${path}`);
  utimesSync(path, at / 1000, at / 1000);
  utimesSync(join(path, '..'), at / 1000, at / 1000);
}

describe('lake gc on a GCS lake', skip, () => {
  it('sweeps abandoned staging (on this machine and under .staging/ in the bucket) older than the age limit, and keeps what is being written', async () => {
    if (!gcs) return;
    const bucket = `finmesh-gc-${process.pid}`;
    await createBucket(gcs, bucket);
    const root = tempDir();
    const storage = await GcsStorage.create({ bucket, prefix: 'lake/', stagingRoot: join(root, 'staging') });
    const objects = async () =>
      (await (await gcsClient(gcs as StandIn)).bucket(bucket).getFiles({ prefix: 'lake/' }))[0].map((f) => f.name).sort();

    // A committed file, and in the bucket what a writer that died left under .staging/ (both written now).
    const dir = await storage.stagingDir();
    writeFileSync(join(dir, 'f.parquet'), 'live rows');
    const live = 'payments/bronze/transactions/dt=2026-11-27/part-core-1-9.parquet';
    const bytes = await storage.commit(join(dir, 'f.parquet'), live);
    await storage.discard(dir);
    writeFileSync(join(root, 'crashed.parquet'), 'half a batch');
    await storage.commit(join(root, 'crashed.parquet'), '.staging/crashed-writer/out/data_0.parquet');

    // Collect as if two hours had passed: the bucket's staging objects are then two hours old.
    const now = Date.now() + 2 * HOUR;
    const clock = new ManualClock(now);
    const abandoned = await storage.stagingDir();
    writeAt(join(abandoned, 'batch.ndjson'), now - 3 * HOUR);
    const writing = await storage.stagingDir();
    writeAt(join(writing, 'batch.ndjson'), now - 60_000);

    const meta = await SqliteMetadataStore.create({ path: join(root, 'metadata.db'), clock });
    const metrics = new Metrics({ processMetrics: false });
    const runs = new Runs({ meta, lineage: { emit() {} }, logger: pino({ level: 'silent' }), metrics, clock });
    const lakeReader = new LakeReaderSession({ readers: meta.readers, clock, process: 'the gc process' });
    const ctx: GcContext = { meta, storage, runs, clock, metrics, lakeReader };
    try {
      await meta.manifest.commit({
        dataset: 'payments/bronze/transactions',
        runId: 'run-1',
        add: [{ key: live, partition: 'dt=2026-11-27', rows: 1, bytes }],
        replace: [],
      });
      assert.ok((await objects()).includes('lake/.staging/crashed-writer/out/data_0.parquet'));

      const dry = await collectGarbage(ctx, { graceMs: 0, dryRun: true });
      assert.deepEqual(
        dry.staging.map((s) => [s.where, s.removed]).sort(),
        [
          ['lake', true],
          ['local', false],
          ['local', true],
        ],
        JSON.stringify(dry.staging),
      );
      assert.ok(
        existsSync(abandoned) && (await objects()).includes('lake/.staging/crashed-writer/out/data_0.parquet'),
        'a dry run removes nothing',
      );

      const report = await collectGarbage(ctx, { graceMs: 0 });
      assert.equal(report.staging.filter((s) => s.removed).length, 2);
      assert.ok(report.bytesFreed >= 'half a batch'.length);
      assert.equal(existsSync(abandoned), false, 'the abandoned local staging folder is gone');
      assert.ok(existsSync(join(writing, 'batch.ndjson')), 'a staging folder written a minute ago stays');
      assert.deepEqual(await objects(), [`lake/${live}`], 'the bucket keeps the committed file and loses the abandoned staging objects');
      assert.deepEqual(report.orphans, []);

      const again = await collectGarbage(ctx, { graceMs: 0 });
      assert.deepEqual(
        again.staging.map((s) => [s.where, s.removed]),
        [['local', false]],
      );
    } finally {
      await lakeReader.close();
      await runs.close();
      await meta.close();
    }
  });

  it('finmesh lake gc --target gcp removes the staging folders a crashed process left on this machine, and says so', async () => {
    if (!gcs) return;
    const bucket = `finmesh-gc-cli-${process.pid}`;
    await createBucket(gcs, bucket);
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), `targets:\n  gcp:\n    lake: { kind: gcs, bucket: ${bucket}, projectId: finmesh-test }\n`);
    // The adapter stages under the OS temporary folder, a folder per lake: give the CLI its own.
    const tmp = tempDir();
    const abandoned = join(tmp, 'finmesh-staging', bucket, 'a-crashed-stream');
    const writing = join(tmp, 'finmesh-staging', bucket, 'a-live-stream');
    const anotherLake = join(tmp, 'finmesh-staging', 'another-projects-bucket', 'its-crashed-stream');
    writeAt(join(abandoned, 'out', 'dt=2026-11-27', 'data_0.parquet'), Date.now() - 2 * HOUR);
    writeAt(join(anotherLake, 'batch.ndjson'), Date.now() - 2 * HOUR);
    writeAt(join(writing, 'batch.ndjson'), Date.now() - 60_000);
    const env = { STORAGE_EMULATOR_HOST: gcs.url, TMPDIR: tmp };

    const dry = cli(['lake', 'gc', '--dry-run', '--project', dir, '--target', 'gcp'], { env });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /staging: would remove 1 of 2 folders/);
    assert.ok(existsSync(abandoned));

    const r = cli(['lake', 'gc', '--project', dir, '--target', 'gcp', '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { staging: { key: string; where: string; removed: boolean }[] };
    assert.deepEqual(report.staging.map((s) => [s.key.endsWith('a-crashed-stream'), s.where, s.removed]).sort(), [
      [false, 'local', false],
      [true, 'local', true],
    ]);
    assert.equal(existsSync(abandoned), false, 'the crashed process’s staging folder is gone');
    assert.ok(existsSync(join(writing, 'batch.ndjson')), 'a folder written a minute ago stays');
    assert.ok(existsSync(join(anotherLake, 'batch.ndjson')), 'another lake’s staging on this machine is not this project’s to sweep');
  });
});
