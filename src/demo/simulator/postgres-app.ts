import type pg from 'pg';
import { FinmeshError } from '../../core/errors.js';
import type { ChangeEvent } from './fintech-simulator.js';

/**
 * The simulated app writing into PostgreSQL: one table per entity, `(id text primary key, doc jsonb)`, with
 * REPLICA IDENTITY FULL so logical replication carries whole rows for deletes.
 */
export class PostgresApp {
  private constructor(
    private readonly client: pg.Client,
    private readonly tables: Map<string, string>,
  ) {}

  static async open(connectionString: string, tables: Map<string, string>): Promise<PostgresApp> {
    // pg loads only when the project has a PostgreSQL source: the embedded demo never pays for it.
    const { default: Pg } = await import('pg');
    const client = new Pg.Client({ connectionString });
    try {
      await client.connect();
      for (const table of new Set(tables.values())) {
        const t = quoteTable(table);
        await client.query(`CREATE TABLE IF NOT EXISTS ${t} (id text PRIMARY KEY, doc jsonb NOT NULL)`);
        await client.query(`ALTER TABLE ${t} REPLICA IDENTITY FULL`);
      }
    } catch (cause) {
      await client.end().catch(() => undefined);
      throw new FinmeshError('UNAVAILABLE', `cannot prepare the app tables in PostgreSQL: ${(cause as Error).message}`, { cause });
    }
    return new PostgresApp(client, tables);
  }

  async hasReferenceData(): Promise<boolean> {
    const t = this.tables.get('customers');
    if (!t) return true;
    const r = await this.client.query(`SELECT EXISTS (SELECT 1 FROM ${quoteTable(t)}) AS e`);
    return Boolean(r.rows[0]?.e);
  }

  /** Applies changes, each in its own transaction (as the app would); `perTransaction` groups them for bulk loads. */
  async apply(events: ChangeEvent[], perTransaction = 1): Promise<number> {
    let written = 0;
    for (let i = 0; i < events.length; i += perTransaction) {
      const group = events.slice(i, i + perTransaction).filter((e) => this.tables.has(e.entity));
      if (group.length === 0) continue;
      await this.client.query('BEGIN');
      try {
        for (const e of group) {
          const t = quoteTable(this.tables.get(e.entity) as string);
          await this.client.query(`INSERT INTO ${t} (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, [
            e.doc.id,
            JSON.stringify(e.doc),
          ]);
        }
        await this.client.query('COMMIT');
        written += group.length;
      } catch (cause) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw new FinmeshError('UNAVAILABLE', `writing app changes to PostgreSQL: ${(cause as Error).message}`, { cause });
      }
    }
    return written;
  }

  async delete(entity: ChangeEvent['entity'], id: string): Promise<void> {
    const t = this.tables.get(entity);
    if (t) await this.client.query(`DELETE FROM ${quoteTable(t)} WHERE id = $1`, [id]);
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

function quoteTable(table: string): string {
  return table
    .split('.')
    .map((p) => `"${p.replace(/"/g, '""')}"`)
    .join('.');
}
