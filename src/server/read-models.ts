import { type DatasetRef, datasetKey, findProduct, type Product, type Project, productId, sqlName } from '../config/project.js';
import type { Context } from '../jobs/context.js';
import { refreshDataset } from '../lake/session.js';
import { LineageGraph } from '../lineage/graph.js';
import { buildCatalog, type CatalogEntry } from '../mesh/reports.js';
import { evaluateSlos, loadSlos, type SloStatus } from '../observability/slo.js';
import { type JobHistory, runHistory } from '../runs/history.js';
import { jobName } from '../runs/job-names.js';

// What the console's pages show, each one answer of a documented route under /api/v1 (the CLI's `--json` answers
// where a command already says the same: `finmesh catalog`, `runs`, `slo`, `lineage`).

const DAY = 86_400_000;

/** An alert open now, named after the runbook it links to (the Prometheus rule of `finmesh alerts` with the same name). */
export interface OpenAlert {
  name: 'slo-burn-rate-page' | 'slo-burn-rate-ticket' | 'pipeline-failing' | 'data-quality-error' | 'partner-file-missing' | 'freshness';
  severity: 'page' | 'ticket';
  subject: string;
  summary: string;
  since: string | null;
}

export interface ProductHealth {
  product: string;
  domain: string;
  zone: string;
  dataset: string;
  owner: string | undefined;
  rows: number | null;
  freshness: CatalogEntry['freshness'];
  lastRun: { runId: string; status: string; startedAt: string; durationMs: number | null } | null;
  checks: CatalogEntry['quality'];
  slo: { name: string; errorBudgetRemaining: number | null; exhausted: boolean } | null;
}

export interface Overview {
  project: string;
  description: string | undefined;
  generatedAt: string;
  domains: { name: string; owner: string; products: number; sources: number }[];
  products: ProductHealth[];
  totals: { products: number; datasets: number; rows: number; runs: number; failedRuns: number; openAlerts: number };
  alerts: OpenAlert[];
}

/** The mesh at a glance: domains, every product's health, open alerts. */
export async function overview(ctx: Context): Promise<Overview> {
  const { project } = ctx;
  const [catalog, slos, jobs, summaries] = await Promise.all([
    buildCatalog(ctx),
    evaluateSlos(loadSlos(project), ctx.meta),
    runHistory(ctx, { limit: 1_000_000 }),
    ctx.meta.manifest.summaries(),
  ]);
  const rows = new Map(summaries.map((s) => [s.dataset, s.rows]));
  const products = project.products.map((p): ProductHealth => {
    const entry = catalog.find((c) => c.product === productId(p)) as CatalogEntry;
    const last = jobs.find((j) => j.job === jobName.model(p))?.runs[0];
    const slo = productSlos(project, p, slos)[0];
    return {
      product: productId(p),
      domain: p.domain,
      zone: p.dataset.zone,
      dataset: sqlName(p.dataset),
      owner: p.owner,
      rows: rows.get(`${p.dataset.domain}/${p.dataset.zone}/${p.dataset.name}`) ?? null,
      freshness: entry.freshness,
      lastRun: last ? { runId: last.runId, status: last.status, startedAt: last.startedAt, durationMs: last.durationMs } : null,
      checks: entry.quality,
      slo: slo ? { name: slo.name, errorBudgetRemaining: slo.errorBudgetRemaining, exhausted: slo.exhausted } : null,
    };
  });
  const alerts = await openAlerts(ctx, { catalog, slos, jobs });
  const runs = jobs.flatMap((j) => j.runs);
  return {
    project: project.config.name,
    description: project.config.description,
    generatedAt: new Date(ctx.clock.now()).toISOString(),
    domains: project.domains.map((d) => ({
      name: d.name,
      owner: d.config.owner.team,
      products: project.products.filter((p) => p.domain === d.name).length,
      sources: project.sources.filter((s) => s.domain === d.name).length,
    })),
    products,
    totals: {
      products: products.length,
      datasets: summaries.length,
      rows: summaries.reduce((a, s) => a + s.rows, 0),
      runs: runs.length,
      failedRuns: runs.filter((r) => r.status === 'failed').length,
      openAlerts: alerts.length,
    },
    alerts,
  };
}

/** Alerts open now, from stored history: burning SLO budgets, failing jobs, failed error checks, stale products, missing files. */
export async function openAlerts(
  ctx: Context,
  known: { catalog?: CatalogEntry[]; slos?: SloStatus[]; jobs?: JobHistory[] } = {},
): Promise<OpenAlert[]> {
  const { project } = ctx;
  const catalog = known.catalog ?? (await buildCatalog(ctx));
  const slos = known.slos ?? (await evaluateSlos(loadSlos(project), ctx.meta));
  const jobs = known.jobs ?? (await runHistory(ctx, { limit: 1_000_000 }));
  const alerts: OpenAlert[] = [];
  for (const s of slos) {
    // Sloth's page and ticket thresholds: 14.4× over an hour spends 2% of a 30-day budget; 1× over a day, a steady leak.
    const fast = s.burnRates['1h'];
    const slow = s.burnRates['1d'];
    if (s.exhausted || (fast !== null && fast >= 14.4))
      alerts.push({
        name: 'slo-burn-rate-page',
        severity: 'page',
        subject: s.name,
        summary: s.exhausted ? `${s.name}: error budget spent` : `${s.name}: burning its error budget at ${fast}× (1 h)`,
        since: null,
      });
    else if (slow !== null && slow >= 1)
      alerts.push({
        name: 'slo-burn-rate-ticket',
        severity: 'ticket',
        subject: s.name,
        summary: `${s.name}: burning its error budget at ${slow}× (1 d)`,
        since: null,
      });
  }
  for (const j of jobs) {
    const last = j.runs[0];
    if (last?.status === 'failed')
      alerts.push({
        name: 'pipeline-failing',
        severity: 'ticket',
        subject: j.job,
        summary: `${j.job}: last run failed (run ${last.runId}): ${last.error ?? 'no reason recorded'}`,
        since: last.startedAt,
      });
  }
  const results = await ctx.meta.checks.list({ since: new Date(ctx.clock.now() - DAY) });
  const latest = new Map<string, (typeof results)[number]>();
  for (const r of results) if (!latest.has(`${r.product}|${r.checkId}`)) latest.set(`${r.product}|${r.checkId}`, r);
  for (const r of latest.values())
    if (r.severity === 'error' && (r.status === 'fail' || r.status === 'error'))
      alerts.push({
        name: 'data-quality-error',
        severity: 'ticket',
        subject: `${r.product} ${r.checkId}`,
        summary: `${r.product}: ${r.checkId} ${r.status === 'fail' ? 'failed' : 'could not run'}: ${r.message}`,
        since: r.at.toISOString(),
      });
  for (const c of catalog)
    if (c.freshness.withinSlo === false)
      alerts.push({
        name: 'freshness',
        severity: 'ticket',
        subject: c.product,
        summary: `${c.product}: last updated ${c.freshness.ageSeconds} s ago, beyond its ${c.freshness.slo} freshness SLO`,
        since: c.freshness.lastUpdated,
      });
  for (const f of await partnerFiles(ctx, { quarantine: false, ledgerLimit: 0 }))
    for (const d of f.missingDays)
      alerts.push({
        name: 'partner-file-missing',
        severity: 'ticket',
        subject: f.source,
        summary: `${f.source}: ${d.ingested} of ${d.expected} files on ${d.day}`,
        since: `${d.day}T00:00:00.000Z`,
      });
  return alerts;
}

export interface ProductDetail {
  catalog: CatalogEntry;
  dataset: string;
  rows: number | null;
  contract: CatalogEntry['contract'] & { apiVersion: string | undefined; tags: string[] };
  slos: SloStatus[];
  /** Error budget remaining, evaluated at points over the SLO's history (oldest first). */
  budgetHistory: { slo: string; points: { at: string; errorBudgetRemaining: number | null }[] }[];
  /** Check results per run, oldest first. */
  quality: {
    runId: string;
    at: string;
    passed: number;
    failed: number;
    errors: number;
    results: { checkId: string; column: string | undefined; status: string; severity: string; message: string }[];
  }[];
  /** Each commit of the product's data with the time since the one before (how stale it had become), oldest first. */
  freshnessHistory: { at: string; gapSeconds: number | null }[];
  runs: JobHistory['runs'];
}

/** One product in full: the catalog's entry, the contract, SLOs with their budget over time, quality over time, freshness, runs. */
export async function productDetail(ctx: Context, id: string): Promise<ProductDetail> {
  const p = findProduct(ctx.project, id);
  const key = `${p.dataset.domain}/${p.dataset.zone}/${p.dataset.name}`;
  const catalog = (await buildCatalog(ctx)).find((c) => c.product === productId(p)) as CatalogEntry;
  const slos = productSlos(ctx.project, p, await evaluateSlos(loadSlos(ctx.project), ctx.meta));
  const now = ctx.clock.now();
  const firstRun = (await ctx.meta.runs.list({ job: jobName.model(p), limit: 1_000_000 })).at(-1)?.startedAt.getTime();
  const points = 24;
  const from = firstRun ?? now - DAY;
  const budgetHistory = [];
  for (const slo of loadSlos(ctx.project).filter((s) => slos.some((x) => x.name === s.name))) {
    const series = [];
    for (let i = 1; i <= points; i++) {
      const at = from + ((now - from) * i) / points;
      const [status] = await evaluateSlos([slo], ctx.meta, at);
      series.push({ at: new Date(at).toISOString(), errorBudgetRemaining: status?.errorBudgetRemaining ?? null });
    }
    budgetHistory.push({ slo: slo.name, points: series });
  }
  const results = await ctx.meta.checks.list({ product: productId(p), since: new Date(now - 7 * DAY) });
  const byRun = new Map<string, ProductDetail['quality'][number]>();
  for (const r of [...results].reverse()) {
    if (r.status === 'skipped') continue;
    const q = byRun.get(r.runId) ?? { runId: r.runId, at: r.at.toISOString(), passed: 0, failed: 0, errors: 0, results: [] };
    if (r.status === 'pass') q.passed++;
    else if (r.status === 'fail') q.failed++;
    else q.errors++;
    q.results.push({ checkId: r.checkId, column: r.column, status: r.status, severity: r.severity, message: r.message });
    byRun.set(r.runId, q);
  }
  const commits = await ctx.meta.manifest.commitTimes(key, new Date(now - 7 * DAY));
  const summary = (await ctx.meta.manifest.summaries()).find((s) => s.dataset === key);
  const runs = (await runHistory(ctx, { job: jobName.model(p), limit: 50 }))[0]?.runs ?? [];
  return {
    catalog,
    dataset: sqlName(p.dataset),
    rows: summary?.rows ?? null,
    contract: {
      ...catalog.contract,
      apiVersion: p.contract.apiVersion,
      tags: Array.isArray(p.contract.tags) ? p.contract.tags.map(String) : [],
    },
    slos,
    budgetHistory,
    quality: [...byRun.values()],
    freshnessHistory: commits.map((t, i) => ({
      at: t.toISOString(),
      gapSeconds: i === 0 ? null : Math.round(((t.getTime() - (commits[i - 1] as Date).getTime()) / 1000) * 10) / 10,
    })),
    runs,
  };
}

export interface LineageGraphView {
  datasets: { id: string; name: string; namespace: string; zone: string | null; product: string | null; fields: string[] }[];
  jobs: { id: string; name: string; inputs: string[]; outputs: string[] }[];
  /** Dataset → dataset through a job. */
  edges: { from: string; to: string; job: string }[];
  /** Column → column, with the OpenLineage transformation (type, subtype, masking). */
  columnEdges: { from: { dataset: string; field: string }; to: { dataset: string; field: string }; transformations: unknown[] }[];
}

/** The whole lineage graph from stored OpenLineage events: datasets by SQL name, jobs, dataset and column edges. */
export async function lineageGraph(ctx: Context): Promise<LineageGraphView> {
  const graph = LineageGraph.fromEvents((await ctx.meta.lineage.list()).map((r) => r.event));
  const label = (k: string) => graph.label(k);
  const products = new Map(ctx.project.products.map((p) => [sqlName(p.dataset), productId(p)]));
  const columnEdges: LineageGraphView['columnEdges'] = [];
  for (const [k, d] of graph.datasets)
    for (const f of d.fields)
      for (const e of graph.columns(k, f, 'upstream', 1))
        columnEdges.push({
          from: { dataset: label(e.from.dataset), field: e.from.field },
          to: { dataset: label(e.to.dataset), field: e.to.field },
          transformations: e.transformations ?? [],
        });
  const jobs = [...graph.jobs.entries()].map(([, j]) => ({
    id: j.name,
    name: j.name,
    inputs: [...j.inputs].map(label),
    outputs: [...j.outputs].map(label),
  }));
  return {
    datasets: [...graph.datasets.entries()].map(([k, d]) => {
      const name = label(k);
      return {
        id: name,
        name,
        namespace: d.namespace,
        zone: /_(landing|bronze|silver|gold|quarantine)\./.exec(name)?.[1] ?? null,
        product: products.get(name) ?? null,
        fields: d.fields,
      };
    }),
    jobs,
    edges: jobs.flatMap((j) => j.inputs.flatMap((i) => j.outputs.map((o) => ({ from: i, to: o, job: j.name })))),
    columnEdges,
  };
}

export interface PartnerFiles {
  source: string;
  domain: string;
  host: string;
  expectedDaily: number | null;
  counts: Record<string, number>;
  ledger: { path: string; size: number; sha256: string; status: string; runId: string; seenAt: string }[];
  duplicates: { path: string; sha256: string; firstSeenAs: string | null; seenAt: string }[];
  quarantine: { file: string; line: number; reason: string; raw: string; runId: string }[];
  /** Whole UTC days since the source's first file with fewer files than expected. */
  missingDays: { day: string; expected: number; ingested: number }[];
}

/** Partner files per file source: the ledger, duplicates, quarantined rows with their reasons and raw lines, missing days. */
export async function partnerFiles(ctx: Context, options: { quarantine?: boolean; ledgerLimit?: number } = {}): Promise<PartnerFiles[]> {
  const out: PartnerFiles[] = [];
  const now = ctx.clock.now();
  for (const s of ctx.project.sources) {
    if (s.config.kind !== 'sftp') continue;
    const ledger = options.ledgerLimit === 0 ? [] : await ctx.meta.ledger.list(s.name, options.ledgerLimit ?? 500);
    const counts: Record<string, number> = {};
    for (const e of ledger) counts[e.status] = (counts[e.status] ?? 0) + 1;
    const duplicates = [];
    for (const e of ledger.filter((x) => x.status === 'duplicate')) {
      const first = await ctx.meta.ledger.find(s.name, e.sha256);
      duplicates.push({ path: e.path, sha256: e.sha256, firstSeenAs: first?.path ?? null, seenAt: e.seenAt.toISOString() });
    }
    const expected = s.config.expectedDaily;
    const missingDays: PartnerFiles['missingDays'] = [];
    if (expected !== undefined && expected > 0) {
      const days = await ctx.meta.ledger.days(s.name, new Date(now - 7 * DAY));
      if (days.firstSeen) {
        // Whole days only: today is not over, and the day of the first file may have started before it.
        const first = Date.UTC(days.firstSeen.getUTCFullYear(), days.firstSeen.getUTCMonth(), days.firstSeen.getUTCDate()) + DAY;
        for (let t = Math.max(first, now - 7 * DAY); t + DAY <= now; t += DAY) {
          const day = new Date(t).toISOString().slice(0, 10);
          const ingested = days.ingested.get(day) ?? 0;
          if (ingested < expected) missingDays.push({ day, expected, ingested });
        }
      }
    }
    out.push({
      source: s.name,
      domain: s.domain,
      host: s.config.host,
      expectedDaily: expected ?? null,
      counts,
      ledger: ledger.map((e) => ({
        path: e.path,
        size: e.size,
        sha256: e.sha256,
        status: e.status,
        runId: e.runId,
        seenAt: e.seenAt.toISOString(),
      })),
      duplicates,
      quarantine:
        options.quarantine === false ? [] : await quarantined(ctx, { domain: s.domain, zone: 'quarantine', name: s.dataset.name }),
      missingDays,
    });
  }
  return out;
}

async function quarantined(ctx: Context, dataset: DatasetRef): Promise<PartnerFiles['quarantine']> {
  if (!(await ctx.meta.manifest.state(datasetKey(dataset)))) return [];
  // Our own statement over one dataset: its view is (re)defined from the live files, no user SQL involved.
  await refreshDataset(ctx, dataset);
  const r = await ctx.engine.query(
    `select _source_file as file, _line as line, reason, raw, _run_id as run_id from ${sqlName(dataset)} order by _ingested_at desc, _line limit 500`,
  );
  return r.rows.map((x) => ({
    file: String(x.file),
    line: Number(x.line),
    reason: String(x.reason),
    raw: String(x.raw ?? ''),
    runId: String(x.run_id),
  }));
}

/** The SLOs about a product (from its contract's SLA or an OpenSLO file naming it). */
function productSlos(project: Project, p: Product, slos: SloStatus[]): SloStatus[] {
  const names = new Set(
    loadSlos(project)
      .filter((s) => s.product && productId(s.product) === productId(p))
      .map((s) => s.name),
  );
  return slos.filter((s) => names.has(s.name));
}
