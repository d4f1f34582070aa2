import type { Project } from '../config/project.js';
import { ConfigError, type ValidationIssue } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { Budget } from './cost-config.js';
import { costReport, type PricedUsage } from './report.js';

/** A budget and where the month stands against it. */
export interface BudgetStatus {
  scope: 'domain' | 'product';
  name: string;
  domain: string;
  owner: string;
  monthly: number;
  monthToDate: number;
  forecast: number;
  /** Month to date over the budget. */
  spent: number;
  /** The thresholds (`alertAt`) month to date has reached. */
  reached: number[];
  forecastOverrun: boolean;
}

/**
 * Checks the budgets name a domain or product of the project; returns the problems, each naming its path in
 * finmesh.yaml.
 */
export function budgetIssues(project: Project): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  project.config.cost.budgets.forEach((b, i) => {
    if (b.domain && !project.domains.some((d) => d.name === b.domain))
      issues.push({
        file: 'finmesh.yaml',
        path: `cost.budgets[${i}].domain`,
        expected: `a domain of the project (${project.domains.map((d) => d.name).join(', ')})`,
        found: `"${b.domain}"`,
      });
    if (b.product && !project.products.some((p) => p.name === b.product))
      issues.push({
        file: 'finmesh.yaml',
        path: `cost.budgets[${i}].product`,
        expected: 'a product of the project',
        found: `"${b.product}"`,
      });
  });
  return issues;
}

/** Where each budget stands this month: a domain's is the cost attributed to it, a product's its full cost. */
export function budgetStatus(project: Project, priced: PricedUsage): BudgetStatus[] {
  const issues = budgetIssues(project);
  if (issues.length > 0) throw new ConfigError(issues);
  const byDomain = costReport(project, priced, 'domain').rows;
  const byProduct = costReport(project, priced, 'product').rows;
  return project.config.cost.budgets.map((b) => {
    const row = b.domain ? byDomain.find((r) => r.name === b.domain) : byProduct.find((r) => r.name === b.product);
    const domain = b.domain ?? project.products.find((p) => p.name === b.product)?.domain ?? '';
    const monthToDate = row?.monthToDate ?? 0;
    const forecast = row?.forecast ?? 0;
    return {
      scope: b.domain ? 'domain' : 'product',
      name: (b.domain ?? b.product) as string,
      domain,
      owner: ownerOf(project, domain),
      monthly: b.monthly,
      monthToDate,
      forecast,
      spent: monthToDate / b.monthly,
      reached: b.alertAt.filter((t) => monthToDate >= t * b.monthly),
      forecastOverrun: forecast > b.monthly,
    };
  });
}

/** Sets the cost gauges of `/metrics`: every domain's and product's month to date and forecast, and the budgets. */
export function exportCostMetrics(project: Project, priced: PricedUsage, metrics: Metrics): void {
  for (const r of costReport(project, priced, 'domain').rows) {
    metrics.costMonthToDate.set({ domain: r.name, product: '' }, r.monthToDate);
    metrics.costForecast.set({ domain: r.name, product: '' }, r.forecast);
  }
  for (const r of costReport(project, priced, 'product').rows) {
    metrics.costMonthToDate.set({ domain: r.domain ?? '', product: r.name }, r.monthToDate);
    metrics.costForecast.set({ domain: r.domain ?? '', product: r.name }, r.forecast);
  }
  for (const b of project.config.cost.budgets) metrics.budgetMonthly.set(budgetLabels(project, b), b.monthly);
}

function budgetLabels(project: Project, b: Budget): { domain: string; product: string } {
  if (b.domain) return { domain: b.domain, product: '' };
  return { domain: project.products.find((p) => p.name === b.product)?.domain ?? '', product: b.product ?? '' };
}

function ownerOf(project: Project, domain: string): string {
  return project.domains.find((d) => d.name === domain)?.config.owner.team ?? 'platform';
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * Prometheus alerting rules for the budgets, on the cost gauges finmesh exports: per budget, one alert per threshold
 * (`alertAt`, default 50%, 90% and 100%: `FinmeshBudgetSpent` with a `threshold` label) and one when the month-end
 * forecast exceeds the budget (`FinmeshBudgetForecastOverrun`). Tickets for the domain's owner, with runbooks.
 */
export function budgetRules(
  project: Project,
  options: { runbookBaseUrl?: string | undefined; forDuration?: string } = {},
): { name: string; rules: Rule[] } {
  const issues = budgetIssues(project);
  if (issues.length > 0) throw new ConfigError(issues);
  const runbook = (n: string) => `${options.runbookBaseUrl ?? 'docs/runbooks'}/${n}.md`;
  const currency = project.config.cost.currency;
  const rules: Rule[] = [];
  for (const b of project.config.cost.budgets) {
    const l = budgetLabels(project, b);
    const selector = `{domain="${l.domain}",product="${l.product}"}`;
    const scope = b.domain ? 'domain' : 'product';
    const name = (b.domain ?? b.product) as string;
    const labels = { severity: 'ticket', owner: ownerOf(project, l.domain), budget_scope: scope, budget: name };
    for (const t of [...b.alertAt].sort((x, y) => x - y)) {
      const pct = `${Math.round(t * 100)}%`;
      rules.push({
        alert: 'FinmeshBudgetSpent',
        expr: `max by (domain, product) (finmesh_cost_month_to_date${selector}) >= ${round(t * b.monthly)}`,
        labels: { ...labels, threshold: pct },
        annotations: {
          summary: `${scope} ${name} has spent ${pct} of its monthly budget of ${currency} ${b.monthly}`,
          runbook_url: runbook('budget-spent'),
        },
      });
    }
    rules.push({
      alert: 'FinmeshBudgetForecastOverrun',
      expr: `max by (domain, product) (finmesh_cost_forecast_month_end${selector}) > ${round(b.monthly)}`,
      for: options.forDuration ?? '30m',
      labels,
      annotations: {
        summary: `${scope} ${name} is forecast to spend more than its monthly budget of ${currency} ${b.monthly} by the end of the month`,
        runbook_url: runbook('budget-forecast-overrun'),
      },
    });
  }
  return { name: 'finmesh-budgets', rules };
}

function round(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}
