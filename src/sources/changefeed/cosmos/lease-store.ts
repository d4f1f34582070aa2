import Database from 'better-sqlite3';

/** A lease on one feed range: who reads it, from which continuation, and when the owner last proved alive. */
export interface Lease {
  rangeId: string;
  /** JSON of the range's bounds, to start a feed on it the first time. */
  range: string;
  continuation: string | undefined;
  owner: string | undefined;
  heartbeat: number;
}

/** Lease rows for a Cosmos DB change feed, kept in the metadata store (one row per feed range). */
export interface LeaseStore {
  list(): Lease[];
  /** Registers ranges not known yet (first start, or after a split). */
  ensure(ranges: { rangeId: string; range: string }[]): void;
  /** Takes every lease that is free or whose owner's heartbeat is older than `expiryMs`; returns the owner's leases. */
  acquire(owner: string, now: number, expiryMs: number): Lease[];
  heartbeat(owner: string, now: number): void;
  /** Moves a range's continuation; only its owner may. Returns false when the lease was lost. */
  advance(rangeId: string, owner: string, continuation: string): boolean;
  release(owner: string): void;
  close(): void;
}

export class SqliteLeaseStore implements LeaseStore {
  private readonly db: Database.Database;

  constructor(
    path: string,
    private readonly source: string,
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS cosmos_leases (
      source TEXT NOT NULL, range_id TEXT NOT NULL, range TEXT NOT NULL, continuation TEXT, owner TEXT,
      heartbeat INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (source, range_id))`);
  }

  list(): Lease[] {
    const rows = this.db.prepare('SELECT * FROM cosmos_leases WHERE source = ? ORDER BY range_id').all(this.source) as {
      range_id: string;
      range: string;
      continuation: string | null;
      owner: string | null;
      heartbeat: number;
    }[];
    return rows.map((r) => ({
      rangeId: r.range_id,
      range: r.range,
      continuation: r.continuation ?? undefined,
      owner: r.owner ?? undefined,
      heartbeat: r.heartbeat,
    }));
  }

  ensure(ranges: { rangeId: string; range: string }[]): void {
    const ins = this.db.prepare('INSERT OR IGNORE INTO cosmos_leases (source, range_id, range) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const r of ranges) ins.run(this.source, r.rangeId, r.range);
    })();
  }

  acquire(owner: string, now: number, expiryMs: number): Lease[] {
    this.db
      .prepare('UPDATE cosmos_leases SET owner = ?, heartbeat = ? WHERE source = ? AND (owner IS NULL OR owner = ? OR heartbeat < ?)')
      .run(owner, now, this.source, owner, now - expiryMs);
    return this.list().filter((l) => l.owner === owner);
  }

  heartbeat(owner: string, now: number): void {
    this.db.prepare('UPDATE cosmos_leases SET heartbeat = ? WHERE source = ? AND owner = ?').run(now, this.source, owner);
  }

  advance(rangeId: string, owner: string, continuation: string): boolean {
    const r = this.db
      .prepare('UPDATE cosmos_leases SET continuation = ?, heartbeat = ? WHERE source = ? AND range_id = ? AND owner = ?')
      .run(continuation, Date.now(), this.source, rangeId, owner);
    return r.changes === 1;
  }

  release(owner: string): void {
    this.db.prepare('UPDATE cosmos_leases SET owner = NULL WHERE source = ? AND owner = ?').run(this.source, owner);
  }

  close(): void {
    this.db.close();
  }
}
