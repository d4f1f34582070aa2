// BigQuery beside DuckDB, on local stand-ins that speak BigQuery's and Cloud Storage's APIs (the PyPI `bqemulator`,
// reading the bronze objects fake-gcs-server serves). `bq-load` loads the committed bronze batches from GCS into
// BigQuery with finmesh's load jobs, against the same files read into a table of the embedded DuckDB; `bq-run` builds
// the three payments models in BigQuery (translated to GoogleSQL) against `runModels` on the embedded DuckDB over the
// same bronze. Figures, no bar: the emulator is neither BigQuery's speed nor its cost, only the same API and SQL.
// The stand-ins are slow, so these rows have their own, smaller input (`--set bq-rows=N`).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { datasetKey, sqlName } from '../../src/config/project.js';
import { uuidv7 } from '../../src/core/ids.js';
import { BigQueryWarehouse } from '../../src/engine/bigquery/bigquery-warehouse.js';
import { loadBronze, runModelsInBigQuery } from '../../src/jobs/bigquery-build.js';
import { type Context, openContext } from '../../src/jobs/context.js';
import { writeBronzeBatch } from '../../src/lake/bronze-writer.js';
import { prepareSession } from '../../src/lake/session.js';
import {
  BQEMU_BIN,
  createBucket,
  FAKE_GCS_BIN,
  gcsClient,
  INSTALL_HINT,
  type StandIn,
  startBigQueryEmulator,
  startFakeGcs,
} from '../../test/gcp-stand-ins.js';
import { benchProject, benchProjectAsCli, fixture, LAKE_FORMAT, transactionsNdjson } from '../fixtures.js';
import { type BenchEnv, type BenchRow, time, units } from '../harness.js';
import { copyLake, MODELS, timeModels } from './models.js';

const PROJECT_ID = 'finmesh-bench';
const BUCKET = 'finmesh-bench-lake';
const SOURCE = 'core-transactions';
const DEFAULT_ROWS = 100_000;
const DEFAULT_BATCHES = 10;
// The Google clients look for a metadata server (GCE) when no credentials are set; there is none here.
process.env.METADATA_SERVER_DETECTION ??= 'none';
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A positive integer `--set` knob, or its default. */
function knob(env: BenchEnv, name: string, fallback: number, least: number): number {
  const n = Number(env.settings[name] ?? fallback);
  if (!Number.isInteger(n) || n < least)
    throw new Error(`--set ${name} must be an integer of at least ${least}, found ${env.settings[name]}`);
  return n;
}

/**
 * Bronze transactions (`n` changes) committed as `batches` batches, as the stream commits them (a file per batch and
 * day), in a lake and metadata store; generated once.
 */
function batchedLake(env: BenchEnv, n: number, batches: number): Promise<string> {
  return fixture(env.fixtures, `lake${LAKE_FORMAT}-${n}-in-${batches}`, async (dir) => {
    const ndjson = await transactionsNdjson(env.fixtures, n, env.log);
    env.log(`loading ${n.toLocaleString('en-US')} changes into bronze as ${batches} batches…`);
    const lines = readFileSync(ndjson, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const ctx = await openContext(benchProject(dir), { secrets: true });
    try {
      await prepareSession(ctx);
      const source = ctx.project.sources.find((s) => s.name === SOURCE);
      if (!source) throw new Error(`no ${SOURCE} source`);
      const size = Math.ceil(lines.length / batches);
      for (let first = 0; first < lines.length; first += size) {
        const part = join(dir, 'batch.ndjson');
        const chunk = lines.slice(first, first + size);
        writeFileSync(part, `${chunk.join('\n')}\n`);
        await writeBronzeBatch(ctx, {
          source,
          runId: uuidv7(),
          firstOffset: first + 1,
          lastOffset: first + chunk.length,
          input: { ndjsonFile: part },
        });
        rmSync(part);
      }
    } finally {
      await ctx.close();
    }
  });
}

interface Cloud {
  ctx: Context;
  gcs: StandIn & { root: string };
  /** Bronze's committed files (lake keys) of the transactions source, in the lake at `template`. */
  files: string[];
  template: string;
  n: number;
  /** A fresh, empty BigQuery emulator (the previous one stopped): job ids, datasets and tables all new. */
  restart(): Promise<StandIn>;
  /** bronze → BigQuery as finmesh loads it (a load job per committed batch); the warehouse client opened inside. */
  load(bq: StandIn): Promise<number>;
  /** Rows in the bronze table in BigQuery (untimed: that the load did its work). */
  rows(bq: StandIn): Promise<number>;
  close(): Promise<void>;
}

/** The lake fixture, its bronze uploaded to fake-gcs-server under the same keys, and an emulator to restart. */
async function openCloud(env: BenchEnv): Promise<Cloud | { skip: string }> {
  if (!FAKE_GCS_BIN || !BQEMU_BIN)
    return { skip: `fake-gcs-server and bqemulator not installed under .cache/: ${INSTALL_HINT.replace('.sh', '.sh --with-bigquery')}` };
  const n = knob(env, 'bq-rows', DEFAULT_ROWS, 1000);
  const template = await batchedLake(env, n, knob(env, 'bq-batches', DEFAULT_BATCHES, 1));
  const project = benchProject(template, { sources: [SOURCE] });
  const ctx = await openContext(project, { secrets: true });
  let gcs: (StandIn & { root: string }) | undefined;
  let bq: StandIn | undefined;
  try {
    await prepareSession(ctx);
    const source = project.sources[0];
    if (!source) throw new Error(`no ${SOURCE} source`);
    const files = (await ctx.meta.manifest.liveFiles(datasetKey(source.dataset))).map((f) => f.key);
    gcs = await startFakeGcs();
    await createBucket(gcs, BUCKET);
    const storage = await gcsClient(gcs);
    for (const key of files) await storage.bucket(BUCKET).upload(ctx.storage.readPath(key), { destination: key });
    env.log(`  over ${n.toLocaleString('en-US')} bronze changes in ${files.length} committed files, uploaded to fake-gcs-server`);
    const g = gcs;
    const options = {
      uri: (key: string) => `gs://${BUCKET}/${key}`,
      columnsOf: async (d: Parameters<typeof sqlName>[0]) => ctx.engine.describe(`SELECT * FROM ${sqlName(d)}`),
    };
    return {
      ctx,
      gcs: g,
      files,
      template,
      n,
      async restart() {
        await bq?.stop();
        bq = undefined;
        bq = await startBigQueryEmulator({ project: PROJECT_ID, gcsRoot: g.root });
        return bq;
      },
      async load(at) {
        const wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: at.url });
        const loads = await loadBronze(project, ctx.meta, wh, options);
        if (loads.length !== files.length || !loads.every((l) => l.ran))
          throw new Error(`loaded ${loads.filter((l) => l.ran).length} of ${files.length} bronze files`);
        return loads.length;
      },
      async rows(at) {
        const wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: at.url });
        const [dataset, table] = sqlName(source.dataset).split('.') as [string, string];
        return wh.rowCount(dataset, table);
      },
      async close() {
        await bq?.stop();
        await g.stop();
        await ctx.close();
      },
    };
  } catch (e) {
    await bq?.stop();
    await gcs?.stop();
    await ctx.close();
    throw e;
  }
}

export const bigQueryLoad: BenchRow = {
  id: 'bq-load',
  title: 'bronze → BigQuery (emulator) load jobs',
  unit: units.seconds,
  async open(env) {
    const cloud = await openCloud(env);
    if ('skip' in cloud) return cloud;
    let bq: StandIn | undefined;
    const paths = cloud.files.map((k) => q(cloud.ctx.storage.readPath(k)));
    return {
      async reset() {
        bq = await cloud.restart();
      },
      finmesh: {
        label: `finmesh loadBronze: a BigQuery load job per committed bronze file, from fake-gcs-server (emulator)`,
        async sample() {
          let jobs = 0;
          const at = bq;
          if (!at) throw new Error('no emulator');
          const s = await time(async () => {
            jobs = await cloud.load(at);
          });
          const rows = await cloud.rows(at);
          if (rows !== cloud.n) throw new Error(`BigQuery holds ${rows} bronze rows, ${cloud.n} expected`);
          return { value: s, extra: { jobs, rows } };
        },
      },
      reference: {
        label: 'the same bronze files into a table of a fresh embedded DuckDB (CREATE TABLE AS read_parquet)',
        async sample() {
          let rows = 0;
          const s = await time(async () => {
            const instance = await DuckDBInstance.create(':memory:');
            const conn = await instance.connect();
            try {
              await conn.run("SET TimeZone = 'UTC'");
              await conn.run(`CREATE TABLE transactions AS SELECT * FROM read_parquet([${paths.join(', ')}], hive_partitioning = true)`);
              rows = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM transactions')).getRowObjectsJson()[0]?.n);
            } finally {
              conn.closeSync();
              instance.closeSync();
            }
          });
          return { value: s, extra: { rows } };
        },
      },
      close: () => cloud.close(),
    };
  },
};

export const bigQueryRun: BenchRow = {
  id: 'bq-run',
  title: '`finmesh run --no-checks` on BigQuery (emulator), 3 models',
  unit: units.seconds,
  async open(env) {
    const cloud = await openCloud(env);
    if ('skip' in cloud) return cloud;
    let bq: StandIn | undefined;
    const trialDir = join(env.work, 'duckdb');
    return {
      async reset() {
        // Both sides start from the same bronze and no models: a fresh emulator with bronze loaded, a fresh lake copy.
        bq = await cloud.restart();
        await cloud.load(bq);
        copyLake(cloud.template, trialDir);
      },
      finmesh: {
        label: `finmesh runModelsInBigQuery (${MODELS.join(', ')}), GoogleSQL jobs on the emulator`,
        async sample() {
          let failed: string | undefined;
          let jobs = 0;
          const at = bq;
          if (!at) throw new Error('no emulator');
          const s = await time(async () => {
            // As `finmesh run` opens it on a BigQuery target: the project (its DuckDB parses the models) and the warehouse.
            const ctx = await openContext(await benchProjectAsCli(trialDir), { secrets: true });
            try {
              await prepareSession(ctx);
              const wh = await BigQueryWarehouse.create({ projectId: PROJECT_ID, apiEndpoint: at.url });
              const rs = await runModelsInBigQuery(ctx.project, ctx.engine, wh, {
                projectId: PROJECT_ID,
                uri: (key) => `gs://${BUCKET}/${key}`,
                tokenizationKey: ctx.tokenizationKey,
                selector: MODELS.join(','),
              });
              failed = rs.find((r) => r.status !== 'succeeded')?.error;
              if (rs.length !== MODELS.length) failed = `ran ${rs.length} models`;
              jobs = rs.reduce((a, r) => a + r.jobs.length, 0);
            } finally {
              await ctx.close();
            }
          });
          if (failed) throw new Error(failed);
          return { value: s, extra: { jobs, changes: cloud.n } };
        },
      },
      reference: {
        label: `finmesh runModels (${MODELS.join(', ')}) on the embedded DuckDB`,
        sample: () => timeModels(trialDir),
      },
      close: () => cloud.close(),
    };
  },
};
