import type { Project } from '../config/project.js';
import type { Slo } from './slo.js';

/** Sloth's multiwindow, multi-burn-rate alerting (Google SRE workbook): page and ticket conditions. */
export const BURN_ALERTS = {
  page: [
    { long: '1h', short: '5m', factor: 14.4 },
    { long: '6h', short: '30m', factor: 6 },
  ],
  ticket: [
    { long: '1d', short: '2h', factor: 3 },
    { long: '3d', short: '6h', factor: 1 },
  ],
} as const;

const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;

/** One burn-rate alert of an SLO: its severity and the window pairs any of which fires it. */
export interface BurnRateAlert {
  slo: Slo;
  severity: keyof typeof BURN_ALERTS;
  /** The Prometheus alert's name. */
  alert: 'FinmeshSLOBurnRatePage' | 'FinmeshSLOBurnRateTicket';
  /** Fires when, for one pair, the error ratio over both `long` and `short` exceeds `threshold` (`factor` × budget). */
  windows: { long: string; short: string; factor: number; threshold: number }[];
  summary: string;
  /** The runbook's name (`docs/runbooks/<name>.md`). */
  runbook: 'slo-burn-rate-page' | 'slo-burn-rate-ticket';
}

/**
 * The multiwindow burn-rate alerts of each SLO (`BURN_ALERTS`): a page and a ticket, except that a partner file's
 * completeness only opens tickets. Prometheus rules and Cloud Monitoring alert policies are both written from this.
 */
export function burnRateAlerts(slos: Slo[]): BurnRateAlert[] {
  const out: BurnRateAlert[] = [];
  for (const slo of slos) {
    const budget = 1 - slo.objective;
    for (const severity of Object.keys(BURN_ALERTS) as (keyof typeof BURN_ALERTS)[]) {
      // A late partner file is a ticket for the partner's owner, not a page: files arrive daily, not by the minute.
      if (severity === 'page' && slo.sli === 'completeness') continue;
      out.push({
        slo,
        severity,
        alert: severity === 'page' ? 'FinmeshSLOBurnRatePage' : 'FinmeshSLOBurnRateTicket',
        windows: BURN_ALERTS[severity].map((p) => ({ ...p, threshold: round(p.factor * round(budget)) })),
        summary: `${slo.service}: ${slo.sli} SLO (${slo.objective * 100}% over ${slo.windowDays}d) is burning its error budget ${severity === 'page' ? 'fast' : 'steadily'}`,
        runbook: severity === 'page' ? 'slo-burn-rate-page' : 'slo-burn-rate-ticket',
      });
    }
  }
  return out;
}

export interface RuleOptions {
  /** Divide every window and `for` by this (tests run hours in seconds). */
  timeScale?: number;
  /** Base of runbook links; `docs/runbooks/` relative to the project by default. */
  runbookBaseUrl?: string;
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

/** Runbooks the alerts link to, by alert name. */
export const RUNBOOKS = [
  'slo-burn-rate-page',
  'slo-burn-rate-ticket',
  'source-lag',
  'partner-file-missing',
  'pipeline-failing',
  'quarantine-spike',
  'stream-dead-letter',
  'data-quality-error',
  'watcher-silent',
  'budget-spent',
  'budget-forecast-overrun',
] as const;

function seconds(d: string): number {
  const n = Number(d.slice(0, -1));
  const unit = d.slice(-1);
  return n * (({ s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[unit] ?? 1);
}

/**
 * Prometheus recording and alerting rules: per SLO, Sloth's rule names (`slo:sli_error:ratio_rate5m` …,
 * `slo:objective:ratio`, `slo:error_budget:ratio`, burn rates) and page/ticket burn-rate alerts; plus symptom
 * alerts for sources, partner files, pipelines, quarantine, data quality and the watchers themselves.
 */
export function prometheusRules(project: Project, slos: Slo[], options: RuleOptions = {}): RuleFile {
  const scale = options.timeScale ?? 1;
  const dur = (d: string) => {
    const s = Math.max(1, Math.round(seconds(d) / scale));
    return s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
  };
  const runbook = (name: string) => `${options.runbookBaseUrl ?? 'docs/runbooks'}/${name}.md`;
  const groups: RuleFile['groups'] = [];
  for (const slo of slos) {
    const labels = { sloth_id: slo.name, sloth_service: slo.service, sloth_slo: slo.sli };
    const sel = labelSelector(labels);
    const rules: Rule[] = [];
    for (const w of WINDOWS) rules.push({ record: `slo:sli_error:ratio_rate${w}`, expr: sliErrorExpr(slo, dur(w), scale), labels });
    const budget = 1 - slo.objective;
    const period = `${slo.windowDays}d`;
    rules.push(
      { record: 'slo:objective:ratio', expr: `vector(${slo.objective})`, labels },
      { record: 'slo:error_budget:ratio', expr: `vector(${round(budget)})`, labels },
      { record: 'slo:time_period:days', expr: `vector(${slo.windowDays})`, labels },
      {
        record: 'slo:current_burn_rate:ratio',
        expr: `slo:sli_error:ratio_rate5m${sel} / on(sloth_id, sloth_service, sloth_slo) group_left slo:error_budget:ratio${sel}`,
        labels,
      },
      { record: `slo:sli_error:ratio_rate${period}`, expr: `avg_over_time(slo:sli_error:ratio_rate5m${sel}[${dur(period)}])`, labels },
      {
        record: 'slo:period_burn_rate:ratio',
        expr: `slo:sli_error:ratio_rate${period}${sel} / on(sloth_id, sloth_service, sloth_slo) group_left slo:error_budget:ratio${sel}`,
        labels,
      },
      { record: 'slo:period_error_budget_remaining:ratio', expr: `1 - slo:period_burn_rate:ratio${sel}`, labels },
    );
    for (const a of burnRateAlerts([slo])) {
      const cond = a.windows
        .map(
          (p) =>
            `(max(slo:sli_error:ratio_rate${p.long}${sel} > (${p.factor} * ${round(budget)})) without (sloth_window) and max(slo:sli_error:ratio_rate${p.short}${sel} > (${p.factor} * ${round(budget)})) without (sloth_window))`,
        )
        .join(' or ');
      rules.push({
        alert: a.alert,
        expr: cond,
        labels: { ...labels, severity: a.severity, owner: slo.owner },
        annotations: { summary: a.summary, runbook_url: runbook(a.runbook) },
      });
    }
    groups.push({ name: `finmesh-slo-${slo.name}`, rules });
  }
  groups.push({ name: 'finmesh-symptoms', rules: symptomRules(project, dur, runbook) });
  return groups.length > 0 ? { groups } : { groups: [] };
}

/**
 * The PromQL of an SLO's error ratio over window `w` (a Prometheus duration, already scaled): the expression behind
 * the recording rule `slo:sli_error:ratio_rate<w>`, for places that cannot rely on recording rules (Cloud Monitoring
 * alert policies, `src/iac/monitoring.ts`).
 */
export function sliErrorExpr(slo: Slo, w: string, scale = 1): string {
  const p = slo.product;
  const l = p ? `domain="${p.domain}",product="${p.name}"` : '';
  switch (slo.sli) {
    case 'pipeline-success':
      return `(sum(rate(finmesh_model_runs_total{${l},outcome="failed"}[${w}])) or vector(0)) / sum(rate(finmesh_model_runs_total{${l},outcome=~"succeeded|failed"}[${w}]))`;
    case 'correctness':
      return `(sum(rate(finmesh_check_results_total{${l},severity="error",outcome="fail"}[${w}])) or vector(0)) / sum(rate(finmesh_check_results_total{${l},severity="error",outcome=~"pass|fail"}[${w}]))`;
    case 'freshness': {
      const t = Math.max(1, Math.round((slo.thresholdSeconds ?? 300) / scale));
      const step = scale > 1 ? '1s' : '1m';
      return `avg_over_time((max((time() - finmesh_dataset_last_success_timestamp_seconds{${l}}) > bool ${t}))[${w}:${step}])`;
    }
    case 'api-availability':
      return `(sum(rate(finmesh_http_requests_total{status_class="5xx"}[${w}])) or vector(0)) / sum(rate(finmesh_http_requests_total[${w}]))`;
    case 'completeness': {
      // The share of the window during which the last day held fewer ingested files than promised.
      const f = slo.fileSource;
      const day = `${Math.max(1, Math.round(86_400 / scale))}s`;
      const step = scale > 1 ? '1s' : '5m';
      const sel = `domain="${f?.domain}",source="${f?.name}"`;
      // Only once the source has reported at all (a fresh install has no day to judge yet).
      return `avg_over_time((((sum(increase(finmesh_sftp_files_total{${sel},outcome="ingested"}[${day}])) or vector(0)) < bool ${f?.expectedDaily ?? 1}) and on() (count(finmesh_sftp_files_total{${sel}}) > 0))[${w}:${step}])`;
    }
  }
}

function symptomRules(project: Project, dur: (d: string) => string, runbook: (n: string) => string): Rule[] {
  const rules: Rule[] = [];
  const owner = (domain: string) => project.domains.find((d) => d.name === domain)?.config.owner.team ?? 'platform';
  for (const s of project.sources) {
    const l = `domain="${s.domain}",source="${s.name}"`;
    if (s.config.kind === 'sftp') {
      rules.push({
        alert: 'FinmeshPartnerFileMissing',
        expr: `(sum(increase(finmesh_sftp_files_total{${l},outcome="ingested"}[${dur('1d')}])) or vector(0)) < ${s.config.expectedDaily ?? 1}`,
        for: dur('1h'),
        labels: { severity: 'ticket', owner: owner(s.domain), source: s.name },
        annotations: {
          summary: `${s.name}: fewer partner files than expected (${s.config.expectedDaily ?? 1}/day)`,
          runbook_url: runbook('partner-file-missing'),
        },
      });
    } else {
      rules.push({
        alert: 'FinmeshSourceLag',
        expr: `max(finmesh_source_checkpoint_age_seconds{${l}}) > ${Math.max(1, seconds(dur('5m')))} and max(finmesh_source_lag_records{${l}}) > 0`,
        for: dur('5m'),
        labels: { severity: 'page', owner: owner(s.domain), source: s.name },
        annotations: {
          summary: `${s.name}: changes wait at the source and the checkpoint has not moved`,
          runbook_url: runbook('source-lag'),
        },
      });
    }
  }
  rules.push(
    {
      alert: 'FinmeshPipelineFailing',
      expr: `sum by (domain, product) (increase(finmesh_model_runs_total{outcome="failed"}[${dur('15m')}])) >= 2`,
      labels: { severity: 'page', owner: 'platform' },
      annotations: {
        summary: '{{ $labels.domain }}.{{ $labels.product }} failed twice or more in 15 minutes',
        runbook_url: runbook('pipeline-failing'),
      },
    },
    {
      alert: 'FinmeshQuarantineSpike',
      expr: `sum by (domain, source) (increase(finmesh_quarantine_rows_total[${dur('10m')}])) > 100`,
      labels: { severity: 'ticket', owner: 'platform' },
      annotations: {
        summary: '{{ $labels.source }}: more than 100 rows quarantined in 10 minutes',
        runbook_url: runbook('quarantine-spike'),
      },
    },
    {
      alert: 'FinmeshStreamDeadLetter',
      expr: `sum by (domain, source) (increase(finmesh_stream_dead_letter_records_total[${dur('15m')}])) > 0`,
      labels: { severity: 'ticket', owner: 'platform' },
      annotations: {
        summary: '{{ $labels.source }}: a poison batch; its changes that would not load went to quarantine as dead letters',
        runbook_url: runbook('stream-dead-letter'),
      },
    },
    {
      alert: 'FinmeshDataQualityError',
      expr: `sum by (domain, product, check) (increase(finmesh_check_results_total{severity="error",outcome="fail"}[${dur('10m')}])) > 0`,
      labels: { severity: 'ticket', owner: 'platform' },
      annotations: {
        summary: '{{ $labels.domain }}.{{ $labels.product }}: error-level check {{ $labels.check }} failed',
        runbook_url: runbook('data-quality-error'),
      },
    },
    {
      alert: 'FinmeshWatcherSilent',
      expr: 'up{job="finmesh"} == 0 or absent(up{job="finmesh"})',
      for: dur('5m'),
      labels: { severity: 'page', owner: 'platform' },
      annotations: { summary: 'Prometheus cannot scrape finmesh: nothing else here can fire', runbook_url: runbook('watcher-silent') },
    },
  );
  // Per-domain owners for the generic alerts: Alertmanager routes on `owner`; domains set it via relabelling.
  return rules;
}

function labelSelector(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
