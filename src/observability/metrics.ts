import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import { applyMetricControls, type FamilySeries, type MetricControls, type MetricFamily, toPrometheusText } from './metric-controls.js';

// prom-client (and the OpenTelemetry API it loads) load when the first Metrics is made, not when this module is
// imported: a command that never measures anything does not pay for them at start.
const require = createRequire(import.meta.url);
let loaded: typeof PromClient | undefined;
const prom = (): typeof PromClient => {
  loaded ??= require('prom-client') as typeof PromClient;
  return loaded;
};

/**
 * finmesh's metrics, one registry per process. Names follow Prometheus conventions (`finmesh_` prefix, base
 * units, `_total`); labels come from bounded sets (domain, zone, product, source, outcome), never ids.
 */
export class Metrics {
  readonly registry = new (prom().Registry)();
  readonly sourceRecords = new (prom().Counter)({
    name: 'finmesh_source_records_total',
    help: 'Records read from a source and committed to bronze.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly sourceRecordsRead = new (prom().Counter)({
    name: 'finmesh_source_records_read_total',
    help: 'Records read from a change feed (committed or not yet).',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly sourceLagRecords = new (prom().Gauge)({
    name: 'finmesh_source_lag_records',
    help: 'Changes the source holds beyond the committed checkpoint.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly sourceLagBytes = new (prom().Gauge)({
    name: 'finmesh_source_lag_bytes',
    help: 'WAL bytes a replication slot retains beyond the committed checkpoint.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly checkpointAge = new (prom().Gauge)({
    name: 'finmesh_source_checkpoint_age_seconds',
    help: 'Time since the source checkpoint last moved.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly batchRecords = new (prom().Histogram)({
    name: 'finmesh_stream_batch_records',
    help: 'Records per committed bronze micro-batch.',
    labelNames: ['domain', 'source'] as const,
    buckets: [1, 10, 100, 1000, 5000, 10_000, 50_000, 100_000],
    registers: [this.registry],
  });
  readonly streamErrors = new (prom().Counter)({
    name: 'finmesh_stream_errors_total',
    help: 'Micro-batches that failed to commit and were retried.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new (prom().Counter)({
    name: 'finmesh_stream_dead_letter_records_total',
    help: 'Changes of poison micro-batches moved to the quarantine dataset as dead letters (the stream went on past them).',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly busPublished = new (prom().Counter)({
    name: 'finmesh_bus_messages_published_total',
    help: 'Messages (change-feed pages) published to the bus.',
    labelNames: ['bus', 'source'] as const,
    registers: [this.registry],
  });
  readonly busConsumed = new (prom().Counter)({
    name: 'finmesh_bus_messages_consumed_total',
    help: 'Messages delivered to the lake writer.',
    labelNames: ['bus', 'source'] as const,
    registers: [this.registry],
  });
  readonly busRedelivered = new (prom().Counter)({
    name: 'finmesh_bus_messages_redelivered_total',
    help: 'Deliveries that were redeliveries (attempt > 1).',
    labelNames: ['bus', 'source'] as const,
    registers: [this.registry],
  });
  readonly busBacklog = new (prom().Gauge)({
    name: 'finmesh_bus_backlog_records',
    help: 'Records read from the source and not yet committed to bronze.',
    labelNames: ['bus', 'source'] as const,
    registers: [this.registry],
  });
  readonly eventToBronze = new (prom().Histogram)({
    name: 'finmesh_event_to_bronze_latency_seconds',
    help: 'From a change at the source (event time) to its commit in bronze.',
    labelNames: ['domain', 'source'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly eventToGold = new (prom().Histogram)({
    name: 'finmesh_event_to_gold_latency_seconds',
    help: 'From a change at the source (event time) to the completion of the gold run that includes it.',
    labelNames: ['domain'] as const,
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly lakeFiles = new (prom().Counter)({
    name: 'finmesh_lake_files_committed_total',
    help: 'Files committed to the lake.',
    labelNames: ['domain', 'zone'] as const,
    registers: [this.registry],
  });
  readonly lakeBytes = new (prom().Counter)({
    name: 'finmesh_lake_bytes_written_total',
    help: 'Bytes committed to the lake.',
    labelNames: ['domain', 'zone'] as const,
    registers: [this.registry],
  });
  readonly lakeGcFiles = new (prom().Counter)({
    name: 'finmesh_lake_gc_files_total',
    help: 'Retired lake files garbage collection looked at: deleted, or kept (a reader still uses them, or within the grace).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly lakeGcBytes = new (prom().Counter)({
    name: 'finmesh_lake_gc_freed_bytes_total',
    help: 'Bytes garbage collection freed in the lake (replaced files, abandoned staging folders, old orphans).',
    registers: [this.registry],
  });
  readonly lakeCompactionFiles = new (prom().Counter)({
    name: 'finmesh_lake_compaction_files_total',
    help: 'Files bronze compaction merged (outcome merged), and the files it wrote in their place (outcome written).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly commitLatency = new (prom().Histogram)({
    name: 'finmesh_lake_commit_duration_seconds',
    help: 'Time to write and commit one bronze micro-batch.',
    labelNames: ['domain', 'source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly jobRuns = new (prom().Counter)({
    name: 'finmesh_job_runs_total',
    help: 'Runs of every job (ingest cycle, stream batch, model, check, gc…) by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jobDuration = new (prom().Histogram)({
    name: 'finmesh_job_run_duration_seconds',
    help: 'Duration of runs by kind of job.',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly modelRuns = new (prom().Counter)({
    name: 'finmesh_model_runs_total',
    help: 'Model runs by outcome.',
    labelNames: ['domain', 'product', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly modelDuration = new (prom().Histogram)({
    name: 'finmesh_model_run_duration_seconds',
    help: 'Duration of model runs.',
    labelNames: ['domain', 'product'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly modelRowsOut = new (prom().Counter)({
    name: 'finmesh_model_rows_written_total',
    help: 'Rows written by model runs.',
    labelNames: ['domain', 'product'] as const,
    registers: [this.registry],
  });
  readonly lastSuccess = new (prom().Gauge)({
    name: 'finmesh_dataset_last_success_timestamp_seconds',
    help: 'When a dataset was last written successfully (Unix time).',
    labelNames: ['domain', 'zone', 'product'] as const,
    registers: [this.registry],
  });
  readonly datasetRows = new (prom().Gauge)({
    name: 'finmesh_dataset_rows',
    help: 'Rows in a dataset’s live files.',
    labelNames: ['domain', 'zone', 'product'] as const,
    registers: [this.registry],
  });
  readonly checkResults = new (prom().Counter)({
    name: 'finmesh_check_results_total',
    help: 'Quality check results by outcome.',
    labelNames: ['domain', 'product', 'check', 'severity', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly sftpFiles = new (prom().Counter)({
    name: 'finmesh_sftp_files_total',
    help: 'Partner files by outcome: seen, ingested, duplicate, changed, quarantined, incomplete.',
    labelNames: ['domain', 'source', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly sftpBytes = new (prom().Counter)({
    name: 'finmesh_sftp_bytes_total',
    help: 'Bytes of partner files downloaded.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly rowsAccepted = new (prom().Counter)({
    name: 'finmesh_file_rows_accepted_total',
    help: 'Rows of partner files loaded into bronze.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly quarantineRows = new (prom().Counter)({
    name: 'finmesh_quarantine_rows_total',
    help: 'Rows (and whole files) sent to quarantine.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly fileLag = new (prom().Gauge)({
    name: 'finmesh_sftp_file_lag_seconds',
    help: 'Now minus the mtime of the newest file ingested.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly ingestDuration = new (prom().Histogram)({
    name: 'finmesh_ingest_duration_seconds',
    help: 'Duration of one ingestion cycle of a file source.',
    labelNames: ['domain', 'source'] as const,
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly httpDuration = new (prom().Histogram)({
    name: 'finmesh_http_request_duration_seconds',
    help: 'HTTP API request duration by route and status class.',
    labelNames: ['route', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly httpRequests = new (prom().Counter)({
    name: 'finmesh_http_requests_total',
    help: 'HTTP API requests by route and status class.',
    labelNames: ['route', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly costMonthToDate = new (prom().Gauge)({
    name: 'finmesh_cost_month_to_date',
    help: 'Cost this month (cost.currency) of a domain (product="") or a product (its own and its share of what it reads), from metered usage and the price sheet.',
    labelNames: ['domain', 'product'] as const,
    registers: [this.registry],
  });
  readonly costForecast = new (prom().Gauge)({
    name: 'finmesh_cost_forecast_month_end',
    help: 'Cost forecast for the whole month at the last week’s rate, per domain (product="") or product.',
    labelNames: ['domain', 'product'] as const,
    registers: [this.registry],
  });
  readonly budgetMonthly = new (prom().Gauge)({
    name: 'finmesh_budget_monthly',
    help: 'Monthly budget of a domain (product="") or a product (finmesh.yaml cost.budgets).',
    labelNames: ['domain', 'product'] as const,
    registers: [this.registry],
  });
  readonly seriesDropped = new (prom().Gauge)({
    name: 'finmesh_metrics_series_dropped',
    help: 'Series of a family /metrics left out at the last scrape: by the label allowlist (merged away) or the series budget.',
    labelNames: ['family', 'reason'] as const,
    registers: [this.registry],
  });
  readonly simulatorEvents = new (prom().Counter)({
    name: 'finmesh_simulator_events_total',
    help: 'Change events the simulated app produced.',
    labelNames: ['entity'] as const,
    registers: [this.registry],
  });

  private controls: MetricControls = {};

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) prom().collectDefaultMetrics({ register: this.registry, prefix: 'finmesh_' });
  }

  /**
   * Limits what `/metrics` exposes (finmesh.yaml `cost.monitoring.metrics`): per family, the labels kept (series that
   * differ only in others are summed), and a budget of series beyond which the rest are dropped. What each control
   * left out is counted in `finmesh_metrics_series_dropped{family,reason}`, itself never dropped.
   */
  applyControls(controls: MetricControls): void {
    this.controls = { ...controls, exempt: ['finmesh_metrics_series_dropped'] };
  }

  private get controlled(): boolean {
    return Object.keys(this.controls.labels ?? {}).length > 0 || this.controls.seriesBudget !== undefined;
  }

  /** The text a scrape of `/metrics` gets, with the controls applied. */
  async exposition(): Promise<string> {
    if (!this.controlled) return this.registry.metrics();
    const { families, counts } = applyMetricControls(await this.families(), this.controls);
    this.seriesDropped.reset();
    for (const c of counts) {
      if (c.series.allowlist > 0) this.seriesDropped.set({ family: c.family, reason: 'allowlist' }, c.series.allowlist);
      if (c.series.budget > 0) this.seriesDropped.set({ family: c.family, reason: 'budget' }, c.series.budget);
    }
    // The gauge just set is part of this scrape.
    const others = families.filter((f) => f.name !== 'finmesh_metrics_series_dropped');
    const own = (await this.families()).filter((f) => f.name === 'finmesh_metrics_series_dropped');
    return toPrometheusText([...others, ...own.filter((f) => f.values.length > 0)]);
  }

  private async families(): Promise<MetricFamily[]> {
    return (await this.registry.getMetricsAsJSON()).map((m) => ({
      name: m.name,
      help: m.help,
      type: String(m.type),
      values: m.values.map((v) => ({
        value: v.value,
        metricName: (v as { metricName?: string }).metricName,
        labels: v.labels as Record<string, string | number>,
      })),
    }));
  }

  /** Series per metric family: what a scrape of `/metrics` ingests (`kept`) and what the controls kept out. */
  async seriesCounts(): Promise<FamilySeries[]> {
    return applyMetricControls(await this.families(), this.controls).counts;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
