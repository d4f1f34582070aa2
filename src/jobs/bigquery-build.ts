import { createHash } from 'node:crypto';
import { type DatasetRef, datasetKey, type Product, type Project, sqlName } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import type { BigQueryWarehouse, JobStats } from '../engine/bigquery/bigquery-warehouse.js';
import { googleType, quoteIdent, quoteString } from '../engine/bigquery/googlesql.js';
import { buildDag, type ModelNode, selectModels } from '../engine/dag.js';
import type { ColumnInfo, Engine } from '../engine/engine.js';
import { bronzeColumns } from '../lake/session.js';
import { contractColumns } from '../mesh/contract-columns.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun } from '../runs/runs.js';
import { bigQueryCheckSource } from './bigquery-checks.js';
import { bigQueryModelSql, bigQueryTable } from './bigquery-models.js';
import { runChecks } from './check.js';
import type { Context } from './context.js';

export interface BronzeLoad {
  source: string;
  file: string;
  jobId: string;
  /** False when this batch was loaded before (the job id had run): a replay loads nothing. */
  ran: boolean;
  stats: JobStats;
}

export interface WarehouseModelResult {
  model: string;
  dataset: string;
  status: 'succeeded' | 'failed' | 'skipped';
  materialized: string;
  /** Every BigQuery job the model ran: job id, bytes processed and billed, slot time. */
  jobs: JobStats[];
  error?: string;
}

export interface BigQueryBuildOptions {
  projectId: string;
  /** The `gs://` URI of a lake object. */
  uri(key: string): string;
  tokenizationKey?: string | undefined;
  selector?: string | undefined;
  /**
   * Tables (`dataset.table`) this process has found or made in BigQuery: not asked about again. The stream's runner
   * keeps one set for its life, so its real-time branch asks about each table once per process, not at every cycle.
   */
  tables?: Set<string> | undefined;
}

/**
 * Bronze reaches BigQuery: every committed bronze file of every source is appended to `<domain>_bronze.<source>` by a
 * load job whose id is derived from the file's key, so a batch is loaded once however often this runs.
 */
export async function loadBronze(
  project: Project,
  meta: Pick<MetadataStore, 'manifest'>,
  wh: BigQueryWarehouse,
  options: Pick<BigQueryBuildOptions, 'uri' | 'tables'> & {
    /** Bronze's columns (finmesh types) for a source with no batch yet. */
    columnsOf(dataset: DatasetRef): Promise<ColumnInfo[]>;
    /**
     * Keys of files this process has loaded already (or found loaded): skipped without asking BigQuery, and each file
     * loaded now is added. A stream that runs the models every few seconds asks about each batch once, not every time.
     */
    loaded?: Set<string> | undefined;
  },
): Promise<BronzeLoad[]> {
  const loads: BronzeLoad[] = [];
  for (const source of project.sources) {
    const key = datasetKey(source.dataset);
    const files = await meta.manifest.liveFiles(key);
    const name = sqlName(source.dataset);
    const [dataset, table] = name.split('.') as [string, string];
    if (!options.tables?.has(name)) {
      await wh.ensureDataset(dataset, { domain: label(source.dataset.domain), zone: 'bronze' });
      // The table is made from bronze's columns before its first load: models that read a source with no batch yet
      // build (empty) as they do locally, and the partition column read from the path (dt) is a column from the start.
      let exists = await wh.tableExists(dataset, table);
      if (!exists) {
        const columns = await options.columnsOf(source.dataset);
        const list = columns.map((c) => `${quoteIdent(c.name)} ${googleType(c.type)}`).join(', ');
        if (list) await wh.run(`CREATE TABLE IF NOT EXISTS ${bigQueryTable(wh.options.projectId, source.dataset)} (${list})`);
        exists = list !== '';
      }
      if (exists) options.tables?.add(name);
    }
    for (const f of [...files].sort((a, b) => a.seq - b.seq)) {
      if (options.loaded?.has(f.key)) continue;
      const jobId = `finmesh_load_${table}_${createHash('sha256').update(`${wh.options.projectId}/${f.key}`).digest('hex').slice(0, 32)}`;
      const uri = options.uri(f.key);
      // Hive partitions (dt=…) are read from the path, as DuckDB reads them locally.
      const hive = /^(.*?\/)[a-z_][a-z0-9_]*=/.exec(uri)?.[1];
      const stats = await wh.load(dataset, table, [uri], jobId, hive);
      loads.push({ source: source.name, file: f.key, jobId, ran: stats.ran, stats });
      options.loaded?.add(f.key);
    }
  }
  return loads;
}

/**
 * Runs the selected models in BigQuery in dependency order, each translated to GoogleSQL (or from its
 * model.bigquery.sql): views and tables replaced whole, incremental models merged on `uniqueKey` by `versionColumn`
 * or, without a key, their partitions replaced. Silver and gold tables carry the contract's description and labels.
 * A failed model fails alone; its downstream models are skipped.
 */
export async function runModelsInBigQuery(
  project: Project,
  parser: Engine,
  wh: BigQueryWarehouse,
  options: BigQueryBuildOptions,
): Promise<WarehouseModelResult[]> {
  const { dag, issues } = buildDag(project);
  if (issues.length > 0) throw new FinmeshError('CONFIG_INVALID', issues.map((i) => `${i.file}: ${i.path}: ${i.found}`).join('\n'));
  const broken = new Set<string>();
  const tables = options.tables ?? new Set<string>();
  const results: WarehouseModelResult[] = [];
  for (const node of selectModels(dag, options.selector)) {
    const { product } = node;
    const base = { model: product.name, dataset: sqlName(product.dataset), materialized: product.materialized, jobs: [] as JobStats[] };
    const up = node.refs.find((r) => broken.has(r.name));
    if (up) {
      broken.add(product.name);
      results.push({ ...base, status: 'skipped', error: `skipped: upstream model ${up.name} failed` });
      continue;
    }
    try {
      await ensureInputs(wh, node, options.projectId, tables);
      const m = await bigQueryModelSql(project, node, parser, options);
      if ('issue' in m)
        throw new FinmeshError('CONFIG_INVALID', `${m.issue.file}: ${m.issue.path}: no GoogleSQL translation for ${m.issue.found}`);
      const jobs = await materialize(project, wh, node, m.sql, options.projectId, tables);
      // Power BI and the BigQuery console show what each column means, from the contract.
      const [dataset, table] = base.dataset.split('.') as [string, string];
      const described = (product.contract.schema[0]?.properties ?? []).filter((p) => p.description);
      await wh.describeColumns(dataset, table, new Map(described.map((p) => [p.name, String(p.description).trim()])));
      results.push({ ...base, status: 'succeeded', jobs });
      tables.add(base.dataset);
    } catch (e) {
      broken.add(product.name);
      // What this process knew of its tables may be what failed (a table dropped outside finmesh): the next call asks
      // BigQuery again about this model's table and its inputs, and makes them again where they are gone.
      tables.delete(base.dataset);
      for (const up of node.refs) tables.delete(sqlName(up.dataset));
      results.push({ ...base, status: 'failed', error: e instanceof Error ? e.message : String(e) });
    }
  }
  return results;
}

/**
 * A product a model reads that was never built reads as empty, with its contract's columns, as on the embedded engine
 * (lake/session.ts): its table is made empty. Otherwise a model run before its input's first build (the stream runs a
 * feed's downstream models as soon as that feed commits, and a model may read another feed's product) fails on a
 * missing dataset. `tables`: the tables known to exist (built or found by this call, or kept by the caller).
 */
async function ensureInputs(wh: BigQueryWarehouse, node: ModelNode, projectId: string, tables: Set<string>): Promise<void> {
  for (const up of node.refs) {
    const name = sqlName(up.dataset);
    if (tables.has(name)) continue;
    const [dataset, table] = name.split('.') as [string, string];
    if (!(await wh.tableExists(dataset, table))) {
      await wh.ensureDataset(dataset, { domain: label(up.domain), zone: up.dataset.zone });
      const columns = contractColumns(up).map((c) => `${quoteIdent(c.name)} ${googleType(c.type)}`);
      await wh.run(`CREATE TABLE IF NOT EXISTS ${bigQueryTable(projectId, up.dataset)} (${columns.join(', ')})`);
    }
    tables.add(name);
  }
}

async function materialize(
  project: Project,
  wh: BigQueryWarehouse,
  node: ModelNode,
  sql: string,
  projectId: string,
  tables: Set<string>,
): Promise<JobStats[]> {
  const { product } = node;
  const name = sqlName(product.dataset);
  const [dataset, table] = name.split('.') as [string, string];
  const known = tables.has(name);
  if (!known) await wh.ensureDataset(dataset, { domain: label(product.domain), zone: product.dataset.zone });
  const target = bigQueryTable(projectId, product.dataset);
  const options = tableOptions(project, product);
  const { partitionBy, uniqueKey, versionColumn } = product.settings;
  const partition = partitionBy ? `\nPARTITION BY ${quoteIdent(partitionBy)}` : '';
  const cluster = uniqueKey && uniqueKey.length > 0 ? `\nCLUSTER BY ${uniqueKey.slice(0, 4).map(quoteIdent).join(', ')}` : '';
  const jobs: JobStats[] = [];
  const run = async (statement: string) => {
    const { rows: _, ...stats } = await wh.run(statement);
    jobs.push(stats);
  };
  switch (product.materialized) {
    case 'view':
      await run(`CREATE OR REPLACE VIEW ${target}\nOPTIONS(${options.filter((o) => !o.startsWith('labels')).join(', ')})\nAS ${sql}`);
      return jobs;
    case 'table':
      await run(`CREATE OR REPLACE TABLE ${target}${partition}${cluster}\nOPTIONS(${options.join(', ')})\nAS ${sql}`);
      return jobs;
    case 'incremental': {
      const keys = uniqueKey ?? [];
      const latest =
        keys.length > 0
          ? `SELECT * FROM (\n${sql}\n) AS model\nWHERE TRUE\nQUALIFY ROW_NUMBER() OVER (PARTITION BY ${keys.map(quoteIdent).join(', ')}${versionColumn ? ` ORDER BY ${quoteIdent(versionColumn)} DESC NULLS LAST` : ''}) = 1`
          : sql;
      if (!known && !(await wh.tableExists(dataset, table))) {
        await run(`CREATE TABLE ${target}${partition}${cluster}\nOPTIONS(${options.join(', ')})\nAS ${latest}`);
        return jobs;
      }
      const columns = await wh.columns(dataset, table);
      if (keys.length > 0) {
        const on = keys.map((k) => `t.${quoteIdent(k)} = n.${quoteIdent(k)}`).join(' AND ');
        const newer = versionColumn ? ` AND n.${quoteIdent(versionColumn)} > t.${quoteIdent(versionColumn)}` : '';
        const set = columns.map((c) => `${quoteIdent(c)} = n.${quoteIdent(c)}`).join(', ');
        // INSERT with its column list, not INSERT ROW: the emulator refuses the latter, and both mean the same.
        await run(
          `MERGE ${target} AS t\nUSING (\n${latest}\n) AS n\nON ${on}\nWHEN MATCHED${newer} THEN UPDATE SET ${set}\nWHEN NOT MATCHED THEN INSERT (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `n.${quoteIdent(c)}`).join(', ')})`,
        );
        return jobs;
      }
      if (!partitionBy)
        throw new FinmeshError(
          'CONFIG_INVALID',
          `${product.contractFile}: an incremental model needs customProperties uniqueKey (merge by key) or partitionBy (replace partitions)`,
        );
      // Partition replace: the partitions the model produces now are swapped for its rows, in one script.
      const p = quoteIdent(partitionBy);
      await run(
        `BEGIN TRANSACTION;\nDELETE FROM ${target} WHERE ${p} IN (SELECT DISTINCT ${p} FROM (\n${sql}\n));\nINSERT INTO ${target} (${columns.map(quoteIdent).join(', ')}) SELECT ${columns.map(quoteIdent).join(', ')} FROM (\n${sql}\n);\nCOMMIT TRANSACTION;`,
      );
      return jobs;
    }
  }
}

/** The table's description and labels (domain, product, owner, cost centre) from its contract and domain. */
function tableOptions(project: Project, product: Product): string[] {
  const domain = project.domains.find((d) => d.name === product.domain);
  const description = product.contract.description?.purpose ?? domain?.config.description ?? `${product.domain}.${product.name}`;
  const labels: [string, string | undefined][] = [
    ['domain', product.domain],
    ['product', product.name],
    ['owner', product.owner],
    ['cost_center', product.settings.costCenter ?? domain?.config.costCenter],
  ];
  const list = labels
    .filter((l): l is [string, string] => l[1] !== undefined && l[1] !== '')
    .map(([k, v]) => `(${quoteString(k)}, ${quoteString(label(v))})`)
    .join(', ');
  return [`description = ${quoteString(description.trim())}`, `labels = [${list}]`];
}

/** A BigQuery label value: lower case letters, digits, `_` and `-`, at most 63 characters. */
function label(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .slice(0, 63);
}

/** `finmesh run` on a BigQuery target: what was loaded, and each model's outcome with its jobs. */
export interface BigQueryRunResult {
  loads: BronzeLoad[];
  models: (WarehouseModelResult & {
    runId: string;
    /** The product's checks in BigQuery after its build: how many ran, failed (or could not run), of those at error level. */
    checks?: { run: number; failed: number; errors: number };
  })[];
}

/**
 * `finmesh run` where the engine is BigQuery: committed bronze reaches BigQuery by load jobs, then the selected models
 * run there. Each model is a run of its own (`model:<domain>.<product>`, child of `parent`), and each BigQuery job it
 * ran is logged on that run with its job id, bytes processed and billed, and slot time.
 */
export async function runInBigQuery(
  ctx: Context,
  options: {
    selector?: string | undefined;
    parent?: ParentRun | undefined;
    /** Run each built product's checks in BigQuery after it (default true). */
    checks?: boolean | undefined;
    /** The bronze files loaded by earlier calls in this process (see `loadBronze`). */
    loaded?: Set<string> | undefined;
    /** The tables earlier calls in this process found or made (see `BigQueryBuildOptions.tables`). */
    tables?: Set<string> | undefined;
    /** A warehouse client to reuse; one is made for this call otherwise. */
    warehouse?: BigQueryWarehouse | undefined;
  },
): Promise<BigQueryRunResult> {
  const engine = ctx.project.config.engine;
  if (engine.kind !== 'bigquery') throw new FinmeshError('CONFIG_INVALID', 'runInBigQuery needs engine.kind bigquery');
  const wh = options.warehouse ?? (await openWarehouse(ctx));
  const build = {
    loaded: options.loaded,
    tables: options.tables,
    projectId: engine.projectId,
    uri: (key: string) => ctx.storage.readPath(key),
    tokenizationKey: ctx.tokenizationKey,
    selector: options.selector,
    // From the manifest, else the source's declared columns and bronze's own (the embedded DuckDB does not read gs://).
    columnsOf: async (d: DatasetRef) => {
      const known = (await ctx.meta.manifest.state(datasetKey(d)))?.schema;
      if (known) return known;
      const source = ctx.project.sources.find((s) => datasetKey(s.dataset) === datasetKey(d));
      return source ? bronzeColumns(source) : ctx.engine.describe(`SELECT * FROM ${sqlName(d)}`);
    },
  };
  const log = ctx.log;
  const loads = await loadBronze(ctx.project, ctx.meta, wh, build);
  for (const l of loads.filter((x) => x.ran))
    log.info({ job_id: l.jobId, source: l.source, bytes_processed: l.stats.bytesProcessed }, 'bronze batch loaded into BigQuery');
  const models: BigQueryRunResult['models'] = [];
  for (const r of await runModelsInBigQuery(ctx.project, ctx.engine, wh, build)) {
    const product = ctx.project.products.find((p) => p.name === r.model);
    if (!product) continue;
    const run = await ctx.runs.start({
      job: jobName.model(product),
      kind: 'model',
      parent: options.parent,
      labels: { domain: product.domain, product: product.name },
    });
    // Logged through the run's own logger (its log is kept with it) and stored with the run as fields of its own
    // (`finmesh runs <id> --json`: `warehouseJobs`).
    for (const j of r.jobs)
      run.log.info(
        { job_id: j.jobId, bytes_processed: j.bytesProcessed, bytes_billed: j.bytesBilled, slot_ms: j.slotMs },
        `BigQuery job of ${r.dataset}`,
      );
    const warehouseJobs = r.jobs.map((j) => ({
      jobId: j.jobId,
      bytesProcessed: j.bytesProcessed,
      bytesBilled: j.bytesBilled,
      slotMs: j.slotMs,
    }));
    if (r.status === 'succeeded') await run.succeed({ warehouseJobs });
    else if (r.status === 'skipped') await run.skip(r.error ?? 'skipped');
    else await run.fail(new FinmeshError('QUERY_INVALID', r.error ?? 'failed'), { warehouseJobs });
    const model: BigQueryRunResult['models'][number] = { ...r, runId: run.id };
    if (r.status === 'succeeded' && (options.checks ?? true)) {
      const checks = await runChecks(ctx, product, {
        parent: { runId: run.id, job: jobName.model(product) },
        source: bigQueryCheckSource(ctx, product, wh),
      });
      const failed = checks.filter((c) => c.status === 'fail' || c.status === 'error');
      model.checks = { run: checks.length, failed: failed.length, errors: failed.filter((c) => c.severity === 'error').length };
    }
    models.push(model);
  }
  return { loads, models };
}

/** The BigQuery warehouse of the context's target (its engine must be `bigquery`). */
export async function openWarehouse(ctx: Pick<Context, 'project'>): Promise<BigQueryWarehouse> {
  const engine = ctx.project.config.engine;
  if (engine.kind !== 'bigquery') throw new FinmeshError('CONFIG_INVALID', `target "${ctx.project.target}": its engine is not bigquery`);
  const { BigQueryWarehouse } = await import('../engine/bigquery/bigquery-warehouse.js');
  return BigQueryWarehouse.create(engine);
}
