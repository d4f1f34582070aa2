// The same project built in BigQuery: bronze committed to the lake reaches BigQuery (the emulator, reading the objects
// fake-gcs-server serves) by load jobs, every model runs there translated to GoogleSQL, and each product's rows equal
// the local DuckDB build of the same input. A replayed load and a rerun leave every row count as it was.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { datasetKey, sqlName } from '../../src/config/project.js';
import { BigQueryWarehouse } from '../../src/engine/bigquery/bigquery-warehouse.js';
import { buildDag } from '../../src/engine/dag.js';
import { loadBronze, runModelsInBigQuery } from '../../src/jobs/bigquery-build.js';
import { runModels } from '../../src/jobs/transform.js';
import { exampleApp } from '../example-app.js';
import { BQEMU_BIN, createBucket, FAKE_GCS_BIN, gcsClient, INSTALL_HINT, startBigQueryEmulator, startFakeGcs } from '../gcp-stand-ins.js';
import { TEST_KEY } from '../helpers.js';
import { skipUnless } from '../launchers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;
const PROJECT_ID = 'fintech-emulated';
const BUCKET = 'fintech-lake';
const skip = skipUnless(FAKE_GCS_BIN !== undefined && BQEMU_BIN !== undefined, 'fake-gcs-server and bqemulator', INSTALL_HINT);

/** A value as both engines' clients can agree on it: numbers at 6 decimals, instants and dates as ISO text. */
function normal(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object' && v !== null && 'value' in v) return normal((v as { value: unknown }).value);
  // NUMERIC/BIGNUMERIC arrive from the BigQuery client as Big numbers.
  if (typeof v === 'object' && v !== null && v.constructor?.name === 'Big') return Number(String(v)).toFixed(6);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v).toFixed(6);
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v).toFixed(6);
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v))
    return new Date(
      v
        .replace(' ', 'T')
        .replace(/(\+00(:00)?)?$/, 'Z')
        .replace('ZZ', 'Z'),
    ).toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
function rowsOf(rows: Record<string, unknown>[], columns: string[]): string[] {
  return rows.map((r) => JSON.stringify(columns.map((c) => normal(r[c])))).sort();
}

describe('the example built in BigQuery (emulated) from bronze in GCS', skip, () => {
  it('builds every product with the rows of the local DuckDB build; replays and reruns change no row count', async () => {
    const { project, ctx, sim, streamed } = await exampleApp({
      sim: { customers: 200, merchants: 30, transactionsPerSecond: 100, start: new Date('2026-11-27T23:59:50Z') },
    });
    const gcs = await startFakeGcs();
    let bq: Awaited<ReturnType<typeof startBigQueryEmulator>> | undefined;
    try {
      await streamed(sim.referenceData());
      for (let i = 0; i < 4; i++) await streamed(sim.advance(5000));
      const local = await runModels(ctx, { checks: false });
      assert.deepEqual(
        local.filter((r) => r.status !== 'succeeded'),
        [],
        'the local build succeeds',
      );

      // Bronze in GCS: the committed bronze objects, uploaded through the Cloud Storage API under the same keys.
      await createBucket(gcs, BUCKET);
      const storage = await gcsClient(gcs);
      for (const source of project.sources)
        for (const f of await ctx.meta.manifest.liveFiles(datasetKey(source.dataset)))
          await storage.bucket(BUCKET).upload(ctx.storage.readPath(f.key), { destination: f.key });
      bq = await startBigQueryEmulator({ project: PROJECT_ID, gcsRoot: gcs.root });
      const wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: bq.url });
      const options = {
        projectId: PROJECT_ID,
        uri: (key: string) => `gs://${BUCKET}/${key}`,
        tokenizationKey: TEST_KEY,
        columnsOf: async (d: Parameters<typeof sqlName>[0]) => ctx.engine.describe(`SELECT * FROM ${sqlName(d)}`),
      };
      const loads = await loadBronze(project, ctx.meta, wh, options);
      assert.ok(loads.length > 0 && loads.every((l) => l.ran), 'each committed bronze file is loaded once');
      const models = await runModelsInBigQuery(project, ctx.engine, wh, options);
      assert.deepEqual(
        models.filter((m) => m.status !== 'succeeded').map((m) => [m.model, m.error]),
        [],
        'every model builds in BigQuery',
      );
      assert.ok(
        models.every((m) => m.jobs.length > 0 && m.jobs.every((j) => j.jobId)),
        'each model records its jobs',
      );

      const counts = new Map<string, number>();
      for (const p of project.products.filter((x) => x.modelFile)) {
        const name = sqlName(p.dataset);
        const duck = await ctx.engine.query(`SELECT * FROM ${name}`);
        // Tokens are compared by what they tie together, not by value: the emulator concatenates BYTES as their escaped
        // text (CONCAT and || alike), so its HMAC differs from BigQuery's; the GoogleSQL is BigQuery's (docs/bigquery.md).
        const tokens = duck.columns.map((c) => c.name).filter((c) => c.endsWith('_token'));
        const columns = duck.columns.map((c) => c.name).filter((c) => !tokens.includes(c));
        const cloud = await wh.run(`SELECT * FROM \`${PROJECT_ID}.${name}\``);
        assert.deepEqual(rowsOf(cloud.rows, columns), rowsOf(duck.rows, columns), `${name}: BigQuery's rows equal DuckDB's`);
        for (const t of tokens) {
          const distinct = (rows: Record<string, unknown>[]) => new Set(rows.map((r) => r[t])).size;
          assert.equal(distinct(cloud.rows), distinct(duck.rows), `${name}.${t}: as many distinct tokens`);
          assert.ok(
            cloud.rows.every((r) => r[t] === null || /^[0-9a-f]{64}$/.test(String(r[t]))),
            `${name}.${t}: HMAC-SHA256 hex`,
          );
        }
        counts.set(name, cloud.rows.length);
      }
      assert.ok((counts.get('payments_silver.transactions') ?? 0) > 0, 'the comparison is over real rows');

      // A replayed batch is not loaded again, and a rerun of every model leaves every table's row count as it was.
      const again = await loadBronze(project, ctx.meta, wh, options);
      assert.deepEqual(
        again.filter((l) => l.ran),
        [],
        'a replayed load does nothing',
      );
      // The stream's runner keeps what it learned of BigQuery's tables: its next cycles ask about none of them again.
      const tables = new Set<string>();
      await loadBronze(project, ctx.meta, wh, { ...options, tables });
      assert.ok(tables.size > 0 && [...tables].every((t) => t.split('.')[0]?.endsWith('_bronze')), `bronze tables: ${[...tables]}`);
      const asked: string[] = [];
      const { tableExists, ensureDataset } = wh;
      wh.tableExists = (dataset, table) => {
        asked.push(`${dataset}.${table}`);
        return tableExists.call(wh, dataset, table);
      };
      wh.ensureDataset = (dataset, labels) => {
        asked.push(dataset);
        return ensureDataset.call(wh, dataset, labels);
      };
      let rerun: Awaited<ReturnType<typeof runModelsInBigQuery>>;
      try {
        rerun = await runModelsInBigQuery(project, ctx.engine, wh, { ...options, tables });
        assert.ok(asked.length > 0, 'the first call of a process asks about the tables it has not seen');
        asked.length = 0;
        assert.deepEqual(await loadBronze(project, ctx.meta, wh, { ...options, loaded: new Set(loads.map((l) => l.file)), tables }), []);
        const third = await runModelsInBigQuery(project, ctx.engine, wh, { ...options, tables });
        assert.deepEqual(
          third.filter((m) => m.status !== 'succeeded').map((m) => [m.model, m.error]),
          [],
        );
        assert.deepEqual(asked, [], 'a later call asks BigQuery about no table or dataset it already knows');
      } finally {
        wh.tableExists = tableExists;
        wh.ensureDataset = ensureDataset;
      }
      assert.deepEqual(
        rerun.filter((m) => m.status !== 'succeeded').map((m) => [m.model, m.error]),
        [],
      );
      for (const [name, n] of counts) {
        const [dataset, table] = name.split('.') as [string, string];
        assert.equal(await wh.rowCount(dataset, table), n, `${name} after a replay and a rerun`);
      }

      // A table dropped outside finmesh while the runner still knows it: the model reading it fails once, and the next
      // cycle asks BigQuery again, makes the input again (empty, with its contract's columns) and builds.
      const node = buildDag(project).dag.nodes.find((n) => n.refs.length > 0);
      assert.ok(node, 'a model that reads another product');
      const [reader, input] = [node.product, node.refs[0] as (typeof node.refs)[number]];
      const [inDataset, inTable] = sqlName(input.dataset).split('.') as [string, string];
      await wh.run(`DROP TABLE \`${PROJECT_ID}.${inDataset}.${inTable}\``);
      assert.ok(tables.has(`${inDataset}.${inTable}`), 'the runner still believes the dropped table is there');
      const only = { ...options, tables, selector: `${reader.domain}.${reader.name}` };
      const failed = await runModelsInBigQuery(project, ctx.engine, wh, only);
      assert.deepEqual(
        failed.map((m) => [m.model, m.status]),
        [[reader.name, 'failed']],
        'the model whose input was dropped fails',
      );
      const healed = await runModelsInBigQuery(project, ctx.engine, wh, only);
      assert.deepEqual(
        healed.map((m) => [m.model, m.status, m.error]),
        [[reader.name, 'succeeded', undefined]],
        'the next cycle makes the dropped input again and builds',
      );
      assert.equal(await wh.rowCount(inDataset, inTable), 0, 'the input is back, empty, until its own model runs');
    } finally {
      await ctx.close();
      await bq?.stop();
      await gcs.stop();
    }
  });
});
