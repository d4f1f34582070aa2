import type Database from 'better-sqlite3';
import type { LakeReader, LakeReaderStore, Lease, LeaseStore } from '../metadata-store.js';

interface LeaseRow {
  range_id: string;
  range: string;
  continuation: string | null;
  owner: string | null;
  heartbeat: number;
}

export class SqliteLeases implements LeaseStore {
  constructor(private readonly db: Database.Database) {}

  async list(scope: string): Promise<Lease[]> {
    return this.listSync(scope);
  }

  async ensure(scope: string, parts: { rangeId: string; range: string }[]): Promise<void> {
    const ins = this.db.prepare('INSERT OR IGNORE INTO leases (scope, range_id, range) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const r of parts) ins.run(scope, r.rangeId, r.range);
    })();
  }

  async acquire(scope: string, owner: string, now: number, expiryMs: number): Promise<Lease[]> {
    return this.db
      .transaction(() => {
        this.db
          .prepare('UPDATE leases SET owner = ?, heartbeat = ? WHERE scope = ? AND (owner IS NULL OR owner = ? OR heartbeat < ?)')
          .run(owner, now, scope, owner, now - expiryMs);
        return this.listSync(scope).filter((l) => l.owner === owner);
      })
      .immediate();
  }

  async heartbeat(scope: string, owner: string, now: number): Promise<void> {
    this.db.prepare('UPDATE leases SET heartbeat = ? WHERE scope = ? AND owner = ?').run(now, scope, owner);
  }

  async advance(scope: string, rangeId: string, owner: string, continuation: string, now: number): Promise<boolean> {
    const r = this.db
      .prepare('UPDATE leases SET continuation = ?, heartbeat = ? WHERE scope = ? AND range_id = ? AND owner = ?')
      .run(continuation, now, scope, rangeId, owner);
    return r.changes === 1;
  }

  async release(scope: string, owner: string): Promise<void> {
    this.db.prepare('UPDATE leases SET owner = NULL WHERE scope = ? AND owner = ?').run(scope, owner);
  }

  private listSync(scope: string): Lease[] {
    const rows = this.db.prepare('SELECT * FROM leases WHERE scope = ? ORDER BY range_id').all(scope) as LeaseRow[];
    return rows.map((r) => ({
      rangeId: r.range_id,
      range: r.range,
      continuation: r.continuation ?? undefined,
      owner: r.owner ?? undefined,
      heartbeat: r.heartbeat,
    }));
  }
}

export class SqliteLakeReaders implements LakeReaderStore {
  constructor(private readonly db: Database.Database) {}

  async upsert(r: LakeReader): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO lake_readers (id, process, views, heartbeat_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET process = excluded.process, views = excluded.views, heartbeat_at = excluded.heartbeat_at',
      )
      .run(r.id, r.process, JSON.stringify(r.views), r.heartbeatAt.getTime());
  }

  async remove(id: string): Promise<void> {
    this.db.prepare('DELETE FROM lake_readers WHERE id = ?').run(id);
  }

  async list(aliveSince: Date): Promise<LakeReader[]> {
    const rows = this.db.prepare('SELECT * FROM lake_readers WHERE heartbeat_at >= ? ORDER BY id').all(aliveSince.getTime()) as {
      id: string;
      process: string;
      views: string;
      heartbeat_at: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      process: r.process,
      views: JSON.parse(r.views) as Record<string, number>,
      heartbeatAt: new Date(r.heartbeat_at),
    }));
  }
}
