/**
 * What finmesh meters, each with its unit. A meter is a measurement of what finmesh itself did; the price sheet says
 * what one unit of it costs on Google Cloud (`prices.ts`), and some meters (rows, wall time, files) are not priced at
 * all: they describe the work, for reports and cost-benefit.
 */
export const METERS = {
  'compute.cpu_seconds': { unit: 'vCPU-seconds', what: "the run's share of the process's CPU time" },
  'compute.wall_seconds': { unit: 'seconds', what: 'how long the run took' },
  'rows.in': { unit: 'rows', what: 'rows the run read' },
  'rows.out': { unit: 'rows', what: 'rows the run wrote' },
  'rows.rejected': { unit: 'rows', what: 'rows the run sent to quarantine' },
  'storage.byte_seconds': { unit: 'byte-seconds', what: 'bytes of live lake files, times how long they were stored' },
  'storage.objects_written': { unit: 'objects', what: 'lake objects written (Cloud Storage class A operations)' },
  'storage.bytes_written': { unit: 'bytes', what: 'bytes of lake objects written' },
  'storage.objects_read': { unit: 'objects', what: 'lake objects the engine opened (Cloud Storage class B operations)' },
  'engine.bytes_scanned': {
    unit: 'bytes',
    what: 'bytes the engine read (DuckDB: compressed Parquet bytes of the columns its profile shows it read)',
  },
  'engine.bytes_billed': { unit: 'bytes', what: 'bytes BigQuery billed for a job' },
  'engine.slot_ms': { unit: 'slot-milliseconds', what: 'BigQuery slot time of a job' },
  'bus.messages': { unit: 'messages', what: 'bus messages published or delivered' },
  'bus.bytes': { unit: 'bytes', what: 'bus message bytes published or delivered' },
  'sftp.bytes': { unit: 'bytes', what: 'bytes of partner files downloaded' },
  'files.ingested': { unit: 'files', what: 'partner files ingested' },
  'files.failed': { unit: 'files', what: 'partner files that failed to download or load' },
  'files.quarantined': { unit: 'files', what: 'partner files quarantined whole' },
  'log.lines': { unit: 'lines', what: 'log lines, by level and by what became of them (kept, sampled out, excluded, below level)' },
  'log.bytes': { unit: 'bytes', what: 'log bytes, as above' },
  'metric.series': { unit: 'series', what: 'metric series a family exposes (the most at once in a day)' },
  'metric.samples': { unit: 'samples', what: 'samples a scrape at the configured interval ingests' },
  'lineage.events': { unit: 'events', what: 'OpenLineage events emitted' },
  'lineage.bytes': { unit: 'bytes', what: 'bytes of OpenLineage events emitted' },
  'metadata.byte_seconds': { unit: 'byte-seconds', what: 'bytes of the metadata store, times how long they were stored' },
} as const;

export type MeterName = keyof typeof METERS;

/** Meters of the monitoring bill: what observing finmesh costs. */
export const MONITORING_METERS: readonly MeterName[] = [
  'log.lines',
  'log.bytes',
  'metric.series',
  'metric.samples',
  'lineage.events',
  'lineage.bytes',
];

/** What became of a log line or a metric series under the monitoring controls. */
export const SIGNAL_OUTCOMES = ['kept', 'sampled', 'excluded', 'level', 'allowlist', 'budget'] as const;
export type SignalOutcome = (typeof SIGNAL_OUTCOMES)[number];
