import { datasetKey, type Product, sqlName } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import type { ColumnInfo, SqlDialect } from '../engine/engine.js';
import { prepareSession } from '../lake/session.js';
import { lakeDatasetId, projectNamespace } from '../lineage/naming.js';
import { facets, PRODUCER, RUN_EVENT_SCHEMA, type RunEvent } from '../lineage/openlineage.js';
import {
  type CompiledCheck,
  checkNames,
  checkRules,
  compileChecks,
  describeExpectation,
  judge,
  panLeakAggregate,
  panLeakSql,
  panScanExempt,
} from '../mesh/checks.js';
import { freshnessSlo } from '../mesh/sla.js';
import type { CheckResultRecord, LakeFile } from '../metadata/metadata-store.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun } from '../runs/runs.js';
import type { Context } from './context.js';

export type CheckResult = CheckResultRecord;

/**
 * Where a product's checks run: the local engine over the lake's files, or the warehouse that holds the product
 * (BigQuery). The checks, their fusing into one scan and their judging are the same whichever it is.
 */
export interface CheckSource {
  /** The SQL the checks are compiled to. */
  dialect: SqlDialect;
  /** The product's relation in this engine's SQL. */
  relation: string;
  /** The rows of `sql` with `{object}` read as the relation; `check` is the rule the SQL was compiled from. */
  query(sql: string, check?: CompiledCheck): Promise<Record<string, unknown>[]>;
  /** The product's columns, or undefined when it has never been built. */
  columns(): Promise<ColumnInfo[] | undefined>;
  /** When the product last changed. */
  updatedAt(): Promise<Date | undefined>;
  /** Whether a column's type is the contract's `physicalType` (finmesh's SQL type names). */
  sameType(contractType: string, actual: string): boolean;
  /** The lineage dataset the checks read. */
  dataset: { namespace: string; name: string };
  /**
   * Rows per day (`dt`) from `since` on, oldest first, known without reading the data (the lake's manifest counts each
   * file's rows); undefined when the source cannot tell, and the volume check then counts them with a query.
   */
  rowsPerDay?(since: string): Promise<{ day: string; n: number }[] | undefined>;
}

/** The local engine as a check source: the product's live files in the lake, read by DuckDB. */
export function engineCheckSource(ctx: Context, product: Product, relation = sqlName(product.dataset)): CheckSource {
  const key = datasetKey(product.dataset);
  // One check run reads the product's live files once (its columns, when it changed, its rows per day).
  let files: Promise<LakeFile[]> | undefined;
  const liveFiles = () => {
    files ??= ctx.meta.manifest.liveFiles(key);
    return files;
  };
  return {
    dialect: ctx.engine.dialect,
    relation,
    query: async (sql) => (await ctx.engine.query(sql.replaceAll('{object}', relation))).rows,
    columns: async () => {
      const state = await ctx.meta.manifest.state(key);
      if (state?.schema) return state.schema;
      if ((await liveFiles()).length === 0) return undefined;
      return ctx.engine.describe(`SELECT * FROM ${relation}`);
    },
    updatedAt: async () => (await liveFiles()).at(-1)?.committedAt ?? (await ctx.meta.manifest.state(key))?.updatedAt,
    sameType: (contract, actual) => normaliseType(contract) === normaliseType(actual),
    dataset: lakeDatasetId(ctx.storage.location, product.dataset),
    // The product's own view lists its live files: their manifest rows, by `dt` partition, are its rows per day. (Not
    // for a `view` product: its relation is the model's SQL, whatever files a former table left in the manifest.)
    rowsPerDay:
      relation === sqlName(product.dataset) && product.materialized !== 'view'
        ? async (since) => rowsPerDayPartition(await liveFiles(), since)
        : undefined,
  };
}

/**
 * Rows per day from files partitioned by day (`dt=YYYY-MM-DD`, the value a reader's `dt` column takes from the path),
 * for days from `since` (`YYYY-MM-DD`) on; undefined when any file is not (another partitioning, or none).
 */
export function rowsPerDayPartition(
  files: { partition: string | undefined; rows: number }[],
  since: string,
): { day: string; n: number }[] | undefined {
  const perDay = new Map<string, number>();
  for (const f of files) {
    const day = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(f.partition ?? '')?.[1];
    if (day === undefined) return undefined;
    if (day >= since) perDay.set(day, (perDay.get(day) ?? 0) + f.rows);
  }
  // As a query's GROUP BY would: a day only with rows in it.
  return [...perDay]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([day, n]) => ({ day, n }));
}

async function value(source: CheckSource, sql: string, check?: CompiledCheck): Promise<number> {
  const v = (await source.query(sql, check))[0]?.v;
  return v === null || v === undefined ? 0 : Number(v);
}

function result(
  runId: string,
  product: Product,
  id: string,
  rule: string,
  severity: 'error' | 'warning',
  status: CheckResult['status'],
  v: number | undefined,
  expected: string,
  message: string,
  column?: string,
): CheckResult {
  return {
    runId,
    checkId: id,
    product: `${product.domain}.${product.name}`,
    column,
    rule,
    severity,
    status,
    value: v,
    expected,
    message,
    at: new Date(),
  };
}

/**
 * Aggregate expressions over `relation`, evaluated in one scan (a NULL is 0); undefined when that query fails, so the
 * caller can run each on its own and see which one fails.
 */
async function scanOnce(source: CheckSource, aggregates: string[]): Promise<number[] | undefined> {
  if (aggregates.length === 0) return [];
  let row: Record<string, unknown>;
  try {
    row = (await source.query(`SELECT ${aggregates.map((a, i) => `${a} AS v${i}`).join(', ')} FROM {object}`))[0] ?? {};
  } catch {
    return undefined;
  }
  return aggregates.map((_, i) => {
    const v = row[`v${i}`];
    return v === null || v === undefined ? 0 : Number(v);
  });
}

/**
 * Runs compiled checks against `relation`: the numbers in `known` (from a scan they shared) are judged, the others
 * queried one by one. A check whose SQL fails is an `error` result, not a crash.
 */
async function runCompiled(
  source: CheckSource,
  product: Product,
  checks: CompiledCheck[],
  runId: string,
  known: Map<CompiledCheck, number> = new Map(),
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of checks) {
    let status: CheckResult['status'];
    let v: number | undefined;
    let message: string;
    try {
      v = known.get(c);
      // A bound above 0 (duplicates by hash): the exact number is asked for.
      if (v === undefined || (v > 0 && c.aggregateIsBound)) v = await value(source, c.sql, c);
      status = judge(v, c.expect) ? 'pass' : 'fail';
      message = status === 'pass' ? c.description : `${c.description}: found ${v}`;
    } catch (e) {
      status = 'error';
      message = `the check could not run: ${(e as Error).message}`;
    }
    out.push(result(runId, product, c.id, c.rule, c.severity, status, v, describeExpectation(c.expect), message, c.column));
  }
  return out;
}

/** The checks' numbers that one scan of `relation` gives (those with an aggregate), with the other aggregates asked. */
async function fusedScan(
  source: CheckSource,
  checks: CompiledCheck[],
  others: string[] = [],
): Promise<{ known: Map<CompiledCheck, number>; others: number[] | undefined }> {
  const fusable = checks.filter((c): c is CompiledCheck & { aggregate: string } => c.aggregate !== undefined);
  const values = await scanOnce(source, [...fusable.map((c) => c.aggregate), ...others]);
  if (!values) return { known: new Map(), others: undefined };
  return { known: new Map(fusable.map((c, i) => [c, values[i] as number])), others: values.slice(fusable.length) };
}

/**
 * Error-severity rules against a candidate version of the dataset (the files that would be live after the commit).
 * A failure throws: the caller discards the candidate and the previous version stays.
 */
export async function qualityGate(ctx: Context, product: Product, candidateFiles: string[]): Promise<void> {
  const checks = compileChecks(product, ctx.engine.dialect).filter((c) => c.severity === 'error');
  if (checks.length === 0 || candidateFiles.length === 0) return;
  await ctx.engine.defineDataset('main', '__candidate', candidateFiles);
  const candidate = engineCheckSource(ctx, product, 'main.__candidate');
  const { known } = await fusedScan(candidate, checks);
  const results = await runCompiled(candidate, product, checks, 'gate', known);
  const failed = results.filter((r) => r.status === 'fail');
  if (failed.length > 0) {
    throw new FinmeshError(
      'DATA_INVALID',
      `quality gate: ${failed.map((f) => `${f.checkId} (${f.expected}, found ${f.value})`).join('; ')} — this batch stays out and the previous version remains`,
    );
  }
}

/**
 * Prepares the local engine to check `products`: only their own views (and what a `view` product reads), since the
 * built-in checks read nothing else — unless a contract's `sql` rule may name any dataset, then every view.
 */
export async function prepareForChecks(ctx: Context, products: Product[]): Promise<void> {
  const anySql = products.some((p) => checkRules(p).some((r) => r.measure.kind === 'sql'));
  await prepareSession(ctx, anySql ? {} : { only: products.map((p) => sqlName(p.dataset)) });
}

export interface RunChecksOptions {
  /** The model run that built the product, when the checks follow a build. */
  parent?: ParentRun | undefined;
  /** Where the product is checked (default: the local engine over the lake, `engineCheckSource`). */
  source?: CheckSource | undefined;
}

/** Runs every check of a product on its live data, stores the results and exposes them as metrics. */
export async function runChecks(ctx: Context, product: Product, options: RunChecksOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let profile: DataQualityProfile | undefined;
  const source = options.source ?? engineCheckSource(ctx, product);
  const run = await ctx.runs.start({
    job: jobName.check(product),
    kind: 'check',
    parent: options.parent,
    labels: { domain: product.domain, product: product.name },
    lineage: {
      start: (r) => checkEvent(ctx, source.dataset, product, r.id, r.startedAt, 'START', [], options.parent, undefined),
      end: (r) => checkEvent(ctx, source.dataset, product, r.id, r.startedAt, 'COMPLETE', results, options.parent, profile),
    },
  });
  run.enter();
  const runId = run.id;
  try {
    const builtin = (rule: string) => `${product.name}.dataset.${rule}`;
    const columns = await source.columns();
    if (!columns) {
      for (const id of checkNames(product)) {
        results.push(
          result(runId, product, id, id.split('.').at(-1) ?? id, 'warning', 'skipped', undefined, '-', 'the product has never been built'),
        );
      }
    } else {
      const d = source.dialect;
      const checks = compileChecks(product, d);
      const names = columns.map((c) => c.name);
      // The contract's rules, the PAN scan and the profile's counts share one scan of the data.
      const panAggregate = panLeakAggregate(columns, d, panScanExempt(product));
      const profileAggregates = ['count(*)', ...names.map((c) => `count(${d.quoteIdent(c)})`)];
      const scan = await fusedScan(source, checks, [...profileAggregates, ...(panAggregate ? [panAggregate] : [])]);
      results.push(...(await runCompiled(source, product, checks, runId, scan.known)));
      const pan = panLeakSql(columns, d, panScanExempt(product));
      if (pan) {
        const v = scan.others?.[profileAggregates.length] ?? (await value(source, pan));
        results.push(
          result(
            runId,
            product,
            builtin('pan_leak'),
            'pan_leak',
            'error',
            v === 0 ? 'pass' : 'fail',
            v,
            'mustBe 0',
            v === 0 ? 'no full card number in any text column' : `${v} values look like full card numbers (Luhn-valid 13–19 digits)`,
          ),
        );
      }
      results.push(schemaDrift(runId, product, columns, source.sameType));
      results.push(await freshness(runId, product, await source.updatedAt()));
      results.push(await volumeAnomaly(ctx, source, runId, product, columns));
      profile = scan.others ? profileOf(names, scan.others) : await profileColumns(source, names);
    }
    await ctx.meta.checks.record(results);
  } catch (e) {
    await run.fail(e);
    throw e;
  }
  const failed = results.filter((r) => r.status === 'fail' || r.status === 'error');
  await run.end({
    status: failed.some((r) => r.severity === 'error') ? 'failed' : 'succeeded',
    rowsIn: results.length,
    rowsOut: results.length - failed.length,
    // A run's error is why it failed: failed warnings are results (`finmesh test`), not the run's error.
    error: failed.some((r) => r.severity === 'error')
      ? `failed checks: ${failed
          .filter((r) => r.severity === 'error')
          .map((f) => f.checkId)
          .join(', ')}`
      : undefined,
  });
  for (const r of results)
    ctx.metrics.checkResults.inc({
      domain: product.domain,
      product: product.name,
      check: r.rule,
      severity: r.severity,
      outcome: r.status,
    });
  return results;
}

function schemaDrift(
  runId: string,
  product: Product,
  columns: { name: string; type: string }[],
  sameType: CheckSource['sameType'],
): CheckResult {
  const expected = product.contract.schema[0]?.properties ?? [];
  const actual = new Map(columns.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  for (const p of expected) {
    const t = actual.get(p.name);
    if (t === undefined) problems.push(`missing column ${p.name}`);
    else if (p.physicalType && !sameType(p.physicalType, t)) problems.push(`${p.name} is ${t}, the contract says ${p.physicalType}`);
  }
  const known = new Set(expected.map((p) => p.name));
  for (const c of columns) if (!known.has(c.name)) problems.push(`column ${c.name} is not in the contract`);
  return result(
    runId,
    product,
    `${product.name}.dataset.schema_drift`,
    'schema_drift',
    'warning',
    problems.length === 0 ? 'pass' : 'fail',
    problems.length,
    'mustBe 0',
    problems.length === 0 ? 'schema matches the contract' : problems.join('; '),
  );
}

function normaliseType(t: string): string {
  const u = t.toUpperCase().replace(/\s+/g, '');
  const aliases: Record<string, string> = {
    TIMESTAMPWITHTIMEZONE: 'TIMESTAMPTZ',
    TEXT: 'VARCHAR',
    STRING: 'VARCHAR',
    INT: 'INTEGER',
    BOOL: 'BOOLEAN',
    FLOAT8: 'DOUBLE',
  };
  return aliases[u] ?? u;
}

async function freshness(runId: string, product: Product, updated: Date | undefined): Promise<CheckResult> {
  const slo = freshnessSlo(product);
  const id = `${product.name}.dataset.freshness`;
  if (!slo) return result(runId, product, id, 'freshness', 'warning', 'skipped', undefined, '-', 'the contract sets no latency SLA');
  const age = updated ? Date.now() - updated.getTime() : Number.POSITIVE_INFINITY;
  const ok = age <= slo.ms;
  return result(
    runId,
    product,
    id,
    'freshness',
    'error',
    ok ? 'pass' : 'fail',
    Math.round(age / 1000),
    `mustBeLessOrEqualTo ${slo.ms / 1000}s`,
    ok ? `updated ${Math.round(age / 1000)} s ago (SLO ${slo.text})` : `stale: updated ${Math.round(age / 1000)} s ago, SLO ${slo.text}`,
  );
}

/** Today's rows per day against the product's own history: |z| above the threshold fails. */
async function volumeAnomaly(
  ctx: Context,
  source: CheckSource,
  runId: string,
  product: Product,
  columns: { name: string; type: string }[],
): Promise<CheckResult> {
  const id = `${product.name}.dataset.volume_anomaly`;
  const cfg = ctx.project.config.quality.volumeAnomaly;
  if (!columns.some((c) => c.name === 'dt'))
    return result(runId, product, id, 'volume_anomaly', 'warning', 'skipped', undefined, '-', 'no dt column to count rows per day');
  const d = source.dialect;
  const day = d.cast('dt', 'DATE');
  // The first day the query's `daysAgo` keeps: today (UTC, as the engines' current_date) less the training days.
  const since = new Date(Date.now() - cfg.trainingDays * 86_400_000).toISOString().slice(0, 10);
  const known = await source.rowsPerDay?.(since);
  const rows = (
    known ??
    (
      await source.query(
        `SELECT ${day} AS day, count(*) AS n FROM {object} WHERE ${day} >= ${d.daysAgo(cfg.trainingDays)} GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => ({ day: String(r.day), n: Number(r.n) }))
  ).map((r) => ({ day: new Date(r.day), n: r.n }));
  const today = rows.at(-1);
  if (!today) return result(runId, product, id, 'volume_anomaly', 'warning', 'skipped', undefined, '-', 'no rows yet');
  let history = rows.slice(0, -1);
  if (cfg.seasonality === 'day-of-week') history = history.filter((h) => h.day.getUTCDay() === today.day.getUTCDay());
  if (cfg.seasonality === 'day-of-month') history = history.filter((h) => h.day.getUTCDate() === today.day.getUTCDate());
  if (history.length < cfg.minHistory) {
    return result(
      runId,
      product,
      id,
      'volume_anomaly',
      'warning',
      'skipped',
      undefined,
      `|z| <= ${cfg.threshold}`,
      `${history.length} comparable days of history, ${cfg.minHistory} needed`,
    );
  }
  const mean = history.reduce((a, h) => a + h.n, 0) / history.length;
  const sd = Math.sqrt(history.reduce((a, h) => a + (h.n - mean) ** 2, 0) / history.length) || 1;
  const z = (today.n - mean) / sd;
  const ok = Math.abs(z) <= cfg.threshold;
  return result(
    runId,
    product,
    id,
    'volume_anomaly',
    'warning',
    ok ? 'pass' : 'fail',
    Math.round(z * 100) / 100,
    `|z| <= ${cfg.threshold}`,
    `${today.n} rows today vs ${Math.round(mean)} ± ${Math.round(sd)} (${cfg.seasonality})`,
  );
}

interface DataQualityProfile {
  rowCount: number;
  columnMetrics: Record<string, { nullCount: number }>;
}

/** Rows and nulls per column, in one scan: OpenLineage's dataQualityMetrics facet of the check run. */
async function profileColumns(source: CheckSource, columns: string[]): Promise<DataQualityProfile> {
  const counts = columns.map((c, i) => `count(${source.dialect.quoteIdent(c)}) AS c${i}`);
  const row = (await source.query(`SELECT count(*) AS n${counts.length > 0 ? `, ${counts.join(', ')}` : ''} FROM {object}`))[0] ?? {};
  return profileOf(columns, [Number(row.n ?? 0), ...columns.map((_, i) => Number(row[`c${i}`] ?? 0))]);
}

/** The profile from `[rows, non-null count of each column…]`. */
function profileOf(columns: string[], counts: number[]): DataQualityProfile {
  const n = counts[0] ?? 0;
  return { rowCount: n, columnMetrics: Object.fromEntries(columns.map((c, i) => [c, { nullCount: n - (counts[i + 1] ?? 0) }])) };
}

/** The check run in lineage: the product as the input, with a dataQualityAssertions facet (how dbt and GE report). */
function checkEvent(
  ctx: Context,
  dataset: { namespace: string; name: string },
  product: Product,
  runId: string,
  started: Date,
  type: 'START' | 'COMPLETE',
  results: CheckResult[],
  parent: ParentRun | undefined,
  profile: DataQualityProfile | undefined,
): RunEvent {
  const namespace = projectNamespace(ctx.project);
  const job = {
    namespace,
    name: jobName.check(product),
    facets: facets({ jobType: { processingType: 'BATCH', integration: 'FINMESH', jobType: 'TEST' } }),
  };
  const run = {
    runId,
    facets: facets({ parent: parent ? { run: { runId: parent.runId }, job: { namespace, name: parent.job } } : undefined }),
  };
  const base = { producer: PRODUCER, schemaURL: RUN_EVENT_SCHEMA, job, run };
  if (type === 'START')
    return {
      ...base,
      eventType: 'START',
      eventTime: started.toISOString(),
      inputs: [{ ...dataset }],
    };
  const ran = results.filter((r) => r.status === 'pass' || r.status === 'fail');
  const input = {
    ...dataset,
    inputFacets: facets({
      dataQualityAssertions: {
        assertions: ran.map((r) => ({ assertion: r.rule, success: r.status === 'pass', ...(r.column ? { column: r.column } : {}) })),
      },
      dataQualityMetrics: profile as Record<string, unknown> | undefined,
    }),
  };
  return { ...base, eventType: 'COMPLETE', eventTime: new Date().toISOString(), inputs: [input] };
}
