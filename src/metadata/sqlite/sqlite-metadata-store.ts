import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../core/clock.js';
import { FinmeshError } from '../../core/errors.js';
import type {
  AuditLog,
  CheckpointStore,
  CheckResultStore,
  ContractVersionStore,
  FileLedger,
  LakeReaderStore,
  LeaseStore,
  LineageStore,
  ManifestStore,
  MetadataStore,
  RunStore,
  UsageStore,
} from '../metadata-store.js';
import { SqliteAudit } from './sqlite-audit.js';
import { SqliteLakeReaders, SqliteLeases } from './sqlite-leases.js';
import { SqliteCheckpoints, SqliteLedger } from './sqlite-ledger.js';
import { SqliteManifest } from './sqlite-manifest.js';
import { SqliteCheckResults, SqliteContractVersions, SqliteLineage } from './sqlite-records.js';
import { SqliteRuns } from './sqlite-runs.js';
import { SqliteUsage } from './sqlite-usage.js';

/** Numbered migrations, applied in order (`PRAGMA user_version` holds how many ran). Never edit one that shipped. */
const MIGRATIONS: (string | ((db: Database.Database) => void))[] = [
  `CREATE TABLE runs (
     run_id TEXT PRIMARY KEY, job TEXT NOT NULL, kind TEXT NOT NULL, parent_run_id TEXT,
     status TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER,
     rows_in INTEGER NOT NULL DEFAULT 0, rows_out INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0,
     error TEXT);
   CREATE INDEX runs_job ON runs(job, started_at);
   CREATE INDEX runs_parent ON runs(parent_run_id);
   CREATE TABLE files (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, key TEXT NOT NULL, partition TEXT,
     rows INTEGER NOT NULL, bytes INTEGER NOT NULL, run_id TEXT NOT NULL, committed_at INTEGER NOT NULL,
     retired_at INTEGER);
   CREATE INDEX files_live ON files(dataset, retired_at);
   CREATE TABLE datasets (
     dataset TEXT PRIMARY KEY, schema TEXT, inputs TEXT NOT NULL DEFAULT '{}', updated_at INTEGER NOT NULL);
   CREATE TABLE checkpoints (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE file_ledger (
     source TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, sha256 TEXT NOT NULL,
     status TEXT NOT NULL, run_id TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (source, sha256, path));`,
  `CREATE TABLE lineage_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, event_type TEXT NOT NULL, event_time TEXT NOT NULL,
     job_namespace TEXT NOT NULL, job_name TEXT NOT NULL, event TEXT NOT NULL);
   CREATE INDEX lineage_job ON lineage_events(job_namespace, job_name);`,
  `CREATE TABLE check_results (
     run_id TEXT NOT NULL, check_id TEXT NOT NULL, product TEXT NOT NULL, column_name TEXT, rule TEXT NOT NULL,
     severity TEXT NOT NULL, status TEXT NOT NULL, value REAL, expected TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX check_results_product ON check_results(product, at);`,
  (db) => {
    db.exec(`ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
      UPDATE runs SET heartbeat_at = coalesce(ended_at, started_at);
      CREATE INDEX runs_running ON runs(status, heartbeat_at);
      CREATE INDEX files_key ON files(key);
      CREATE INDEX files_retired ON files(retired_at);
      CREATE TABLE leases (
        scope TEXT NOT NULL, range_id TEXT NOT NULL, range TEXT NOT NULL, continuation TEXT, owner TEXT,
        heartbeat INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (scope, range_id));
      CREATE TABLE lake_readers (id TEXT PRIMARY KEY, process TEXT NOT NULL, views TEXT NOT NULL, heartbeat_at INTEGER NOT NULL);`);
    // Cosmos DB leases used to live in a table of their own, outside the migrations.
    const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cosmos_leases'").get();
    if (old) {
      db.exec(`INSERT INTO leases SELECT source, range_id, range, continuation, owner, heartbeat FROM cosmos_leases;
        DROP TABLE cosmos_leases;`);
    }
  },
  `CREATE TABLE audit_log (
     seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, principal TEXT,
     action TEXT NOT NULL, resource TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL,
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
   CREATE INDEX audit_kind ON audit_log(kind, at);
   CREATE INDEX audit_actor ON audit_log(actor, at);`,
  `ALTER TABLE file_ledger ADD COLUMN loaded_bytes INTEGER;
   ALTER TABLE file_ledger ADD COLUMN loaded_lines INTEGER;
   ALTER TABLE file_ledger ADD COLUMN prefix_sha256 TEXT;
   CREATE INDEX file_ledger_path ON file_ledger(source, path, seen_at);`,
  `CREATE TABLE usage (
     day TEXT NOT NULL, run_id TEXT NOT NULL, meter TEXT NOT NULL, component TEXT NOT NULL, domain TEXT NOT NULL,
     product TEXT NOT NULL, source TEXT NOT NULL, cost_center TEXT NOT NULL, attributes TEXT NOT NULL,
     quantity REAL NOT NULL, aggregate TEXT NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL,
     PRIMARY KEY (day, run_id, meter, component, domain, product, source, cost_center, attributes));
   CREATE INDEX usage_meter ON usage(meter, last_at);`,
  `CREATE TABLE run_logs (
     run_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,
     fields TEXT NOT NULL, PRIMARY KEY (run_id, seq));`,
  `CREATE TABLE contract_versions (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, product TEXT NOT NULL, version TEXT NOT NULL, hash TEXT NOT NULL,
     contract TEXT NOT NULL, first_seen_at INTEGER NOT NULL);
   CREATE INDEX contract_versions_product ON contract_versions(product, seq);`,
  `CREATE TABLE run_warehouse_jobs (
     run_id TEXT NOT NULL, seq INTEGER NOT NULL, job_id TEXT NOT NULL, bytes_processed INTEGER NOT NULL,
     bytes_billed INTEGER NOT NULL, slot_ms INTEGER NOT NULL, PRIMARY KEY (run_id, seq));`,
  // A compaction's file holds rows of files committed before it: the highest seq among them (NULL: its own).
  'ALTER TABLE files ADD COLUMN data_seq INTEGER;',
  // Each file's compressed bytes per column, as its writer measured them (JSON): metering a scan reads no footer.
  'ALTER TABLE files ADD COLUMN column_bytes TEXT;',
];

export interface SqliteMetadataOptions {
  /** The database file; `:memory:` for tests. */
  path: string;
  /** Fail instead of creating the file (read commands on a project that never ran). */
  mustExist?: boolean | undefined;
  clock?: Clock | undefined;
}

/**
 * The embedded metadata store: one SQLite file in WAL mode, so several processes on one machine share it (a
 * reader never blocks the writer; writers take turns under `busy_timeout`). SQLite serialises writers, so
 * manifest commits are totally ordered by construction.
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly kind = 'sqlite';
  readonly runs: RunStore;
  readonly manifest: ManifestStore;
  readonly checkpoints: CheckpointStore;
  readonly ledger: FileLedger;
  readonly leases: LeaseStore;
  readonly checks: CheckResultStore;
  readonly lineage: LineageStore;
  readonly readers: LakeReaderStore;
  readonly audit: AuditLog;
  readonly usage: UsageStore;
  readonly contracts: ContractVersionStore;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly location: string,
    clock: Clock,
  ) {
    const checkpoints = new SqliteCheckpoints(db, clock);
    this.runs = new SqliteRuns(db);
    this.checkpoints = checkpoints;
    this.manifest = new SqliteManifest(db, clock, checkpoints);
    this.ledger = new SqliteLedger(db);
    this.leases = new SqliteLeases(db);
    this.checks = new SqliteCheckResults(db);
    this.lineage = new SqliteLineage(db);
    this.readers = new SqliteLakeReaders(db);
    this.audit = new SqliteAudit(db);
    this.usage = new SqliteUsage(db);
    this.contracts = new SqliteContractVersions(db);
  }

  /** Opens the store at `options.path`, creating and migrating it when needed. */
  static async create(options: SqliteMetadataOptions): Promise<SqliteMetadataStore> {
    const { path } = options;
    if (path !== ':memory:' && !options.mustExist) mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: options.mustExist ?? false });
    } catch (cause) {
      throw new FinmeshError(
        options.mustExist ? 'NOT_FOUND' : 'UNAVAILABLE',
        `cannot open the metadata store ${path}${options.mustExist ? ' (has the project run yet?)' : ''}`,
        { cause },
      );
    }
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db);
    } catch (cause) {
      db.close();
      throw new FinmeshError('UNAVAILABLE', `cannot prepare the metadata store ${path}: ${(cause as Error).message}`, { cause });
    }
    return new SqliteMetadataStore(db, path, options.clock ?? systemClock);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current >= MIGRATIONS.length) return;
  // IMMEDIATE: two processes opening a fresh store at once migrate one after the other, not both.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v] as string | ((db: Database.Database) => void);
      if (typeof m === 'string') db.exec(m);
      else m(db);
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
