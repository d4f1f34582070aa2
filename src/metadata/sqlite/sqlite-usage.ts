import type Database from 'better-sqlite3';
import { type UsageFilter, type UsageRecord, type UsageRow, type UsageStore, utcDay } from '../metadata-store.js';
import { fromStoredUsage, toStoredUsage } from '../usage-rows.js';

export class SqliteUsage implements UsageStore {
  constructor(private readonly db: Database.Database) {}

  async record(rows: UsageRow[]): Promise<void> {
    const stored = toStoredUsage(rows);
    const upsert = this.db.prepare(
      `INSERT INTO usage
         (day, run_id, meter, component, domain, product, source, cost_center, attributes, quantity, aggregate, first_at, last_at)
       VALUES (@day, @runId, @meter, @component, @domain, @product, @source, @costCenter, @attributes, @quantity, @aggregate, @at, @at)
       ON CONFLICT (day, run_id, meter, component, domain, product, source, cost_center, attributes) DO UPDATE SET
         quantity = CASE WHEN excluded.aggregate = 'max' THEN max(quantity, excluded.quantity) ELSE quantity + excluded.quantity END,
         first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)`,
    );
    this.db.transaction(() => {
      for (const r of stored) upsert.run({ ...r, at: r.at.getTime() });
    })();
  }

  async list(filter: UsageFilter = {}): Promise<UsageRecord[]> {
    const where = ['day >= ?', 'day < ?'];
    const params: unknown[] = [filter.since ? utcDay(filter.since) : '0000-00-00', filter.until ? utcDay(filter.until) : '9999-99-99'];
    if (filter.meters) {
      where.push(`meter IN (${filter.meters.map(() => '?').join(', ')})`);
      params.push(...filter.meters);
    }
    if (filter.runId !== undefined) {
      where.push('run_id = ?');
      params.push(filter.runId);
    }
    const rows = this.db.prepare(`SELECT * FROM usage WHERE ${where.join(' AND ')} ORDER BY day, rowid`).all(...params) as {
      day: string;
      run_id: string;
      meter: string;
      component: string;
      domain: string;
      product: string;
      source: string;
      cost_center: string;
      attributes: string;
      quantity: number;
      first_at: number;
      last_at: number;
    }[];
    return rows.map((r) => fromStoredUsage({ ...r, first_at: new Date(r.first_at), last_at: new Date(r.last_at) }));
  }

  async lastAt(meter: string): Promise<Date | undefined> {
    const r = this.db.prepare('SELECT max(last_at) AS t FROM usage WHERE meter = ?').get(meter) as { t: number | null };
    return r.t === null ? undefined : new Date(r.t);
  }
}
