import type { Clock } from '../../core/clock.js';
import type { Checkpoint, CheckpointStore, FileLedger, LedgerEntry } from '../metadata-store.js';
import type { PostgresPool, Queryable } from './postgres-pool.js';

export class PostgresCheckpoints implements CheckpointStore {
  /** `s` is the quoted schema the tables live in. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
    private readonly clock: Clock,
  ) {}

  async get(source: string): Promise<Checkpoint | undefined> {
    const { rows } = await this.db.query<{ value: string; updated_at: Date }>(
      `SELECT value, updated_at FROM ${this.s}.checkpoints WHERE source = $1`,
      [source],
    );
    const row = rows[0];
    return row ? { value: row.value, updatedAt: row.updated_at } : undefined;
  }

  async set(source: string, value: string): Promise<void> {
    const [sql, params] = this.upsert(source, value);
    await this.db.query(sql, params);
  }

  /** Inside a manifest commit's transaction. */
  async setIn(q: Queryable, source: string, value: string): Promise<void> {
    const [sql, params] = this.upsert(source, value);
    await q.query(sql, params);
  }

  private upsert(source: string, value: string): [string, unknown[]] {
    return [
      `INSERT INTO ${this.s}.checkpoints (source, value, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (source) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [source, value, new Date(this.clock.now())],
    ];
  }
}

interface LedgerRow {
  source: string;
  path: string;
  size: string;
  mtime: Date;
  sha256: string;
  status: string;
  run_id: string;
  seen_at: Date;
  loaded_bytes: string | null;
  loaded_lines: string | null;
  prefix_sha256: string | null;
}

function entry(row: LedgerRow): LedgerEntry {
  return {
    source: row.source,
    path: row.path,
    size: Number(row.size),
    mtime: row.mtime,
    sha256: row.sha256,
    status: row.status,
    runId: row.run_id,
    seenAt: row.seen_at,
    loadedBytes: row.loaded_bytes === null ? undefined : Number(row.loaded_bytes),
    loadedLines: row.loaded_lines === null ? undefined : Number(row.loaded_lines),
    prefixSha256: row.prefix_sha256 ?? undefined,
  };
}

export class PostgresLedger implements FileLedger {
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async find(source: string, sha256: string): Promise<LedgerEntry | undefined> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT * FROM ${this.s}.file_ledger WHERE source = $1 AND sha256 = $2 ORDER BY seen_at LIMIT 1`,
      [source, sha256],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  async list(source: string, limit = 1000): Promise<LedgerEntry[]> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT * FROM ${this.s}.file_ledger WHERE source = $1 ORDER BY seen_at DESC, path LIMIT $2`,
      [source, limit],
    );
    return rows.map(entry);
  }

  async lastIngested(source: string, path: string): Promise<LedgerEntry | undefined> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT * FROM ${this.s}.file_ledger WHERE source = $1 AND path = $2 AND status = 'ingested' ORDER BY seen_at DESC LIMIT 1`,
      [source, path],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  async lastSeen(source: string, path: string): Promise<LedgerEntry | undefined> {
    const { rows } = await this.db.query<LedgerRow>(
      `SELECT * FROM ${this.s}.file_ledger WHERE source = $1 AND path = $2 ORDER BY seen_at DESC LIMIT 1`,
      [source, path],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  async record(e: LedgerEntry): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.s}.file_ledger (source, path, size, mtime, sha256, status, run_id, seen_at, loaded_bytes, loaded_lines, prefix_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (source, sha256, path) DO UPDATE SET size = EXCLUDED.size, mtime = EXCLUDED.mtime, status = EXCLUDED.status,
         run_id = EXCLUDED.run_id, seen_at = EXCLUDED.seen_at, loaded_bytes = EXCLUDED.loaded_bytes,
         loaded_lines = EXCLUDED.loaded_lines, prefix_sha256 = EXCLUDED.prefix_sha256`,
      [
        e.source,
        e.path,
        e.size,
        e.mtime,
        e.sha256,
        e.status,
        e.runId,
        e.seenAt,
        e.loadedBytes ?? null,
        e.loadedLines ?? null,
        e.prefixSha256 ?? null,
      ],
    );
  }

  async days(source: string, since: Date): Promise<{ firstSeen: Date | undefined; ingested: Map<string, number> }> {
    const first = await this.db.query<{ t: Date | null }>(`SELECT min(seen_at) AS t FROM ${this.s}.file_ledger WHERE source = $1`, [
      source,
    ]);
    const { rows } = await this.db.query<{ day: string; n: number }>(
      `SELECT to_char(seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS n FROM ${this.s}.file_ledger
       WHERE source = $1 AND status = 'ingested' AND seen_at >= $2 GROUP BY day`,
      [source, since],
    );
    return { firstSeen: first.rows[0]?.t ?? undefined, ingested: new Map(rows.map((r) => [r.day, r.n])) };
  }
}
