import type { Project } from '../config/project.js';
import { parseDuration } from '../core/duration.js';
import { ConfigError } from '../core/errors.js';
import { budgetIssues } from './budgets.js';

/**
 * The labels finmesh's cloud resources carry (buckets, BigQuery datasets and jobs, Cloud Run jobs), so billing
 * budgets and cost reports can tell domains and products apart. The infrastructure generator sets them.
 */
export const COST_LABELS = { domain: 'finmesh-domain', product: 'finmesh-product' } as const;

/** A Terraform interpolation, spelt as Terraform reads it (`${var.x}`), not as a template literal. */
const tf = (expr: string) => `\${${expr}}`;

/** Cloud Logging severities in order, for `severity<X` filters. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** A Terraform module in JSON syntax (`*.tf.json`): variables and resources of the Google provider. */
export interface TerraformModule {
  variable: Record<string, { type: string; description: string; default?: unknown }>;
  resource: Record<string, Record<string, Record<string, unknown>>>;
}

/**
 * The cost plane's Terraform, as a module the infrastructure generator includes (`module "finmesh_cost" { source =
 * "./finmesh-cost" … }`) or that stands alone (`finmesh cost terraform`):
 *
 * - a Cloud Billing budget per `cost.budgets` entry, filtered by the resources' `finmesh-domain` or `finmesh-product`
 *   label, alerting at its thresholds of actual spend and at 100% of forecast spend;
 * - a log bucket for finmesh's logs with `cost.monitoring.retention.logs` retention, a sink routing them there (and
 *   nowhere else: the _Default sink excludes them), and on that sink one exclusion filter per logging control in
 *   finmesh.yaml — a component's level (`severity<…`), its sampling (`sample(insertId, 1 - sampleRate)`), its
 *   excluded messages (`jsonPayload.message=~…`) — so the cloud drops what finmesh would.
 */
export function costTerraform(project: Project): TerraformModule {
  const issues = budgetIssues(project);
  if (issues.length > 0) throw new ConfigError(issues);
  const cfg = project.config;
  const name = cfg.name;
  const budgets: Record<string, Record<string, unknown>> = {};
  for (const b of cfg.cost.budgets) {
    const key = b.domain ? `domain_${b.domain}` : `product_${b.product}`;
    const label = b.domain ? { [COST_LABELS.domain]: b.domain } : { [COST_LABELS.product]: b.product };
    const units = Math.floor(b.monthly);
    budgets[key] = {
      billing_account: tf('var.billing_account'),
      display_name: `finmesh ${name} ${b.domain ? `domain ${b.domain}` : `product ${b.product}`}`.slice(0, 60),
      budget_filter: {
        projects: [`projects/${tf('var.project_number')}`],
        labels: label,
        calendar_period: 'MONTH',
        credit_types_treatment: 'INCLUDE_ALL_CREDITS',
      },
      amount: {
        specified_amount: { currency_code: cfg.cost.currency, units: String(units), nanos: Math.round((b.monthly - units) * 1e9) },
      },
      threshold_rules: [
        ...[...b.alertAt].sort((x, y) => x - y).map((t) => ({ threshold_percent: t, spend_basis: 'CURRENT_SPEND' })),
        { threshold_percent: 1, spend_basis: 'FORECASTED_SPEND' },
      ],
      all_updates_rule: {
        monitoring_notification_channels: tf('var.notification_channels'),
        disable_default_iam_recipients: false,
      },
    };
  }
  const finmeshLogs = 'jsonPayload.component:*';
  const exclusions: { name: string; description: string; filter: string }[] = [];
  const level = (l: string) => SEVERITY[l] ?? 'INFO';
  if (level(cfg.logging.level) !== 'DEBUG')
    exclusions.push({
      name: 'finmesh-below-level',
      description: `finmesh logging.level ${cfg.logging.level}: lines below it (components with their own level are excepted)`,
      filter: `severity<${level(cfg.logging.level)}${Object.keys(cfg.logging.components)
        .filter((c) => cfg.logging.components[c]?.level)
        .map((c) => ` AND NOT jsonPayload.component="${c}"`)
        .join('')}`,
    });
  for (const [component, c] of Object.entries(cfg.logging.components)) {
    const id = component.replace(/[^a-z0-9-]/gi, '-').toLowerCase();
    const scope = `jsonPayload.component="${component}"`;
    if (c.level && level(c.level) !== 'DEBUG')
      exclusions.push({
        name: `finmesh-${id}-level`,
        description: `logging.components.${component}.level ${c.level}`,
        filter: `${scope} AND severity<${level(c.level)}`,
      });
    if (c.sampleRate < 1)
      exclusions.push({
        name: `finmesh-${id}-sampling`,
        description: `logging.components.${component}.sampleRate ${c.sampleRate}: keep that share of debug and info lines`,
        filter: `${scope} AND severity<WARNING AND sample(insertId, ${round(1 - c.sampleRate)})`,
      });
    for (const [i, pattern] of (c.exclude ?? []).entries())
      exclusions.push({
        name: `finmesh-${id}-exclude-${i + 1}`,
        description: `logging.components.${component}.exclude[${i}]`,
        filter: `${scope} AND severity<WARNING AND jsonPayload.message=~${JSON.stringify(pattern)}`,
      });
  }
  const retentionDays = Math.max(1, Math.round(parseDuration(cfg.cost.monitoring.retention.logs) / 86_400_000));
  const resource: TerraformModule['resource'] = {
    google_logging_project_bucket_config: {
      finmesh: {
        project: tf('var.project_id'),
        location: tf('var.log_location'),
        bucket_id: `finmesh-${name}`.slice(0, 100),
        retention_days: retentionDays,
        description: `finmesh ${name} logs (cost.monitoring.retention.logs ${cfg.cost.monitoring.retention.logs})`,
      },
    },
    google_logging_project_sink: {
      finmesh: {
        project: tf('var.project_id'),
        name: `finmesh-${name}`,
        destination: `logging.googleapis.com/${tf('google_logging_project_bucket_config.finmesh.id')}`,
        filter: finmeshLogs,
        unique_writer_identity: true,
        exclusions,
      },
    },
    google_logging_project_exclusion: {
      finmesh_out_of_default: {
        project: tf('var.project_id'),
        name: `finmesh-${name}-out-of-default`,
        description: 'finmesh logs go to their own bucket (the finmesh sink), not also to _Default',
        filter: finmeshLogs,
      },
    },
  };
  if (Object.keys(budgets).length > 0) resource.google_billing_budget = budgets;
  return {
    variable: {
      project_id: { type: 'string', description: 'The Google Cloud project finmesh runs in.' },
      project_number: { type: 'string', description: 'Its number (billing budgets filter projects by number).' },
      billing_account: { type: 'string', description: 'The Cloud Billing account the budgets belong to.' },
      notification_channels: {
        type: 'list(string)',
        description: 'Cloud Monitoring notification channels budget alerts go to (the domains’ on-call).',
        default: [],
      },
      log_location: { type: 'string', description: 'Where the log bucket lives.', default: 'global' },
    },
    resource,
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
