import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ChangeEvent } from './fintech-simulator.js';

/**
 * The simulated app's own database: one table per entity holding the current document, and the transactional
 * outbox. Every change writes the document and its outbox row in one transaction, as a real app using the outbox
 * pattern does, so the outbox never holds a change that was rolled back nor misses one that committed.
 */
export class SqliteApp {
  private readonly db: Database.Database;
  private readonly upsert: Record<string, Database.Statement>;
  private readonly outbox: Database.Statement;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS transactions (id TEXT PRIMARY KEY, pk TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, pk TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS merchants (id TEXT PRIMARY KEY, pk TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate TEXT NOT NULL, aggregate_id TEXT NOT NULL, op TEXT NOT NULL,
        version INTEGER NOT NULL, event_time INTEGER NOT NULL, payload TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS outbox_aggregate ON outbox(aggregate, id);`);
    const up = (t: string) =>
      this.db.prepare(
        `INSERT INTO ${t} (id, pk, version, doc) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version, doc = excluded.doc`,
      );
    this.upsert = { transactions: up('transactions'), customers: up('customers'), merchants: up('merchants') };
    this.outbox = this.db.prepare(
      'INSERT INTO outbox (aggregate, aggregate_id, op, version, event_time, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  /** True when the app already holds customers (a previous `generate` seeded it). */
  hasReferenceData(): boolean {
    return (this.db.prepare('SELECT count(*) AS n FROM customers').get() as { n: number }).n > 0;
  }

  /**
   * Applies changes, each document write and its outbox row in one transaction. `perTransaction` groups that many
   * changes per database transaction (1: one app transaction per change, as an app would; more for bulk loads).
   */
  apply(events: ChangeEvent[], perTransaction = 1): void {
    const write = this.db.transaction((batch: ChangeEvent[]) => {
      for (const e of batch) {
        const json = JSON.stringify(e.doc);
        const stmt = this.upsert[e.entity];
        if (!stmt) throw new Error(`unknown entity ${e.entity}`);
        stmt.run(e.doc.id, e.doc.pk, e.doc.version, json);
        const eventTime = Date.parse(String(e.doc.updated_at ?? e.doc.created_at ?? '')) || e.doc._ts * 1000;
        this.outbox.run(e.entity, e.doc.id, 'upsert', e.doc.version, eventTime, json);
      }
    });
    for (let i = 0; i < events.length; i += perTransaction) write(events.slice(i, i + perTransaction));
  }

  /** Deletes a document; the outbox carries a tombstone with the key fields. */
  delete(entity: ChangeEvent['entity'], id: string, at: number): void {
    this.db.transaction(() => {
      const row = this.db.prepare(`SELECT pk, version FROM ${entity} WHERE id = ?`).get(id) as { pk: string; version: number } | undefined;
      if (!row) return;
      this.db.prepare(`DELETE FROM ${entity} WHERE id = ?`).run(id);
      const version = row.version + 1;
      const tombstone = JSON.stringify({ id, pk: row.pk, version, updated_at: new Date(at).toISOString() });
      this.outbox.run(entity, id, 'delete', version, at, tombstone);
    })();
  }

  count(entity: ChangeEvent['entity']): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ${entity}`).get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
