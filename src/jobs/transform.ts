import { join } from 'node:path';
import { datasetKey, sqlName } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import { buildDag, type ModelNode, renderModel, selectModels } from '../engine/dag.js';
import type { WrittenFile } from '../engine/engine.js';
import { fileKey } from '../lake/layout.js';
import { defineViewModel, refreshDataset } from '../lake/session.js';
import { builtCatalog, type ModelRunFacts, modelColumnLineage, modelEndEvent, modelStartEvent } from '../lineage/events.js';
import { contractIssues } from '../mesh/model-binding.js';
import { modelPolicyViolations } from '../mesh/policies.js';
import type { FileCommit, LakeFile } from '../metadata/metadata-store.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun } from '../runs/runs.js';
import { qualityGate, runChecks } from './check.js';
import type { Context } from './context.js';

export interface ModelRunResult {
  model: string;
  dataset: string;
  runId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  materialized: string;
  rowsIn: number;
  rowsOut: number;
  durationMs: number;
  error?: string;
  /** The product's checks after the build: how many ran, failed (or could not run), and of those how many at error level. */
  checks?: { run: number; failed: number; errors: number };
}

export interface RunModelsOptions {
  selector?: string | undefined;
  /** The run these model runs belong to (`run`, `demo`, `stream`). */
  parent?: ParentRun | undefined;
  onModel?: (r: ModelRunResult) => void;
  /** Run each product's checks after it is built (default true). */
  checks?: boolean;
  /**
   * Called once every selected model is built (or failed or skipped), before any product's checks run. Given, the
   * checks of the built products run after all the builds, not each after its own, so the last product is readable
   * that much sooner (what `onBuilt` sees has no `checks` yet; the returned results have them).
   */
  onBuilt?: (results: ModelRunResult[]) => void;
  /** Once aborted (SIGTERM), the model running finishes and no other starts. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs the selected models in dependency order. A failed model fails alone: its downstream models are skipped
 * (their previous output stays readable) and independent branches still run. Every model run goes through the
 * run lifecycle and updates the model metrics of `ctx.metrics`, whoever calls.
 */
export async function runModels(ctx: Context, options: RunModelsOptions = {}): Promise<ModelRunResult[]> {
  const { dag, issues } = buildDag(ctx.project);
  if (issues.length > 0)
    throw new FinmeshError(
      'CONFIG_INVALID',
      issues.map((i) => `${i.file}: ${i.path}: expected ${i.expected}, found ${i.found}`).join('\n'),
    );
  const selected = selectModels(dag, options.selector);
  if (options.selector && selected.length === 0) {
    throw new FinmeshError(
      'NOT_FOUND',
      `no model matches "${options.selector}" (models: ${dag.nodes.map((n) => n.product.name).join(', ')})`,
    );
  }
  const broken = new Set<string>();
  const results: ModelRunResult[] = [];
  const checks = options.checks ?? true;
  const checkAfter = checks && options.onBuilt !== undefined;
  const built: [ModelNode, ModelRunResult][] = [];
  for (const node of selected) {
    if (options.signal?.aborted) break;
    const upstreamBroken = node.refs.find((r) => broken.has(r.name));
    const result = await runModel(ctx, node, { ...options, checks: checks && !checkAfter }, upstreamBroken?.name);
    if (result.status !== 'succeeded') broken.add(node.product.name);
    else built.push([node, result]);
    recordModelMetrics(ctx, node, result);
    results.push(result);
    if (!checkAfter) options.onModel?.(result);
  }
  // The rows of what was built are exported with it, before any check.
  if (built.length > 0) await updateDatasetGauges(ctx);
  if (checkAfter) {
    options.onBuilt?.(results.map((r) => ({ ...r })));
    for (const [node, result] of built) result.checks = await checkProduct(ctx, node, result.runId);
    for (const r of results) options.onModel?.(r);
  }
  return results;
}

/** The product's checks after its build, as a child of the model run that built it. */
async function checkProduct(ctx: Context, node: ModelNode, modelRunId: string): Promise<ModelRunResult['checks']> {
  const { product } = node;
  const checks = await runChecks(ctx, product, { parent: { runId: modelRunId, job: jobName.model(product) } });
  const failed = checks.filter((c) => c.status === 'fail' || c.status === 'error');
  return { run: checks.length, failed: failed.length, errors: failed.filter((c) => c.severity === 'error').length };
}

/** `finmesh_dataset_rows` for every dataset, from the manifest (one query). */
export async function updateDatasetGauges(ctx: Context): Promise<void> {
  for (const d of await ctx.meta.manifest.summaries()) {
    const [domain, zone, product] = d.dataset.split('/');
    if (domain && zone && product) ctx.metrics.datasetRows.set({ domain, zone, product }, d.rows);
  }
}

async function runModel(
  ctx: Context,
  node: ModelNode,
  options: RunModelsOptions,
  upstreamBroken: string | undefined,
): Promise<ModelRunResult> {
  const { product } = node;
  const facts: Omit<ModelRunFacts, 'runId' | 'startedAt'> = {
    product,
    parent: options.parent,
    sql: renderModel(node, ctx.project),
    inputs: [...node.sources.map((x) => sqlName(x.dataset)), ...node.refs.map((x) => sqlName(x.dataset))],
  };
  let built: { rowsIn: number; rowsOut: number } | undefined;
  const run = await ctx.runs.start({
    job: jobName.model(product),
    kind: 'model',
    parent: options.parent,
    labels: { domain: product.domain, product: product.name },
    lineage: upstreamBroken
      ? undefined
      : {
          start: (r) => modelStartEvent(ctx, { ...facts, runId: r.id, startedAt: r.startedAt }),
          end: (r, o) =>
            o.status === 'succeeded'
              ? modelCompleteEvent(ctx, { ...facts, runId: r.id, startedAt: r.startedAt })
              : modelEndEvent(ctx, { ...facts, runId: r.id, startedAt: r.startedAt }, { ok: false, error: o.error, rows: 0, bytes: 0 }),
        },
  });
  run.enter();
  const started = run.startedAt.getTime();
  if (upstreamBroken) {
    const error = `skipped: upstream model ${upstreamBroken} failed`;
    await run.skip(error);
    return base(node, run.id, 'skipped', started, { error });
  }
  try {
    await enforcePolicies(ctx, node);
    await enforceContract(ctx, node);
    built = await materialize(ctx, node, run.id);
  } catch (e) {
    await run.fail(e);
    return base(node, run.id, 'failed', started, { error: e instanceof Error ? e.message : String(e) });
  }
  await run.succeed(built);
  const result = base(node, run.id, 'succeeded', started, built);
  if (options.checks ?? true) result.checks = await checkProduct(ctx, node, run.id);
  return result;
}

/**
 * Error-level policies that judge what the model writes (PII/PCI protected before silver) stop it before it writes:
 * the run fails with the policy, the column and what feeds it.
 */
async function enforcePolicies(ctx: Context, node: ModelNode): Promise<void> {
  const violations = await modelPolicyViolations(ctx.project, ctx.engine, node);
  if (violations.length === 0) return;
  throw new FinmeshError(
    'PERMISSION',
    `policy ${violations.map((v) => `${v.policy}: ${v.found} (expected ${v.expected})`).join('; ')} — nothing was written; fix ${violations[0]?.file}`,
  );
}

/**
 * A model whose output breaks its contract's schema (a promised column missing or of another type) or whose settings
 * name columns it does not produce fails before it writes: consumers keep the last version that kept the promise.
 */
async function enforceContract(ctx: Context, node: ModelNode): Promise<void> {
  const sql = renderModel(node, ctx.project);
  const issues = contractIssues(node.product, await ctx.engine.describe(`SELECT * FROM (${sql}) AS model`));
  if (issues.length === 0) return;
  throw new FinmeshError(
    'DATA_INVALID',
    `contract: ${issues.map((i) => `${i.file}: ${i.path}: expected ${i.expected}, found ${i.found}`).join('; ')} — nothing was written`,
  );
}

/** The model families every command that runs models exports: runs by outcome, duration, rows, last success. */
function recordModelMetrics(ctx: Context, node: ModelNode, r: ModelRunResult): void {
  const m = ctx.metrics;
  const labels = { domain: node.product.domain, product: node.product.name };
  m.modelRuns.inc({ ...labels, outcome: r.status });
  m.modelDuration.observe(labels, r.durationMs / 1000);
  m.modelRowsOut.inc(labels, r.rowsOut);
  if (r.status === 'succeeded') m.lastSuccess.set({ ...labels, zone: node.product.dataset.zone }, Date.now() / 1000);
}

/** COMPLETE with the output's schema, statistics and column lineage; lineage trouble never fails the run. */
async function modelCompleteEvent(ctx: Context, facts: ModelRunFacts) {
  const key = datasetKey(facts.product.dataset);
  const columns = (await ctx.meta.manifest.state(key))?.schema;
  const files = await ctx.meta.manifest.liveFiles(key);
  const catalog = await builtCatalog(ctx);
  let lineage: Awaited<ReturnType<typeof modelColumnLineage>>;
  try {
    lineage = await modelColumnLineage(
      ctx,
      facts.sql,
      (columns ?? []).map((c) => c.name),
      catalog,
    );
  } catch {
    lineage = undefined;
  }
  const rows = files.reduce((a, f) => a + f.rows, 0);
  const bytes = files.reduce((a, f) => a + f.bytes, 0);
  return modelEndEvent(ctx, facts, { ok: true, rows, bytes, columns, lineage, catalog });
}

function base(
  node: ModelNode,
  runId: string,
  status: ModelRunResult['status'],
  started: number,
  extra: Partial<ModelRunResult>,
): ModelRunResult {
  return {
    model: node.product.name,
    dataset: sqlName(node.product.dataset),
    runId,
    status,
    materialized: node.product.materialized,
    rowsIn: 0,
    rowsOut: 0,
    durationMs: Date.now() - started,
    ...extra,
  };
}

async function materialize(ctx: Context, node: ModelNode, runId: string): Promise<{ rowsIn: number; rowsOut: number }> {
  const { product } = node;
  switch (product.materialized) {
    case 'view': {
      await defineViewModel(ctx, product.dataset, renderModel(node, ctx.project));
      return { rowsIn: 0, rowsOut: 0 };
    }
    case 'table':
      return materializeTable(ctx, node, runId);
    case 'incremental':
      return materializeIncremental(ctx, node, runId);
  }
}

/** Rebuilds the whole dataset and swaps its file set in one metadata commit. */
async function materializeTable(ctx: Context, node: ModelNode, runId: string): Promise<{ rowsIn: number; rowsOut: number }> {
  const { product } = node;
  const sql = renderModel(node, ctx.project);
  const key = datasetKey(product.dataset);
  const old = (await ctx.meta.manifest.liveFiles(key)).map((f) => f.key);
  const staging = await ctx.storage.stagingDir();
  try {
    const schema = await ctx.engine.describe(`SELECT * FROM (${sql}) AS model`);
    const written = await ctx.engine.writeParquet(sql, join(staging, 'out'), { partitionBy: product.settings.partitionBy });
    await qualityGate(
      ctx,
      product,
      written.map((f) => f.path),
    );
    const add = await commitWritten(ctx, node, runId, written);
    await ctx.meta.manifest.commit({ dataset: key, runId, add, replace: old.filter((k) => !add.some((a) => a.key === k)), schema });
    await refreshDataset(ctx, product.dataset);
    return { rowsIn: await inputRows(ctx, node), rowsOut: add.reduce((s, f) => s + f.rows, 0) };
  } finally {
    await ctx.storage.discard(staging);
  }
}

/**
 * Merges new input into the dataset by `uniqueKey`, keeping the row with the highest `versionColumn`.
 * Bronze inputs are read as deltas: only files committed after the last seq this model consumed. Only the
 * partitions that new rows touch are rewritten; their old files are retired in the same commit.
 */
async function materializeIncremental(ctx: Context, node: ModelNode, runId: string): Promise<{ rowsIn: number; rowsOut: number }> {
  const { product } = node;
  const { uniqueKey, versionColumn, partitionBy } = product.settings;
  if ((!uniqueKey || uniqueKey.length === 0) && partitionBy) return materializePartitions(ctx, node, runId, partitionBy);
  if (!uniqueKey || uniqueKey.length === 0) {
    throw new FinmeshError(
      'CONFIG_INVALID',
      `${product.contractFile}: an incremental model needs customProperties uniqueKey (merge by key) or partitionBy (rebuild changed partitions)`,
    );
  }
  const d = ctx.engine.dialect;
  const key = datasetKey(product.dataset);
  const state = await ctx.meta.manifest.state(key);
  const consumed = state?.inputs ?? {};
  const override = new Map<string, string>();
  const inputs: Record<string, number> = {};
  let newFiles = 0;
  let rowsIn = 0;
  for (const src of node.sources) {
    const skey = datasetKey(src.dataset);
    const after = consumed[skey] ?? 0;
    const all = await ctx.meta.manifest.liveFiles(skey);
    // A compaction's file holds rows this model read already when their files' seqs were: it is not new to it.
    const fresh = all.filter((f) => f.dataSeq > after);
    newFiles += fresh.length;
    rowsIn += fresh.reduce((s, f) => s + f.rows, 0);
    inputs[skey] = consumedUpTo(after, all);
    const delta = `__delta_${src.dataset.domain}_${src.dataset.name}`;
    if (fresh.length > 0)
      await ctx.engine.defineDataset(
        'main',
        delta,
        fresh.map((f) => ctx.storage.readPath(f.key)),
      );
    else await ctx.engine.defineView('main', delta, `SELECT * FROM ${sqlName(src.dataset)} WHERE false`);
    override.set(sqlName(src.dataset), `main.${d.quoteIdent(delta)}`);
  }
  const existing = await ctx.meta.manifest.liveFiles(key);
  if (newFiles === 0 && (existing.length > 0 || state?.schema)) return { rowsIn: 0, rowsOut: 0 };

  const sql = renderModel(node, ctx.project, override);
  const latest = (from: string) => d.latestPerKey(from, uniqueKey, versionColumn);
  // Nothing to merge with (a first build): the engine writes the model's latest rows straight to files, with no
  // table in between — as fast as the same SQL run by hand.
  if (existing.length === 0) return writeFirstVersion(ctx, node, runId, latest(`(${sql}) AS model`), { rowsIn, inputs });
  await ctx.engine.createTempTable('__new', latest(`(${sql}) AS model`));

  let touched = existing;
  if (partitionBy) {
    const parts = await ctx.engine.query(`SELECT DISTINCT ${d.cast(d.quoteIdent(partitionBy), 'VARCHAR')} AS p FROM __new`);
    const names = new Set(parts.rows.map((r) => `${partitionBy}=${String(r.p)}`));
    touched = existing.filter((f) => f.partition !== undefined && names.has(f.partition));
  }
  const old = touched.map((f) => ctx.storage.readPath(f.key));
  const merged =
    old.length === 0
      ? 'SELECT * FROM __new'
      : latest(`(${d.unionAllByName('SELECT * FROM __new', `SELECT * FROM ${d.readParquet(old)}`)}) AS merged`);
  const staging = await ctx.storage.stagingDir();
  try {
    const schema = await ctx.engine.describe('SELECT * FROM __new');
    const written = await ctx.engine.writeParquet(merged, join(staging, 'out'), { partitionBy });
    const kept = existing.filter((f) => !touched.includes(f)).map((f) => ctx.storage.readPath(f.key));
    await qualityGate(ctx, product, [...kept, ...written.map((f) => f.path)]);
    const add = await commitWritten(ctx, node, runId, written);
    await ctx.meta.manifest.commit({ dataset: key, runId, add, replace: touched.map((f) => f.key), schema, inputs });
    await refreshDataset(ctx, product.dataset);
    const newRows = await ctx.engine.query('SELECT count(*) AS n FROM __new');
    return { rowsIn, rowsOut: Number(newRows.rows[0]?.n ?? 0) };
  } finally {
    await ctx.engine.dropTempTable('__new');
    await ctx.storage.discard(staging);
  }
}

/**
 * The input position an incremental model has consumed once it read `files` (every live file of the input): the
 * highest seq among them, never less than `after`. A loop, not `Math.max(...seqs)`: a stream's bronze may hold more
 * files than a call takes arguments.
 */
function consumedUpTo(after: number, files: LakeFile[]): number {
  let n = after;
  for (const f of files) if (f.seq > n) n = f.seq;
  return n;
}

/** An incremental model's first version: `select` written and committed whole. */
async function writeFirstVersion(
  ctx: Context,
  node: ModelNode,
  runId: string,
  select: string,
  o: { rowsIn: number; inputs: Record<string, number> },
): Promise<{ rowsIn: number; rowsOut: number }> {
  const { product } = node;
  const staging = await ctx.storage.stagingDir();
  try {
    const schema = await ctx.engine.describe(select);
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy: product.settings.partitionBy });
    await qualityGate(
      ctx,
      product,
      written.map((f) => f.path),
    );
    const add = await commitWritten(ctx, node, runId, written);
    await ctx.meta.manifest.commit({ dataset: datasetKey(product.dataset), runId, add, replace: [], schema, inputs: o.inputs });
    await refreshDataset(ctx, product.dataset);
    return { rowsIn: o.rowsIn, rowsOut: add.reduce((s, f) => s + f.rows, 0) };
  } finally {
    await ctx.storage.discard(staging);
  }
}

/**
 * Incremental by partition: rebuilds only the partitions whose upstream files changed since this model last ran
 * (upstream datasets partitioned by the same column), and swaps exactly those partitions' files.
 */
async function materializePartitions(
  ctx: Context,
  node: ModelNode,
  runId: string,
  partitionBy: string,
): Promise<{ rowsIn: number; rowsOut: number }> {
  const { product } = node;
  const key = datasetKey(product.dataset);
  const state = await ctx.meta.manifest.state(key);
  const consumed = state?.inputs ?? {};
  const inputs: Record<string, number> = {};
  const touched = new Set<string>();
  let rowsIn = 0;
  let unpartitionedChange = false;
  for (const up of [...node.sources.map((s) => s.dataset), ...node.refs.map((r) => r.dataset)]) {
    const ukey = datasetKey(up);
    const after = consumed[ukey] ?? 0;
    const files = await ctx.meta.manifest.liveFiles(ukey);
    inputs[ukey] = consumedUpTo(after, files);
    for (const f of files.filter((x) => x.dataSeq > after)) {
      rowsIn += f.rows;
      if (f.partition?.startsWith(`${partitionBy}=`)) touched.add(f.partition.slice(partitionBy.length + 1));
      else unpartitionedChange = true;
    }
  }
  const existing = await ctx.meta.manifest.liveFiles(key);
  const firstBuild = !state?.schema;
  if (!firstBuild && touched.size === 0 && !unpartitionedChange) return { rowsIn: 0, rowsOut: 0 };
  // A change in an upstream not partitioned the same way may touch any partition: rebuild them all.
  const full = firstBuild || unpartitionedChange;
  const sql = renderModel(node, ctx.project);
  const d = ctx.engine.dialect;
  const values = [...touched].map((v) => d.quoteLiteral(v)).join(', ');
  const select = full ? sql : `SELECT * FROM (${sql}) AS model WHERE ${d.cast(d.quoteIdent(partitionBy), 'VARCHAR')} IN (${values})`;
  const replace = full
    ? existing
    : existing.filter((f) => f.partition !== undefined && touched.has(f.partition.slice(partitionBy.length + 1)));
  const staging = await ctx.storage.stagingDir();
  try {
    const schema = await ctx.engine.describe(`SELECT * FROM (${sql}) AS model`);
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy });
    const kept = existing.filter((f) => !replace.includes(f)).map((f) => ctx.storage.readPath(f.key));
    await qualityGate(ctx, product, [...kept, ...written.map((f) => f.path)]);
    const add = await commitWritten(ctx, node, runId, written);
    await ctx.meta.manifest.commit({ dataset: key, runId, add, replace: replace.map((f) => f.key), schema, inputs });
    await refreshDataset(ctx, product.dataset);
    return { rowsIn, rowsOut: add.reduce((s, f) => s + f.rows, 0) };
  } finally {
    await ctx.storage.discard(staging);
  }
}

async function commitWritten(ctx: Context, node: ModelNode, runId: string, written: WrittenFile[]) {
  const add: FileCommit['add'] = [];
  for (const f of written) {
    const key = fileKey(node.product.dataset, f.partition, runId);
    const bytes = await ctx.storage.commit(f.path, key);
    add.push({ key, partition: f.partition, rows: f.rows, bytes, columnBytes: f.columnBytes });
  }
  return add;
}

async function inputRows(ctx: Context, node: ModelNode): Promise<number> {
  let n = 0;
  for (const d of [...node.sources.map((s) => s.dataset), ...node.refs.map((r) => r.dataset)])
    n += (await ctx.meta.manifest.liveFiles(datasetKey(d))).reduce((a, f) => a + f.rows, 0);
  return n;
}
