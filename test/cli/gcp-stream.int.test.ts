// The stream and the demo on the emulated Google Cloud target, as a user types them: `finmesh stream --target emulator`
// commits bronze straight into the bucket (fake-gcs-server) and keeps the products fresh in BigQuery (bqemulator), and
// `finmesh demo --target emulator` runs the example end to end there, its changes travelling over Pub/Sub (pstest).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BigQueryWarehouse } from '../../src/engine/bigquery/bigquery-warehouse.js';
import {
  BQEMU_BIN,
  createBucket,
  FAKE_GCS_BIN,
  gcsClient,
  INSTALL_HINT,
  PSTEST_BIN,
  type StandIn,
  startBigQueryEmulator,
  startFakeGcs,
  startPstest,
} from '../gcp-stand-ins.js';
import { cli, copyExample, tempDir } from '../helpers.js';
import { skipUnless } from '../launchers.js';

const PROJECT_ID = 'fintech-emulated';
const BUCKET = 'fintech-lake';
const skip = skipUnless(
  FAKE_GCS_BIN !== undefined && BQEMU_BIN !== undefined && PSTEST_BIN !== undefined,
  'fake-gcs-server, pstest and bqemulator',
  `${INSTALL_HINT}; --with-bigquery for bqemulator`,
);

interface StreamJson {
  committed: Record<string, number>;
  batches: number;
  models: { ran: number; failed: number; failures: unknown[] };
}

/** Parquet files under `dir` (none when it does not exist). */
function parquetFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.parquet'))
    .map((e) => join(e.parentPath, e.name));
}

describe('finmesh stream and demo --target emulator (fake-gcs-server + bqemulator + pstest)', skip, () => {
  const stops: (() => Promise<void>)[] = [];
  let gcs: StandIn & { root: string };
  let pubsub: StandIn;
  let wh: BigQueryWarehouse;
  let env: NodeJS.ProcessEnv = {};
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  before(async () => {
    gcs = await startFakeGcs();
    stops.push(gcs.stop);
    await createBucket(gcs, BUCKET);
    pubsub = await startPstest();
    stops.push(pubsub.stop);
  });

  /** A fresh BigQuery emulator for one test (its tables start empty), and the standard emulator variables. */
  async function freshBigQuery(): Promise<void> {
    const bq = await startBigQueryEmulator({ project: PROJECT_ID, gcsRoot: gcs.root });
    stops.push(bq.stop);
    // In the forms their clients document (BIGQUERY_EMULATOR_HOST as host:port).
    env = { STORAGE_EMULATOR_HOST: gcs.url, BIGQUERY_EMULATOR_HOST: `127.0.0.1:${bq.port}`, PUBSUB_EMULATOR_HOST: pubsub.url };
    wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: bq.url });
  }

  /** The bucket's objects under `prefix`. */
  async function objects(prefix: string): Promise<string[]> {
    const [files] = await (await gcsClient(gcs)).bucket(BUCKET).getFiles({ prefix });
    return files.map((f) => f.name);
  }

  it('streams bronze into the bucket and builds the products in BigQuery as the local stream does; a second start adds nothing', async () => {
    await freshBigQuery();
    const dir = copyExample();
    // Its own metadata store: the same changes are streamed again on the local target, from the start, to compare.
    writeFileSync(
      join(dir, 'finmesh.yaml'),
      `${readFileSync(join(dir, 'finmesh.yaml'), 'utf8')}
targets:
  emulator:
    lake: { kind: gcs, bucket: ${BUCKET}, prefix: stream/, projectId: ${PROJECT_ID} }
    engine: { kind: bigquery, projectId: ${PROJECT_ID} }
    metadata: { kind: sqlite, path: .finmesh/emulator.db }
`,
    );
    const ok = (args: string[]) => {
      const r = cli([...args, '--project', dir], { env });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r;
    };
    ok(['generate', '--seconds', '2', '--start', '2026-11-27T12:00:00Z']);

    const first = JSON.parse(ok(['stream', '--target', 'emulator', '--until-caught-up', '--json']).stdout) as StreamJson;
    const committed = first.committed['core-transactions'] ?? 0;
    assert.ok(committed > 0 && first.batches > 0, JSON.stringify(first));
    assert.equal(first.models.failed, 0, JSON.stringify(first.models.failures));
    assert.ok(first.models.ran > 0, 'the models ran after the stream caught up');

    // Bronze is in the bucket, under the lake's layout, and nowhere on local disk.
    const bronze = await objects('stream/payments/bronze/transactions/dt=');
    assert.ok(bronze.length > 0 && bronze.every((o) => o.endsWith('.parquet')), bronze.join(', '));
    assert.deepEqual(parquetFiles(join(dir, '.finmesh/lake')), [], 'no bronze on local disk');
    // Every committed change was loaded into BigQuery once.
    assert.equal(await wh.rowCount('payments_bronze', 'transactions'), committed);

    // A query of the lake with the embedded DuckDB is refused on this target, saying why and where to query instead.
    const q = cli(['query', 'SELECT count(*) FROM payments_silver.transactions', '--target', 'emulator', '--project', dir], { env });
    assert.equal(q.status, 2, q.stdout + q.stderr);
    assert.match(
      q.stderr,
      /target "emulator": finmesh query reads the lake with the embedded DuckDB, which cannot read a gcs lake's objects/,
    );

    // The same changes through the local stream, into the local lake and DuckDB: each product has as many rows there.
    ok(['stream', '--until-caught-up']);
    const products = ['payments_silver.transactions', 'payments_gold.daily_volume_by_method', 'payments_silver.merchants'];
    const local = JSON.parse(
      ok(['query', products.map((p) => `SELECT '${p}' AS dataset, count(*) AS n FROM ${p}`).join(' UNION ALL '), '--json']).stdout,
    ) as { dataset: string; n: number }[];
    const counts = async () => {
      const m = new Map<string, number>();
      for (const p of products) m.set(p, await wh.rowCount(...(p.split('.') as [string, string])));
      return m;
    };
    const inBigQuery = await counts();
    assert.deepEqual(inBigQuery, new Map(local.map((r) => [r.dataset, Number(r.n)])), 'each product as locally');
    assert.ok((inBigQuery.get('payments_silver.transactions') ?? 0) > 0, 'over real rows');

    // Started again with nothing new: nothing is committed or loaded twice, and every count stays.
    const again = JSON.parse(ok(['stream', '--target', 'emulator', '--until-caught-up', '--json']).stdout) as StreamJson;
    assert.deepEqual(
      Object.values(again.committed).filter((n) => n > 0),
      [],
    );
    assert.equal(again.models.failed, 0, JSON.stringify(again.models.failures));
    assert.equal(await wh.rowCount('payments_bronze', 'transactions'), committed);
    assert.deepEqual(await counts(), inBigQuery);
  });

  it('`finmesh demo --target emulator` runs the example end to end on the stand-ins and says where everything is', async () => {
    await freshBigQuery();
    const dir = join(tempDir(), 'demo');
    const r = cli(['demo', '--target', 'emulator', '--seconds', '6', '--dir', dir, '--port', '0', '--json'], { env });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const s = JSON.parse(r.stdout) as {
      where: Record<string, string>;
      events: Record<string, number>;
      transactions: { generated: number; bronze: number; silver: number; gold: number };
      runs: { failed: number; succeeded: number };
      failures: unknown[];
      datasets: { dataset: string; zone: string; rows: number }[];
    };
    assert.deepEqual(s.where, {
      target: 'emulator',
      lake: `gs://${BUCKET}/lake/`,
      engine: `bigquery project ${PROJECT_ID}`,
      bus: 'pubsub',
    });
    assert.equal(s.runs.failed, 0, JSON.stringify(s.failures));
    assert.ok(s.runs.succeeded > 0);
    // The app's transactions went through Pub/Sub into bronze in the bucket, and every one reached silver and gold in BigQuery.
    assert.ok(s.transactions.generated > 0, JSON.stringify(s.transactions));
    assert.equal(s.transactions.silver, s.transactions.generated, 'every transaction the app made reached silver');
    assert.equal(s.transactions.gold, s.transactions.silver, 'gold counts every silver transaction');
    assert.equal(await wh.rowCount('payments_silver', 'transactions'), s.transactions.silver, 'silver is the BigQuery table');
    assert.equal(await wh.rowCount('payments_bronze', 'transactions'), s.events['core-transactions'], 'bronze loaded once');
    assert.ok((await objects('lake/payments/bronze/transactions/')).length > 0, 'bronze objects in the bucket');
    assert.deepEqual(
      parquetFiles(join(dir, '.finmesh/lake')).filter((f) => f.includes('/bronze/')),
      [],
      'no bronze on local disk',
    );
    // Each product was checked in BigQuery after its build: a check run under each of its model runs.
    const shown = cli(['runs', '--project', dir, '--json'], { env });
    assert.equal(shown.status, 0, shown.stderr);
    const jobs = (JSON.parse(shown.stdout) as { jobs: { job: string; runs: { runId: string; parentRunId?: string; rowsIn: number }[] }[] })
      .jobs;
    const models = jobs.filter((j) => j.job.startsWith('model:'));
    assert.equal(models.length, s.datasets.filter((d) => d.zone === 'silver' || d.zone === 'gold').length, 'every product was built');
    for (const m of models) {
      const checks = jobs.find((j) => j.job === m.job.replace('model:', 'check:'));
      const modelRuns = new Set(m.runs.map((r) => r.runId));
      assert.ok(
        checks && checks.runs.length > 0 && checks.runs.every((c) => c.rowsIn > 0 && modelRuns.has(c.parentRunId ?? '')),
        `${m.job}: its checks ran after each build (${JSON.stringify(checks)})`,
      );
    }
  });
});
