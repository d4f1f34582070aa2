import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * finmesh's metrics, one registry per process. Names follow Prometheus conventions (`finmesh_` prefix, base
 * units, `_total`); labels come from bounded sets (domain, zone, product, source, outcome), never ids.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly sourceRecords = new Counter({
    name: 'finmesh_source_records_total',
    help: 'Records read from a source and committed to bronze.',
    labelNames: ['domain', 'source'] as const,
    registers: [this.registry],
  });
  readonly lakeFiles = new Counter({
    name: 'finmesh_lake_files_committed_total',
    help: 'Files committed to the lake.',
    labelNames: ['domain', 'zone'] as const,
    registers: [this.registry],
  });
  readonly lakeBytes = new Counter({
    name: 'finmesh_lake_bytes_written_total',
    help: 'Bytes committed to the lake.',
    labelNames: ['domain', 'zone'] as const,
    registers: [this.registry],
  });
  readonly commitLatency = new Histogram({
    name: 'finmesh_lake_commit_duration_seconds',
    help: 'Time to write and commit one bronze micro-batch.',
    labelNames: ['domain', 'source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly modelRuns = new Counter({
    name: 'finmesh_model_runs_total',
    help: 'Model runs by outcome.',
    labelNames: ['domain', 'product', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly modelDuration = new Histogram({
    name: 'finmesh_model_run_duration_seconds',
    help: 'Duration of model runs.',
    labelNames: ['domain', 'product'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly modelRowsOut = new Counter({
    name: 'finmesh_model_rows_written_total',
    help: 'Rows written by model runs.',
    labelNames: ['domain', 'product'] as const,
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'finmesh_dataset_last_success_timestamp_seconds',
    help: 'When a dataset was last written successfully (Unix time).',
    labelNames: ['domain', 'zone', 'product'] as const,
    registers: [this.registry],
  });
  readonly datasetRows = new Gauge({
    name: 'finmesh_dataset_rows',
    help: 'Rows in a dataset’s live files.',
    labelNames: ['domain', 'zone', 'product'] as const,
    registers: [this.registry],
  });
  readonly simulatorEvents = new Counter({
    name: 'finmesh_simulator_events_total',
    help: 'Change events the simulated app produced.',
    labelNames: ['entity'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'finmesh_' });
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
