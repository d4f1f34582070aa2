import type { LakeReader, LakeReaderStore, Lease, LeaseStore } from '../metadata-store.js';
import type { PostgresPool } from './postgres-pool.js';

interface LeaseRow {
  range_id: string;
  range: string;
  continuation: string | null;
  owner: string | null;
  heartbeat: string;
}

export class PostgresLeases implements LeaseStore {
  /** `s` is the quoted schema the tables live in. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async list(scope: string): Promise<Lease[]> {
    const { rows } = await this.db.query<LeaseRow>(`SELECT * FROM ${this.s}.leases WHERE scope = $1 ORDER BY range_id COLLATE "C"`, [
      scope,
    ]);
    return rows.map(toLease);
  }

  async ensure(scope: string, parts: { rangeId: string; range: string }[]): Promise<void> {
    if (parts.length === 0) return;
    await this.db.query(
      `INSERT INTO ${this.s}.leases (scope, range_id, range) SELECT $1, p.range_id, p.range FROM unnest($2::text[], $3::text[]) AS p(range_id, range)
       ON CONFLICT (scope, range_id) DO NOTHING`,
      [scope, parts.map((p) => p.rangeId), parts.map((p) => p.range)],
    );
  }

  async acquire(scope: string, owner: string, now: number, expiryMs: number): Promise<Lease[]> {
    // Rows are locked in range order, so two readers acquiring at once wait for each other instead of deadlocking;
    // the one that waits re-reads the row and finds it taken.
    const { rows } = await this.db.query<LeaseRow>(
      `UPDATE ${this.s}.leases l SET owner = $2, heartbeat = $3
       FROM (SELECT range_id FROM ${this.s}.leases WHERE scope = $1 AND (owner IS NULL OR owner = $2 OR heartbeat < $4)
             ORDER BY range_id COLLATE "C" FOR UPDATE) free
       WHERE l.scope = $1 AND l.range_id = free.range_id
       RETURNING l.*`,
      [scope, owner, now, now - expiryMs],
    );
    return rows.map(toLease).sort((a, b) => (a.rangeId < b.rangeId ? -1 : a.rangeId > b.rangeId ? 1 : 0));
  }

  async heartbeat(scope: string, owner: string, now: number): Promise<void> {
    await this.db.query(`UPDATE ${this.s}.leases SET heartbeat = $1 WHERE scope = $2 AND owner = $3`, [now, scope, owner]);
  }

  async advance(scope: string, rangeId: string, owner: string, continuation: string, now: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE ${this.s}.leases SET continuation = $1, heartbeat = $2 WHERE scope = $3 AND range_id = $4 AND owner = $5`,
      [continuation, now, scope, rangeId, owner],
    );
    return r.rowCount === 1;
  }

  async release(scope: string, owner: string): Promise<void> {
    await this.db.query(`UPDATE ${this.s}.leases SET owner = NULL WHERE scope = $1 AND owner = $2`, [scope, owner]);
  }
}

function toLease(r: LeaseRow): Lease {
  return {
    rangeId: r.range_id,
    range: r.range,
    continuation: r.continuation ?? undefined,
    owner: r.owner ?? undefined,
    heartbeat: Number(r.heartbeat),
  };
}

export class PostgresLakeReaders implements LakeReaderStore {
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async upsert(r: LakeReader): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.s}.lake_readers (id, process, views, heartbeat_at) VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (id) DO UPDATE SET process = EXCLUDED.process, views = EXCLUDED.views, heartbeat_at = EXCLUDED.heartbeat_at`,
      [r.id, r.process, JSON.stringify(r.views), r.heartbeatAt],
    );
  }

  async remove(id: string): Promise<void> {
    await this.db.query(`DELETE FROM ${this.s}.lake_readers WHERE id = $1`, [id]);
  }

  async list(aliveSince: Date): Promise<LakeReader[]> {
    const { rows } = await this.db.query<{ id: string; process: string; views: Record<string, number>; heartbeat_at: Date }>(
      `SELECT * FROM ${this.s}.lake_readers WHERE heartbeat_at >= $1 ORDER BY id COLLATE "C"`,
      [aliveSince],
    );
    return rows.map((r) => ({ id: r.id, process: r.process, views: r.views, heartbeatAt: r.heartbeat_at }));
  }
}
