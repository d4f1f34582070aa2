import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { Checkpoint, CheckpointStore, FileLedger, LedgerEntry } from '../metadata-store.js';

export class SqliteCheckpoints implements CheckpointStore {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  async get(source: string): Promise<Checkpoint | undefined> {
    const row = this.db.prepare('SELECT value, updated_at FROM checkpoints WHERE source = ?').get(source) as
      | { value: string; updated_at: number }
      | undefined;
    return row ? { value: row.value, updatedAt: new Date(row.updated_at) } : undefined;
  }

  async set(source: string, value: string): Promise<void> {
    this.setSync(source, value);
  }

  /** Inside a manifest commit's transaction. */
  setSync(source: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO checkpoints (source, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      )
      .run(source, value, this.clock.now());
  }
}

interface LedgerRow {
  source: string;
  path: string;
  size: number;
  mtime: number;
  sha256: string;
  status: string;
  run_id: string;
  seen_at: number;
  loaded_bytes: number | null;
  loaded_lines: number | null;
  prefix_sha256: string | null;
}

function entry(row: LedgerRow): LedgerEntry {
  return {
    source: row.source,
    path: row.path,
    size: row.size,
    mtime: new Date(row.mtime),
    sha256: row.sha256,
    status: row.status,
    runId: row.run_id,
    seenAt: new Date(row.seen_at),
    loadedBytes: row.loaded_bytes ?? undefined,
    loadedLines: row.loaded_lines ?? undefined,
    prefixSha256: row.prefix_sha256 ?? undefined,
  };
}

export class SqliteLedger implements FileLedger {
  constructor(private readonly db: Database.Database) {}

  async find(source: string, sha256: string): Promise<LedgerEntry | undefined> {
    const row = this.db.prepare('SELECT * FROM file_ledger WHERE source = ? AND sha256 = ? ORDER BY seen_at LIMIT 1').get(source, sha256) as
      | LedgerRow
      | undefined;
    return row ? entry(row) : undefined;
  }

  async list(source: string, limit = 1000): Promise<LedgerEntry[]> {
    const rows = this.db
      .prepare('SELECT * FROM file_ledger WHERE source = ? ORDER BY seen_at DESC, path LIMIT ?')
      .all(source, limit) as LedgerRow[];
    return rows.map(entry);
  }

  async lastIngested(source: string, path: string): Promise<LedgerEntry | undefined> {
    const row = this.db
      .prepare("SELECT * FROM file_ledger WHERE source = ? AND path = ? AND status = 'ingested' ORDER BY seen_at DESC LIMIT 1")
      .get(source, path) as LedgerRow | undefined;
    return row ? entry(row) : undefined;
  }

  async lastSeen(source: string, path: string): Promise<LedgerEntry | undefined> {
    const row = this.db
      .prepare('SELECT * FROM file_ledger WHERE source = ? AND path = ? ORDER BY seen_at DESC LIMIT 1')
      .get(source, path) as LedgerRow | undefined;
    return row ? entry(row) : undefined;
  }

  async record(e: LedgerEntry): Promise<void> {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO file_ledger (source, path, size, mtime, sha256, status, run_id, seen_at, loaded_bytes, loaded_lines, prefix_sha256)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.source,
        e.path,
        e.size,
        e.mtime.getTime(),
        e.sha256,
        e.status,
        e.runId,
        e.seenAt.getTime(),
        e.loadedBytes ?? null,
        e.loadedLines ?? null,
        e.prefixSha256 ?? null,
      );
  }

  async days(source: string, since: Date): Promise<{ firstSeen: Date | undefined; ingested: Map<string, number> }> {
    const first = this.db.prepare('SELECT min(seen_at) AS t FROM file_ledger WHERE source = ?').get(source) as { t: number | null };
    const rows = this.db
      .prepare(
        "SELECT strftime('%Y-%m-%d', seen_at / 1000, 'unixepoch') AS day, count(*) AS n FROM file_ledger WHERE source = ? AND status = 'ingested' AND seen_at >= ? GROUP BY day",
      )
      .all(source, since.getTime()) as { day: string; n: number }[];
    return { firstSeen: first.t === null ? undefined : new Date(first.t), ingested: new Map(rows.map((r) => [r.day, r.n])) };
  }
}
