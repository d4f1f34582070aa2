import { type UsageFilter, type UsageRecord, type UsageRow, type UsageStore, utcDay } from '../metadata-store.js';
import { fromStoredUsage, toStoredUsage } from '../usage-rows.js';
import type { PostgresPool } from './postgres-pool.js';

export class PostgresUsage implements UsageStore {
  /** `s` is the quoted schema the tables live in. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async record(rows: UsageRow[]): Promise<void> {
    const stored = toStoredUsage(rows);
    if (stored.length === 0) return;
    // Rows of one call that share a key are merged here first: one INSERT … ON CONFLICT may not touch a row twice.
    const merged = new Map<string, (typeof stored)[number] & { firstAt: Date }>();
    for (const r of stored) {
      const key = [r.day, r.runId, r.meter, r.component, r.domain, r.product, r.source, r.costCenter, r.attributes].join('\u0000');
      const seen = merged.get(key);
      if (!seen) merged.set(key, { ...r, firstAt: r.at });
      else {
        seen.quantity = r.aggregate === 'max' ? Math.max(seen.quantity, r.quantity) : seen.quantity + r.quantity;
        if (r.at > seen.at) seen.at = r.at;
        if (r.at < seen.firstAt) seen.firstAt = r.at;
      }
    }
    const list = [...merged.values()];
    const col = <K extends keyof (typeof list)[number]>(k: K) => list.map((r) => r[k]);
    await this.db.query(
      `INSERT INTO ${this.s}.usage AS u
         (day, run_id, meter, component, domain, product, source, cost_center, attributes, quantity, aggregate, first_at, last_at)
       SELECT day, run_id, meter, component, domain, product, source, cost_center, attributes::jsonb, quantity, aggregate, first_at, at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                   $10::float8[], $11::timestamptz[], $12::text[], $13::timestamptz[])
         AS r(day, run_id, meter, component, domain, product, source, cost_center, attributes, quantity, at, aggregate, first_at)
       ON CONFLICT (day, run_id, meter, component, domain, product, source, cost_center, attributes) DO UPDATE SET
         quantity = CASE WHEN EXCLUDED.aggregate = 'max' THEN greatest(u.quantity, EXCLUDED.quantity) ELSE u.quantity + EXCLUDED.quantity END,
         first_at = least(u.first_at, EXCLUDED.first_at), last_at = greatest(u.last_at, EXCLUDED.last_at)`,
      [
        col('day'),
        col('runId'),
        col('meter'),
        col('component'),
        col('domain'),
        col('product'),
        col('source'),
        col('costCenter'),
        col('attributes'),
        col('quantity'),
        col('at'),
        col('aggregate'),
        col('firstAt'),
      ],
    );
  }

  async list(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    const where = ['day >= $1', 'day < $2'];
    const params: unknown[] = [filter.since ? utcDay(filter.since) : '0000-00-00', filter.until ? utcDay(filter.until) : '9999-99-99'];
    if (filter.meters) {
      params.push(filter.meters);
      where.push(`meter = ANY($${params.length}::text[])`);
    }
    if (filter.runId !== undefined) {
      params.push(filter.runId);
      where.push(`run_id = $${params.length}`);
    }
    const { rows } = await this.db.query<{
      day: string;
      run_id: string;
      meter: string;
      component: string;
      domain: string;
      product: string;
      source: string;
      cost_center: string;
      attributes: Record<string, string>;
      quantity: number;
      first_at: Date;
      last_at: Date;
    }>(`SELECT * FROM ${this.s}.usage WHERE ${where.join(' AND ')} ORDER BY day, seq`, params);
    return rows.map(fromStoredUsage);
  }

  async lastAt(meter: string): Promise<Date | undefined> {
    const { rows } = await this.db.query<{ t: Date | null }>(`SELECT max(last_at) AS t FROM ${this.s}.usage WHERE meter = $1`, [meter]);
    return rows[0]?.t ?? undefined;
  }
}
