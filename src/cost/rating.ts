import { parseDuration } from '../core/duration.js';
import type { UsageRecord } from '../metadata/metadata-store.js';
import type { CostConfig } from './cost-config.js';
import type { Price, PriceSheet } from './price-sheet.js';

/** One priced use of one price line: what a usage row cost, or (for a signal a control kept out) would have cost. */
export interface RatedLine {
  record: UsageRecord;
  price: Price;
  /** The usage in the price's unit (GiB-month, TiB, 1000 operations, …). */
  pricingQuantity: number;
  cost: number;
  /** A log line or metric series a monitoring control kept out: `cost` is what it would have cost, not a charge. */
  avoided: boolean;
}

const GIB = 2 ** 30;
const TIB = 2 ** 40;
/** Cloud Storage and Cloud SQL prorate a month of storage as 730 hours. */
const MONTH_SECONDS = 730 * 3600;
/** Cloud Logging includes 30 days of retention in ingestion. */
const INCLUDED_LOG_RETENTION_DAYS = 30;

/**
 * Prices usage rows with the sheet. Rows of meters with no price (rows, wall time, files) give no lines. How each
 * meter maps to a price line:
 *
 * | meter | price line | quantity |
 * |---|---|---|
 * | `storage.byte_seconds` (attribute `class`) | `gcs.storage.<class>` | GiB-month (730 h) |
 * | `storage.objects_written` (zone's class) | `gcs.ops.class_a.<class>` | thousands |
 * | `storage.objects_read` (the zone read) | `gcs.ops.class_b.<class>` | thousands |
 * | `engine.bytes_scanned`, `engine.bytes_billed` | `bigquery.on_demand` (on-demand pricing) | TiB |
 * | `engine.slot_ms` | `bigquery.<edition>` (edition pricing) | slot-hours |
 * | `bus.bytes` | `pubsub.throughput` | TiB |
 * | `sftp.bytes` | `network.ingress` | GiB |
 * | `compute.cpu_seconds` | `cloudrun.cpu`, and `cloudrun.memory` for `memoryGiBPerVcpu` GiB each | vCPU-s, GiB-s |
 * | `log.bytes` | `logging.ingestion`, and `logging.retention` beyond 30 days of `monitoring.retention.logs` | GiB, GiB-month |
 * | `metric.samples` | `monitoring.samples` | millions |
 * | `lineage.events` | `lineage.events` | events |
 * | `metadata.byte_seconds` | `cloudsql.storage` | GiB-month |
 *
 * Throws `CONFIG_INVALID` (from the sheet) when a price the usage needs is missing.
 */
export function rate(records: UsageRecord[], sheet: PriceSheet, config: CostConfig): RatedLine[] {
  const lines: RatedLine[] = [];
  const classOf = (zone: string | undefined) =>
    (zone ? config.storageClasses[zone as keyof typeof config.storageClasses] : undefined) ?? 'standard';
  const retentionMonths =
    Math.max(0, parseDuration(config.monitoring.retention.logs) / 86_400_000 - INCLUDED_LOG_RETENTION_DAYS) / (730 / 24);
  for (const r of records) {
    const avoided = r.attributes.outcome !== undefined && r.attributes.outcome !== 'kept';
    const add = (id: string, quantity: number) => {
      if (!(quantity > 0)) return;
      const price = sheet.get(id);
      lines.push({ record: r, price, pricingQuantity: quantity, cost: quantity * price.price, avoided });
    };
    const q = r.quantity;
    switch (r.meter) {
      case 'storage.byte_seconds':
        add(`gcs.storage.${r.attributes.class ?? classOf(r.attributes.zone)}`, q / GIB / MONTH_SECONDS);
        break;
      case 'storage.objects_written':
        add(`gcs.ops.class_a.${classOf(r.attributes.zone)}`, q / 1000);
        break;
      case 'storage.objects_read':
        add(`gcs.ops.class_b.${classOf(r.attributes.input?.split('/')[1])}`, q / 1000);
        break;
      case 'engine.bytes_scanned':
      case 'engine.bytes_billed':
        if (config.bigquery === 'on-demand') add('bigquery.on_demand', q / TIB);
        break;
      case 'engine.slot_ms':
        if (config.bigquery !== 'on-demand') add(`bigquery.${config.bigquery.replace('-', '_')}`, q / 3_600_000);
        break;
      case 'bus.bytes':
        add('pubsub.throughput', q / TIB);
        break;
      case 'sftp.bytes':
        add('network.ingress', q / GIB);
        break;
      case 'compute.cpu_seconds':
        add('cloudrun.cpu', q);
        add('cloudrun.memory', q * config.memoryGiBPerVcpu);
        break;
      case 'log.bytes':
        add('logging.ingestion', q / GIB);
        if (retentionMonths > 0) add('logging.retention', (q / GIB) * retentionMonths);
        break;
      case 'metric.samples':
        add('monitoring.samples', q / 1e6);
        break;
      case 'lineage.events':
        add('lineage.events', q);
        break;
      case 'metadata.byte_seconds':
        add('cloudsql.storage', q / GIB / MONTH_SECONDS);
        break;
    }
  }
  return lines;
}

/** The sum of the costs of lines that are charges (not what a control avoided). */
export function total(lines: RatedLine[]): number {
  let sum = 0;
  for (const l of lines) if (!l.avoided) sum += l.cost;
  return sum;
}
