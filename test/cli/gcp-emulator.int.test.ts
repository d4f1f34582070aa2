// A user's session on the emulated Google Cloud target, as typed: the project's changes streamed to bronze, bronze
// copied to the bucket (`gcloud storage rsync` in real life), `finmesh run --target emulator` builds every product in
// BigQuery (bqemulator reading fake-gcs-server's objects) and `finmesh test --target emulator` runs the contracts'
// checks there, in GoogleSQL, with the same outcomes as `finmesh test` on the local build; a rerun changes no row count.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BigQueryWarehouse } from '../../src/engine/bigquery/bigquery-warehouse.js';
import { BQEMU_BIN, createBucket, FAKE_GCS_BIN, gcsClient, INSTALL_HINT, startBigQueryEmulator, startFakeGcs } from '../gcp-stand-ins.js';
import { cli, copyExample } from '../helpers.js';
import { skipUnless } from '../launchers.js';

const PROJECT_ID = 'fintech-emulated';
const BUCKET = 'fintech-lake';
const skip = skipUnless(FAKE_GCS_BIN !== undefined && BQEMU_BIN !== undefined, 'fake-gcs-server and bqemulator', INSTALL_HINT);

interface CheckJson {
  checkId: string;
  status: string;
  severity: string;
  value?: number;
  message: string;
}
interface RunJson {
  loads: { jobId: string; ran: boolean }[];
  models: { model: string; dataset: string; status: string; jobs: { jobId: string }[]; checks?: { run: number } }[];
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.parquet') ? [join(dir, e.name)] : [],
  );
}

describe('finmesh run and test --target emulator (fake-gcs-server + bqemulator)', skip, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let wh: BigQueryWarehouse;
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  before(async () => {
    dir = copyExample();
    writeFileSync(
      join(dir, 'finmesh.yaml'),
      `${readFileSync(join(dir, 'finmesh.yaml'), 'utf8')}
targets:
  emulator:
    lake: { kind: gcs, bucket: ${BUCKET}, prefix: lake/, projectId: ${PROJECT_ID} }
    engine: { kind: bigquery, projectId: ${PROJECT_ID} }
`,
    );
    const gcs = await startFakeGcs();
    stops.push(gcs.stop);
    await createBucket(gcs, BUCKET);
    const bq = await startBigQueryEmulator({ project: PROJECT_ID, gcsRoot: gcs.root });
    stops.push(bq.stop);
    // The standard emulator variables, in the forms their clients document (BIGQUERY_EMULATOR_HOST as host:port).
    env = { STORAGE_EMULATOR_HOST: gcs.url, BIGQUERY_EMULATOR_HOST: `127.0.0.1:${bq.port}` };
    wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: bq.url });

    const ok = (args: string[]) => {
      const r = cli([...args, '--project', dir], { env });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r;
    };
    ok(['generate', '--seconds', '2', '--start', '2026-11-27T12:00:00Z']);
    ok(['stream', '--until-caught-up', '--no-models']);
    ok(['run']);
    // Bronze to the bucket under the lake's keys: what `gcloud storage rsync .finmesh/lake gs://<bucket>/lake` does.
    const lake = join(dir, '.finmesh/lake');
    const storage = await gcsClient(gcs);
    for (const f of files(lake).filter((x) => relative(lake, x).split('/')[1] === 'bronze'))
      await storage.bucket(BUCKET).upload(f, { destination: `lake/${relative(lake, f)}` });
  });

  async function bigQueryCounts(models: RunJson['models']): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const m of models) {
      const [dataset, table] = m.dataset.split('.') as [string, string];
      counts.set(m.dataset, await wh.rowCount(dataset, table));
    }
    return counts;
  }

  it('builds every product in BigQuery with the local row counts, checks it there as locally, and a rerun changes nothing', async () => {
    const run = cli(['run', '--project', dir, '--target', 'emulator', '--json'], { env });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const built = JSON.parse(run.stdout) as RunJson;
    assert.ok(built.loads.length > 0 && built.loads.every((l) => l.ran), 'each bronze batch is loaded once');
    assert.deepEqual(
      built.models.filter((m) => m.status !== 'succeeded').map((m) => m.model),
      [],
    );
    assert.ok(
      built.models.every((m) => m.jobs.length > 0 && m.jobs.every((j) => j.jobId) && (m.checks?.run ?? 0) > 0),
      'each model lists its BigQuery jobs and its checks ran after it',
    );

    // The published table carries the contract's description and its columns' descriptions (what Power BI shows).
    const published = await wh.table('payments_silver', 'transactions');
    assert.equal(published?.description, 'Every payment the app processed, latest version only, with direct identifiers tokenised.');
    assert.equal(
      published?.fields.find((f) => f.name === 'is_deleted')?.description,
      'true for a tombstone: the transaction was deleted at the source',
    );

    // Each model's BigQuery jobs are kept with its run: `finmesh runs <id> --json` lists them with their statistics.
    const model = built.models.find((m) => m.model === 'transactions') as RunJson['models'][number] & { runId: string };
    const shown = cli(['runs', model.runId, '--project', dir, '--target', 'emulator', '--json'], { env });
    assert.equal(shown.status, 0, shown.stderr);
    const detail = JSON.parse(shown.stdout) as {
      logs: { fields: Record<string, unknown> }[];
      warehouseJobs: { jobId: string; bytesProcessed: number; bytesBilled: number; slotMs: number }[];
    };
    // As fields of the run record, not only in its log.
    assert.deepEqual(
      detail.warehouseJobs.map((j) => [j.jobId, typeof j.bytesProcessed, typeof j.bytesBilled, typeof j.slotMs]),
      model.jobs.map((j) => [j.jobId, 'number', 'number', 'number']),
    );
    const kept = detail.logs.map((l) => l.fields);
    assert.deepEqual(
      kept.filter((f) => f.job_id !== undefined).map((f) => [f.job_id, typeof f.bytes_processed, typeof f.bytes_billed, typeof f.slot_ms]),
      model.jobs.map((j) => [j.jobId, 'number', 'number', 'number']),
    );

    const union = built.models.map((m) => `SELECT '${m.dataset}' AS dataset, count(*) AS n FROM ${m.dataset}`).join(' UNION ALL ');
    const local = cli(['query', union, '--project', dir, '--json'], { env });
    assert.equal(local.status, 0, local.stderr);
    const localCounts = new Map((JSON.parse(local.stdout) as { dataset: string; n: number }[]).map((r) => [r.dataset, Number(r.n)]));
    const counts = await bigQueryCounts(built.models);
    assert.deepEqual(counts, localCounts, "each product's rows in BigQuery are as many as locally");
    assert.ok((counts.get('payments_silver.transactions') ?? 0) > 0, 'over real rows');

    // Two rules that fail on purpose, added once the products are built (an error-level rule is also the build's quality
    // gate): one in finmesh's SQL (translated to GoogleSQL), one built in (fused into the scan).
    const contract = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    writeFileSync(
      contract,
      readFileSync(contract, 'utf8').replace(
        '      - { metric: rowCount, mustBeGreaterThan: 0, severity: error }\n',
        `      - { type: sql, name: pix_rows, description: fails on purpose, query: "SELECT count(*) FROM {object} WHERE payment_method = 'pix'", mustBe: 0, severity: error }
      - { metric: rowCount, mustBeLessThan: 10, severity: warning }
`,
      ),
    );
    // The same checks, in BigQuery and locally: the same outcomes and numbers (a freshness age differs by when it ran).
    const test = (target: string[]) => {
      const r = cli(['test', '--project', dir, ...target, '--json'], { env });
      assert.equal(r.status, 1, `an error-level rule fails on purpose: exit 1\n${r.stdout}${r.stderr}`);
      return new Map((JSON.parse(r.stdout) as { results: CheckJson[] }).results.map((c) => [c.checkId, c]));
    };
    const here = test([]);
    const there = test(['--target', 'emulator']);
    assert.deepEqual([...there.keys()].sort(), [...here.keys()].sort(), 'the same checks');
    for (const [id, l] of here) {
      const b = there.get(id) as CheckJson;
      if (id.endsWith('.schema_drift') && l.status === 'pass' && b.status === 'fail') {
        // The emulator types a SUM/COUNTIF or a BIGNUMERIC(38, 2) cast as plain NUMERIC (docs/google-cloud.md).
        for (const problem of b.message.split('; ')) assert.match(problem, /is NUMERIC, the contract says (BIGINT|DECIMAL\(38,2\))$/, id);
        continue;
      }
      assert.equal(b.status, l.status, `${id}: ${b.message} (locally: ${l.message})`);
      if (!id.endsWith('.freshness')) assert.equal(b.value, l.value, `${id}: ${b.message} (locally: ${l.message})`);
    }
    for (const id of ['transactions.dataset.pix_rows', 'transactions.dataset.rowCount']) {
      const failing = [here.get(id), there.get(id)].filter((c) => c?.status === 'fail' && (c.value ?? 0) > 0);
      assert.equal(failing.length, 2, `${id} fails locally and in BigQuery: ${JSON.stringify(failing)}`);
    }

    // Rerun: nothing is loaded again, and every product keeps its row count.
    const again = cli(['run', '--project', dir, '--target', 'emulator', '--json', '--no-checks'], { env });
    assert.equal(again.status, 0, again.stdout + again.stderr);
    const rerun = JSON.parse(again.stdout) as RunJson;
    assert.deepEqual(
      rerun.loads.filter((l) => l.ran),
      [],
      'a replayed load does nothing',
    );
    assert.deepEqual(await bigQueryCounts(rerun.models), counts);
  });

  it('a model whose input product was never built reads it as empty, as on the embedded engine, rather than failing', async () => {
    // reconciliation reads payments.transactions, whose table is gone: as before its first build.
    await wh.run(`DROP TABLE \`${PROJECT_ID}.payments_silver.transactions\``);
    assert.equal(await wh.tableExists('payments_silver', 'transactions'), false);
    const r = cli(['run', 'reconciliation', '--project', dir, '--target', 'emulator', '--json', '--no-checks'], { env });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const { models } = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(
      models.map((m) => [m.model, m.status]),
      [['reconciliation', 'succeeded']],
    );
    assert.equal(await wh.rowCount('payments_silver', 'transactions'), 0, 'the input is an empty table with its contract columns');
    assert.ok((await wh.columns('payments_silver', 'transactions')).includes('amount'));
  });
});
