import { FinmeshError } from '../core/errors.js';
import { attributesKey, type UsageRecord, type UsageRow, utcDay } from './metadata-store.js';

/** A usage row as adapters store it: absent dimensions are empty strings, so rows merge on a plain key. */
export interface StoredUsageRow {
  day: string;
  runId: string;
  meter: string;
  component: string;
  domain: string;
  product: string;
  source: string;
  costCenter: string;
  attributes: string;
  quantity: number;
  at: Date;
  aggregate: 'sum' | 'max';
}

/** Checks and normalises rows for storage; throws `DATA_INVALID` naming the first bad row. */
export function toStoredUsage(rows: UsageRow[]): StoredUsageRow[] {
  return rows.map((r, i) => {
    if (!Number.isFinite(r.quantity) || r.quantity < 0)
      throw new FinmeshError('DATA_INVALID', `usage row ${i} (${r.meter}): expected a finite quantity of 0 or more, found ${r.quantity}`);
    if (!r.meter || !r.component)
      throw new FinmeshError('DATA_INVALID', `usage row ${i}: expected a meter and a component, found "${r.meter}" and "${r.component}"`);
    if (Number.isNaN(r.at.getTime())) throw new FinmeshError('DATA_INVALID', `usage row ${i} (${r.meter}): expected a valid time`);
    return {
      day: utcDay(r.at),
      runId: r.runId ?? '',
      meter: r.meter,
      component: r.component,
      domain: r.domain ?? '',
      product: r.product ?? '',
      source: r.source ?? '',
      costCenter: r.costCenter ?? '',
      attributes: attributesKey(r.attributes),
      quantity: r.quantity,
      at: r.at,
      aggregate: r.aggregate ?? 'sum',
    };
  });
}

/** A stored row back as the port's record. */
export function fromStoredUsage(r: {
  day: string;
  run_id: string;
  meter: string;
  component: string;
  domain: string;
  product: string;
  source: string;
  cost_center: string;
  attributes: string | Record<string, string>;
  quantity: number;
  first_at: Date;
  last_at: Date;
}): UsageRecord {
  const blank = (v: string) => (v === '' ? undefined : v);
  return {
    day: r.day,
    runId: blank(r.run_id),
    meter: r.meter,
    quantity: Number(r.quantity),
    component: r.component,
    domain: blank(r.domain),
    product: blank(r.product),
    source: blank(r.source),
    costCenter: blank(r.cost_center),
    attributes: typeof r.attributes === 'string' ? (JSON.parse(r.attributes) as Record<string, string>) : r.attributes,
    firstAt: r.first_at,
    lastAt: r.last_at,
  };
}
