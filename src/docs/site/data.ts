import type { Project } from '../../config/project.js';
import { type CostBenefitReport, costBenefitOf } from '../../cost/benefit.js';
import { type BudgetStatus, budgetStatus } from '../../cost/budgets.js';
import { type MonitoringReport, monitoringReport } from '../../cost/monitoring.js';
import { type CostReport, costReport, monthPeriod, pricedUsage } from '../../cost/report.js';
import { AccessPolicy } from '../../governance/access.js';
import { accessMatrix, type MatrixRow } from '../../governance/matrix.js';
import type { Context } from '../../jobs/context.js';
import { DEFAULT_POLICIES } from '../../mesh/policies.js';
import { buildCatalog, type CatalogEntry, findGaps, type Gap } from '../../mesh/reports.js';
import { type ChainVerdict, verifyAuditChain } from '../../metadata/audit-chain.js';
import { prometheusRules } from '../../observability/alert-rules.js';
import type { Metrics } from '../../observability/metrics.js';
import { evaluateSlos, loadSlos, type Slo, type SloStatus } from '../../observability/slo.js';
import { type JobHistory, runHistory } from '../../runs/history.js';

/** A metric finmesh exports, as its registry declares it. */
export interface MetricInfo {
  name: string;
  help: string;
  type: string;
  labels: string[];
}

/** An alert rule finmesh generates (symptom alerts and the SLO burn-rate pair). */
export interface AlertInfo {
  alert: string;
  severity: string;
  summary: string;
  runbook: string;
  /** A source name, or what the alert is per: `slo`, `product`, `source`, or `finmesh` itself. */
  subject: string;
}

/**
 * Everything the documents show, read from the project and its metadata store at one moment (`takenAt`). Nothing here
 * is typed in by hand: a section whose data is absent (the project has not run, a plane is not there yet) says so.
 */
export interface DocsData {
  takenAt: Date;
  project: Project;
  /** The metadata store exists: the project has run at least once. */
  ran: boolean;
  catalog: CatalogEntry[] | undefined;
  gaps: Gap[];
  gapsEvaluated: { definition: boolean; history: boolean };
  slos: Slo[];
  sloStatus: SloStatus[] | undefined;
  alerts: AlertInfo[];
  metrics: MetricInfo[];
  /** Every run, grouped by job, newest first. */
  history: JobHistory[] | undefined;
  policyViolations: { policy: string; severity: string; file: string; path: string; found: string; expected: string }[] | undefined;
  /** What the month cost, from what finmesh metered; undefined when nothing has been metered. */
  cost: CostData | undefined;
  /** The policies evaluated: the built-in ones finmesh.yaml turns on, and the project's own. */
  policies: { id: string; severity: string; file: string }[];
  /** The access model and the audit log; undefined when the project declares no governance/access.yaml. */
  governance: GovernanceData | undefined;
}

export interface GovernanceData {
  personas: {
    name: string;
    description: string;
    members: string[];
    api: string[];
    raw: boolean;
    classifications: Record<string, string>;
    rowFilters: number;
  }[];
  datasets: string[];
  matrix: MatrixRow[];
  /** The audit log's chain verdict and what it holds; undefined before the project has run. */
  audit: (ChainVerdict & { byKind: Record<string, number>; first: string | undefined; last: string | undefined }) | undefined;
}

export interface CollectOptions {
  /** The project's context when its metadata store exists (the CLI opens it read-only). */
  ctx: Context | undefined;
  /** Metric declarations (the CLI passes those of a fresh `Metrics` registry). */
  metrics: MetricInfo[];
  policies?: DocsData['policyViolations'];
  /** The project's own policies, besides the built-in ones of finmesh.yaml. */
  ownPolicies?: DocsData['policies'];
  now?: Date;
}

/** Reads what the documents show, through the same functions as `catalog`, `gaps`, `slo`, `alerts` and `runs`. */
export async function collectDocsData(project: Project, options: CollectOptions): Promise<DocsData> {
  const { ctx } = options;
  const takenAt = options.now ?? new Date();
  const slos = loadSlos(project);
  const { gaps, evaluated } = await findGaps(project, ctx);
  const rules = prometheusRules(project, slos);
  const alerts: AlertInfo[] = [];
  const seen = new Set<string>();
  for (const g of rules.groups)
    for (const r of g.rules) {
      if (!r.alert) continue;
      const subject = r.labels?.source ?? r.labels?.sloth_service ?? '';
      const key = `${r.alert}|${r.labels?.severity}|${r.labels?.sloth_service ? '' : subject}`;
      // The burn-rate pair repeats per SLO: listed once, with the SLOs in their own table.
      if (seen.has(key)) continue;
      seen.add(key);
      const summary = r.annotations?.summary ?? '';
      alerts.push({
        alert: r.alert,
        severity: r.labels?.severity ?? '',
        // The burn-rate pair is one rule per SLO: its summary without the first SLO's name stands for all of them.
        summary: (r.labels?.sloth_service ? summary.replace(/^[^:]+: \S+ SLO \([^)]*\) /, 'SLO ') : summary).replace(
          /\{\{ \$labels\.(\w+) \}\}/g,
          '<$1>',
        ),
        runbook: (r.annotations?.runbook_url ?? '').replace(/^.*\//, '').replace(/\.md$/, ''),
        subject: r.labels?.sloth_service
          ? 'slo'
          : r.labels?.source
            ? r.labels.source
            : /\$labels\.product/.test(summary)
              ? 'product'
              : /\$labels\.source/.test(summary)
                ? 'source'
                : 'finmesh',
      });
    }
  let catalog: CatalogEntry[] | undefined;
  let sloStatus: SloStatus[] | undefined;
  let history: JobHistory[] | undefined;
  if (ctx) {
    catalog = await buildCatalog(ctx);
    sloStatus = await evaluateSlos(slos, ctx.meta, takenAt.getTime());
    history = await runHistory(ctx, { limit: 100_000 });
  }
  return {
    takenAt,
    project,
    ran: ctx !== undefined,
    catalog,
    gaps,
    gapsEvaluated: evaluated,
    slos,
    sloStatus,
    alerts,
    metrics: options.metrics,
    history,
    policyViolations: options.policies,
    policies: [
      // Without a `policies:` list, finmesh.yaml gets the built-in defaults (as `finmesh policy check` evaluates them).
      ...(project.config.policies.length > 0 ? project.config.policies : DEFAULT_POLICIES).map((x) => ({
        id: x.id,
        severity: x.severity,
        file: project.config.policies.length > 0 ? 'finmesh.yaml' : 'finmesh.yaml (defaults)',
      })),
      ...(options.ownPolicies ?? []),
    ],
    governance: await collectGovernance(project, ctx),
    cost: ctx ? await collectCost(ctx) : undefined,
  };
}

/** Gap kinds by priority: what leaves an incident unseen first, then what leaves it without an owner, then hygiene. */
export const GAP_PRIORITY = [
  'no-on-call',
  'no-slo',
  'slo-without-alert',
  'no-owner',
  'no-checks',
  'check-never-ran',
  'no-lineage',
  'unconsumed',
] as const;

export function gapRank(kind: string): number {
  const i = (GAP_PRIORITY as readonly string[]).indexOf(kind);
  return i < 0 ? GAP_PRIORITY.length : i;
}

/** The metrics a registry declares: name, type, help and label names (values are not read). */
export async function describeMetrics(metrics: Metrics): Promise<MetricInfo[]> {
  const labels = new Map<string, string[]>();
  for (const x of metrics.registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[] }[])
    labels.set(x.name, [...(x.labelNames ?? [])]);
  return (await metrics.registry.getMetricsAsJSON())
    .map((x) => ({ name: x.name, help: x.help, type: String(x.type), labels: labels.get(x.name) ?? [] }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The access model as the documents show it: personas, the persona × dataset matrix, and the audit log's state. */
export async function collectGovernance(project: Project, ctx: Context | undefined): Promise<GovernanceData | undefined> {
  if (!project.access) return undefined;
  const policy = new AccessPolicy(project, project.access);
  const personas = policy.personas().map((name) => {
    const p = policy.persona(name);
    return {
      name,
      description: p.description ?? '',
      members: p.gcp?.members ?? [],
      api: [...p.api],
      raw: p.raw,
      classifications: { ...p.classifications } as Record<string, string>,
      rowFilters: p.rowFilters.length,
    };
  });
  let audit: GovernanceData['audit'];
  if (ctx) {
    const records = await ctx.meta.audit.list();
    const byKind: Record<string, number> = {};
    for (const r of records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    audit = { ...verifyAuditChain(records), byKind, first: records[0]?.at.toISOString(), last: records.at(-1)?.at.toISOString() };
  }
  return { personas, datasets: policy.datasets().map((d) => d.name), matrix: accessMatrix(policy), audit };
}

export interface CostData {
  byProduct: CostReport;
  byDomain: CostReport;
  monitoring: MonitoringReport;
  benefit: CostBenefitReport;
  budgets: BudgetStatus[];
}

/**
 * The month's cost as `finmesh cost`, `cost monitoring` and `cost benefit` report it: storage metered up to now first,
 * then nothing more sampled, so the figures are those of the store as left.
 */
export async function collectCost(ctx: Context): Promise<CostData | undefined> {
  await ctx.meter.flush({ sample: true });
  const period = monthPeriod(undefined, new Date(ctx.clock.now()));
  const priced = await pricedUsage(ctx.project, ctx.meta.usage, period);
  if (priced.records.length === 0) return undefined;
  return {
    byProduct: costReport(ctx.project, priced, 'product'),
    byDomain: costReport(ctx.project, priced, 'domain'),
    monitoring: monitoringReport(ctx.project, priced),
    benefit: await costBenefitOf(ctx),
    budgets: budgetStatus(ctx.project, priced),
  };
}
