import type { Project } from '../config/project.js';
import { burnRateAlerts, sliErrorExpr } from '../observability/alert-rules.js';
import { loadSlos } from '../observability/slo.js';
import { attrs, type Block, block, labels, map, raw, render, str, tfName, type Value, variable } from './hcl.js';

/** Cloud Monitoring and Cloud Logging variables of the module (`variables.tf`). */
export function monitoringVariables(): Block[] {
  return [
    variable(
      'page_notification_channels',
      'Cloud Monitoring notification channels (projects/<project>/notificationChannels/<id>) told when an SLO burns its error budget fast (a page).',
      raw('[]'),
      'list(string)',
    ),
    variable(
      'ticket_notification_channels',
      'Cloud Monitoring notification channels told when an SLO burns its error budget steadily (a ticket).',
      raw('[]'),
      'list(string)',
    ),
    variable('alert_evaluation_interval', 'How often Cloud Monitoring evaluates the burn-rate conditions.', '60s'),
    variable(
      'log_filter',
      'A Cloud Logging filter selecting the entries finmesh writes (e.g. resource.type="cloud_run_revision" AND resource.labels.service_name=~"^finmesh"); empty: every entry of the project with finmesh\'s fields.',
      '',
    ),
  ];
}

/**
 * `monitoring.tf`: a Cloud Monitoring alert policy per SLO and severity, from the same multiwindow burn-rate alerts
 * finmesh writes for Prometheus (`burnRateAlerts`), one PromQL condition per window pair (Managed Service for
 * Prometheus keeps finmesh's metric names). Recording rules do not exist in Cloud Monitoring, so each condition holds
 * the SLI's error ratio itself (`sliErrorExpr`). Then log-based metrics over finmesh's structured logs: failed runs,
 * quarantined rows, dead-lettered changes.
 */
export function monitoringTerraform(project: Project): string {
  const blocks: Block[] = [];
  for (const a of burnRateAlerts(loadSlos(project)).sort(
    (x, y) => x.slo.name.localeCompare(y.slo.name) || x.severity.localeCompare(y.severity),
  )) {
    const slo = a.slo;
    const budget = 1 - slo.objective;
    const conditions = a.windows.map((w) =>
      block(
        'conditions',
        [],
        [
          attrs([['display_name', str(`error ratio over ${w.long} and ${w.short} above ${w.factor} × budget (${w.threshold})`)]]),
          block(
            'condition_prometheus_query_language',
            [],
            [
              attrs([
                [
                  'query',
                  str(`((${sliErrorExpr(slo, w.long)}) > ${w.threshold}) and on() ((${sliErrorExpr(slo, w.short)}) > ${w.threshold})`),
                ],
                ['duration', str('0s')],
                ['evaluation_interval', raw('var.alert_evaluation_interval')],
                ['alert_rule', str(a.alert)],
                ['rule_group', str(`finmesh-slo-${slo.name}`)],
              ]),
              labels({ sloth_id: slo.name, severity: a.severity, owner: slo.owner }),
            ],
          ),
        ],
      ),
    );
    blocks.push(
      block(
        'resource',
        ['google_monitoring_alert_policy', `slo_${tfName(slo.name)}_${a.severity}`],
        [
          attrs([
            ['display_name', str(`${slo.name}: burn rate (${a.severity})`)],
            ['combiner', str('OR')],
            ['notification_channels', raw(`var.${a.severity}_notification_channels`)],
          ]),
          labels(
            {
              finmesh_slo: slo.name,
              sli: slo.sli,
              severity: a.severity,
              owner: slo.owner,
              objective: String(slo.objective).replace('.', '_'),
              window: `${slo.windowDays}d`,
            },
            'user_labels',
          ),
          block(
            'documentation',
            [],
            [
              attrs([
                [
                  'content',
                  str(
                    `${a.summary}. Error budget ${round(budget)} over ${slo.windowDays} days; fires when the error ratio over both windows of a pair exceeds the pair's factor × budget. Runbook: docs/runbooks/${a.runbook}.md (from ${slo.source}).`,
                  ),
                ],
                ['mime_type', str('text/markdown')],
              ]),
            ],
          ),
          ...conditions,
        ],
      ),
    );
  }
  for (const m of LOG_METRICS) blocks.push(logMetric(m));
  return render(blocks);
}

/** A log-based metric over finmesh's JSON log lines (DESIGN §7: `run_id`, `job`, `domain`, …). */
interface LogMetric {
  id: string;
  name: string;
  description: string;
  /** Selects the lines (ANDed with `var.log_filter`). */
  filter: string;
  /** Counts lines (INT64), or sums the field (a DISTRIBUTION of its values). */
  value?: string;
  labels: Record<string, string>;
}

export const LOG_METRICS: readonly LogMetric[] = [
  {
    id: 'failed_runs',
    name: 'finmesh/failed_runs',
    description: 'Runs of finmesh jobs (model, check, ingest, stream, gc) that failed, from the ERROR line each failed run writes.',
    filter: 'severity>=ERROR AND jsonPayload.outcome="failed" AND jsonPayload.run_id:*',
    labels: { job: 'the job (model:payments.transactions, ingest:acquirer-settlements, …)', domain: 'the domain of the job' },
  },
  {
    id: 'quarantined_rows',
    name: 'finmesh/quarantined_rows',
    description:
      'Rows a run sent to quarantine (bad rows, failed files, dead-lettered changes), from the rows_rejected of the line a run writes when it ends.',
    filter: 'jsonPayload.rows_rejected>0 AND jsonPayload.run_id:*',
    value: 'jsonPayload.rows_rejected',
    labels: { job: 'the job that quarantined the rows', domain: 'the domain of the source', source: 'the source the rows came from' },
  },
  {
    id: 'dead_lettered_changes',
    name: 'finmesh/dead_lettered_changes',
    description: 'Changes of a stream that would not load and went to quarantine as dead letters (a poison batch).',
    filter: 'jsonPayload.dead_letters>0',
    value: 'jsonPayload.dead_letters',
    labels: { domain: 'the domain of the source', source: 'the change feed' },
  },
];

function logMetric(m: LogMetric): Block {
  const descriptorLabels = Object.entries(m.labels).map(([key, description]) =>
    block(
      'labels',
      [],
      [
        attrs([
          ['key', str(key)],
          ['value_type', str('STRING')],
          ['description', str(description)],
        ]),
      ],
    ),
  );
  const body = [
    attrs([
      ['name', str(m.name)],
      ['description', str(m.description)],
      ['filter', raw(`join(" AND ", compact([var.log_filter, ${str(m.filter).hcl}]))`)],
      ...(m.value ? ([['value_extractor', str(`EXTRACT(${m.value})`)]] as [string, Value][]) : []),
    ]),
    attrs([['label_extractors', map(Object.fromEntries(Object.keys(m.labels).map((k) => [k, str(`EXTRACT(jsonPayload.${k})`)])))]]),
    block(
      'metric_descriptor',
      [],
      [
        attrs([
          ['metric_kind', str('DELTA')],
          ['value_type', str(m.value ? 'DISTRIBUTION' : 'INT64')],
          ['unit', str('1')],
        ]),
        ...descriptorLabels,
      ],
    ),
  ];
  if (m.value)
    body.push(
      block(
        'bucket_options',
        [],
        [
          block(
            'exponential_buckets',
            [],
            [
              attrs([
                ['num_finite_buckets', raw('16')],
                ['growth_factor', raw('4')],
                ['scale', raw('1')],
              ]),
            ],
          ),
        ],
      ),
    );
  return block('resource', ['google_logging_metric', m.id], body);
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
