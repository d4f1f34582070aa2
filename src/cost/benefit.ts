import { datasetKey, type Project, sqlName } from '../config/project.js';
import { buildDag, downstreamOf } from '../engine/dag.js';
import type { Context } from '../jobs/context.js';
import type { LineageEventRecord, RunRecord } from '../metadata/metadata-store.js';
import { evaluateSlos, loadSlos, type SloStatus } from '../observability/slo.js';
import { costReport, monthPeriod, type PricedUsage, pricedUsage } from './report.js';

/** What becomes of a product in the cost-benefit ranking. */
export type Verdict = 'retire-or-merge' | 'review' | 'keep';

export interface ProductBenefit {
  rank: number;
  product: string;
  domain: string;
  verdict: Verdict;
  /** The month's cost: so far, and forecast to its end (own plus share of what it reads). */
  cost: { monthToDate: number; forecast: number };
  use: {
    /** Runs of other jobs (finmesh models, and any OpenLineage producer) that read it this month. */
    reads: number;
    /** Distinct jobs among them, plus the consumers its contract declares. */
    readers: string[];
    downstream: string[];
    consumers: string[];
  };
  /** Its SLOs this period: met when every SLI is at or above its objective (unmeasured SLOs do not count). */
  slo: { met: boolean | null; measured: number; missed: string[] };
  /** Declared in the contract (`customProperties: businessValue`), per month, in the cost currency. */
  businessValue: number | undefined;
  /** One line: why this rank. */
  why: string;
}

export interface SourceUpkeep {
  rank: number;
  source: string;
  domain: string;
  cost: { monthToDate: number; forecast: number };
  failedRuns: number;
  failedFiles: number;
  quarantinedFiles: number;
  quarantinedRows: number;
  /** Times its jobs failed twice or more within 15 minutes: what `FinmeshPipelineFailing` would have paged. */
  pages: number;
  why: string;
}

export interface CostBenefitReport {
  month: string;
  currency: string;
  products: ProductBenefit[];
  sources: SourceUpkeep[];
  /** Where reads come from: lineage (and the metered scans of finmesh's own runs). */
  readsFrom: string;
}

export interface BenefitInputs {
  priced: PricedUsage;
  lineage: LineageEventRecord[];
  runs: RunRecord[];
  slos: SloStatus[];
}

const PAGE_WINDOW_MS = 15 * 60_000;

/**
 * Cost against use, per product, ranked from the least worth keeping: a product nobody read this month, that nothing
 * depends on and no consumer declares, or whose declared business value is below its forecast cost, is a candidate
 * to retire or merge; one that missed its SLOs, or whose declared consumers were never seen reading it, is reviewed;
 * the rest are kept. Within a verdict, the dearest per reader first. Sources are ranked by upkeep: failed runs and files, quarantine, and the pages they
 * would have caused.
 *
 * Reads and readers come from lineage (every run that names the product's dataset as an input, finmesh's models and
 * any other OpenLineage producer that reports to finmesh), since the audit log of reads is not part of this store.
 */
export function costBenefit(project: Project, inputs: BenefitInputs): CostBenefitReport {
  const { priced } = inputs;
  const money = (v: number) => `${priced.sheet.currency} ${v >= 1 ? v.toFixed(2) : v.toPrecision(2)}`;
  const byProduct = new Map(costReport(project, priced, 'product').rows.map((r) => [r.name, r]));
  const bySource = new Map(costReport(project, priced, 'source').rows.map((r) => [r.name, r]));
  const { dag } = buildDag(project);
  const from = priced.period.start.getTime();
  const until = priced.period.end.getTime();
  const inMonth = (e: LineageEventRecord) => {
    const t = Date.parse(e.eventTime);
    return t >= from && t < until;
  };
  const products: Omit<ProductBenefit, 'rank'>[] = project.products.map((p) => {
    const key = datasetKey(p.dataset);
    const sql = sqlName(p.dataset);
    const own = `${p.domain}.${p.name}`;
    const readRuns = new Map<string, string>();
    for (const e of inputs.lineage) {
      if (e.eventType !== 'COMPLETE' || !inMonth(e) || e.jobName.endsWith(own)) continue;
      const ins = ((e.event as { inputs?: { name: string }[] }).inputs ?? []).map((i) => i.name);
      if (ins.some((n) => n === sql || n.endsWith(`/${key}`))) readRuns.set(e.runId, `${e.jobNamespace}/${e.jobName}`);
    }
    const node = dag.byName.get(p.name);
    const downstream = node ? [...downstreamOf(dag, node)].sort() : [];
    const consumers = p.settings.consumers;
    const readers = [...new Set([...readRuns.values(), ...consumers.map((c) => `consumer/${c}`)])].sort();
    const mine = inputs.slos.filter((s) => s.service === own && s.sliValue !== null);
    const missed = mine.filter((s) => (s.sliValue ?? 1) < s.objective).map((s) => s.sli);
    const row = byProduct.get(p.name);
    const cost = { monthToDate: row?.monthToDate ?? 0, forecast: row?.forecast ?? 0 };
    const value = p.settings.businessValue;
    const use = { reads: readRuns.size, readers, downstream, consumers };
    const slo = { met: mine.length === 0 ? null : missed.length === 0, measured: mine.length, missed };
    const unused = use.reads === 0 && downstream.length === 0 && consumers.length === 0;
    const unseen = use.reads === 0 && downstream.length === 0;
    const verdict: Verdict =
      unused || (value !== undefined && value < cost.forecast) ? 'retire-or-merge' : missed.length > 0 || unseen ? 'review' : 'keep';
    const jobs = readRuns.size === 0 ? 0 : new Set(readRuns.values()).size;
    const uses = `read ${use.reads} time${use.reads === 1 ? '' : 's'} by ${jobs} job${jobs === 1 ? '' : 's'}, ${downstream.length} product${downstream.length === 1 ? '' : 's'} downstream, ${consumers.length} declared consumer${consumers.length === 1 ? '' : 's'}`;
    const worth = value === undefined ? 'no business value declared' : `declared value ${money(value)}/month`;
    const slos = slo.met === null ? 'SLOs not measured yet' : slo.met ? 'SLOs met' : `missed ${missed.join(', ')}`;
    const reason =
      verdict === 'retire-or-merge'
        ? unused
          ? 'nobody reads it and nothing depends on it: retire it, or merge it into what it feeds'
          : 'it costs more than it is declared to return: merge it or retire it'
        : verdict === 'review'
          ? missed.length > 0
            ? 'it misses its SLOs: fix or renegotiate them'
            : 'consumers are declared but no read was seen this month: ask them whether they still use it'
          : 'used, and worth what it costs';
    return {
      product: own,
      domain: p.domain,
      verdict,
      cost,
      use,
      slo,
      businessValue: value,
      why: `${money(cost.forecast)}/month forecast (${money(cost.monthToDate)} so far); ${uses}; ${worth}; ${slos} — ${reason}`,
    };
  });
  const order: Record<Verdict, number> = { 'retire-or-merge': 0, review: 1, keep: 2 };
  const perReader = (b: Omit<ProductBenefit, 'rank'>) => b.cost.forecast / Math.max(1, b.use.readers.length + b.use.downstream.length);
  const ranked = products
    .sort((a, b) => order[a.verdict] - order[b.verdict] || perReader(b) - perReader(a) || a.product.localeCompare(b.product))
    .map((b, i) => ({ rank: i + 1, ...b }));

  const sources = project.sources.map((s) => {
    const jobs = new Set([`ingest:${s.name}`, `stream:${s.name}`]);
    const runs = inputs.runs.filter((r) => jobs.has(r.job) && r.startedAt.getTime() >= from && r.startedAt.getTime() < until);
    const failed = runs.filter((r) => r.status === 'failed').sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
    let pages = 0;
    let lastPage = Number.NEGATIVE_INFINITY;
    for (let i = 1; i < failed.length; i++) {
      const t = (failed[i] as RunRecord).startedAt.getTime();
      if (t - (failed[i - 1] as RunRecord).startedAt.getTime() <= PAGE_WINDOW_MS && t - lastPage > PAGE_WINDOW_MS) {
        pages++;
        lastPage = t;
      }
    }
    const meter = (name: string) =>
      priced.records.filter((r) => r.source === s.name && r.meter === name).reduce((a, r) => a + r.quantity, 0);
    const row = bySource.get(s.name);
    const u = {
      source: s.name,
      domain: s.domain,
      cost: { monthToDate: row?.monthToDate ?? 0, forecast: row?.forecast ?? 0 },
      failedRuns: failed.length,
      failedFiles: meter('files.failed'),
      quarantinedFiles: meter('files.quarantined'),
      quarantinedRows: meter('rows.rejected'),
      pages,
    };
    const incidents = u.failedRuns + u.failedFiles + u.quarantinedFiles + u.pages;
    return {
      ...u,
      incidents,
      why: `${incidents === 0 ? 'no incidents' : `${incidents} incident${incidents === 1 ? '' : 's'}`} (${u.failedRuns} failed runs, ${u.failedFiles} failed files, ${u.quarantinedFiles} files quarantined, ${u.pages} pages); ${u.quarantinedRows} rows quarantined; ${money(u.cost.forecast)}/month forecast`,
    };
  });
  const sourceRanked = sources
    .sort((a, b) => b.incidents - a.incidents || b.quarantinedRows - a.quarantinedRows || b.cost.forecast - a.cost.forecast)
    .map(({ incidents: _, ...s }, i) => ({ rank: i + 1, ...s }));

  return {
    month: priced.period.month,
    currency: priced.sheet.currency,
    products: ranked,
    sources: sourceRanked,
    readsFrom: 'lineage (OpenLineage inputs of every run this month) and the consumers contracts declare',
  };
}

/** The cost-benefit report of a month (default: this one), from a project's metadata store. */
export async function costBenefitOf(ctx: Pick<Context, 'project' | 'meta' | 'clock'>, month?: string): Promise<CostBenefitReport> {
  const period = monthPeriod(month, new Date(ctx.clock.now()));
  return costBenefit(ctx.project, {
    priced: await pricedUsage(ctx.project, ctx.meta.usage, period),
    lineage: await ctx.meta.lineage.list(),
    runs: await ctx.meta.runs.list({ limit: 1_000_000 }),
    slos: await evaluateSlos(loadSlos(ctx.project), ctx.meta, ctx.clock.now()),
  });
}
