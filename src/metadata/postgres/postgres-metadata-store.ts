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
import { PostgresAudit } from './postgres-audit.js';
import { PostgresLakeReaders, PostgresLeases } from './postgres-leases.js';
import { PostgresCheckpoints, PostgresLedger } from './postgres-ledger.js';
import { PostgresManifest } from './postgres-manifest.js';
import { migrate, quote } from './postgres-migrations.js';
import { PostgresPool } from './postgres-pool.js';
import { PostgresCheckResults, PostgresContractVersions, PostgresLineage } from './postgres-records.js';
import { PostgresRuns } from './postgres-runs.js';
import { PostgresUsage } from './postgres-usage.js';

/** The schema finmesh's tables live in, unless configured. */
export const DEFAULT_SCHEMA = 'finmesh';
/** Connections per process. Cloud SQL counts every Cloud Run instance's pool against its connection limit. */
export const DEFAULT_POOL_SIZE = 5;
/** How long to wait for a connection (the server, or a free pooled connection) before `UNAVAILABLE`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long the server lets one statement run, lock waits included, before `TIMEOUT`. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** How long the server keeps a session that sits idle inside a transaction (a stalled process) before ending it. */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export interface PostgresMetadataOptions {
  /** `postgres://user:password@host:port/db` (a resolved secret: it never appears in a message). */
  connectionString: string;
  /** The schema the tables live in (default `finmesh`), created and migrated on first use; lower_snake_case. */
  schema?: string | undefined;
  /** Fail with `NOT_FOUND` instead of creating the schema (read commands on a project that never ran). */
  mustExist?: boolean | undefined;
  clock?: Clock | undefined;
  /** Default `DEFAULT_POOL_SIZE`. */
  poolSize?: number | undefined;
  /** Default `DEFAULT_CONNECT_TIMEOUT_MS`. */
  connectTimeoutMs?: number | undefined;
  /** Default `DEFAULT_STATEMENT_TIMEOUT_MS`. */
  statementTimeoutMs?: number | undefined;
}

/**
 * The metadata store in PostgreSQL, for several finmesh processes on several machines (Cloud Run with Cloud SQL).
 * Tables live in one schema, migrated under an advisory lock; manifest commits are serialised by another, so their
 * seqs become visible in order (see `PostgresManifest`). Errors are `FinmeshError`s naming `location`, which carries
 * no credentials.
 */
export class PostgresMetadataStore implements MetadataStore {
  readonly kind = 'postgres';
  readonly location: string;
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

  private constructor(
    private readonly db: PostgresPool,
    schema: string,
    clock: Clock,
  ) {
    this.location = db.location;
    const s = quote(schema);
    const checkpoints = new PostgresCheckpoints(db, s, clock);
    this.runs = new PostgresRuns(db, s);
    this.checkpoints = checkpoints;
    this.manifest = new PostgresManifest(db, s, schema, clock, checkpoints);
    this.ledger = new PostgresLedger(db, s);
    this.leases = new PostgresLeases(db, s);
    this.checks = new PostgresCheckResults(db, s);
    this.lineage = new PostgresLineage(db, s);
    this.readers = new PostgresLakeReaders(db, s);
    this.audit = new PostgresAudit(db, s, schema);
    this.usage = new PostgresUsage(db, s);
    this.contracts = new PostgresContractVersions(db, s, schema);
  }

  /**
   * Connects, and creates and migrates the schema when needed. Throws `CONFIG_INVALID` for a connection string that
   * is not a `postgres://` URL or a schema name that is not lower_snake_case, `UNAVAILABLE` when the server cannot be
   * reached in time, `PERMISSION` when it refuses the credentials, `NOT_FOUND` with `mustExist` on a fresh schema.
   */
  static async create(options: PostgresMetadataOptions): Promise<PostgresMetadataStore> {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new FinmeshError(
        'CONFIG_INVALID',
        `metadata schema: expected a lower_snake_case name of at most 63 characters, found "${schema}"`,
      );
    }
    const db = new PostgresPool({
      connectionString: options.connectionString,
      poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    });
    try {
      await migrate(db, schema, { mustExist: options.mustExist });
    } catch (cause) {
      await db.end();
      throw db.toError(cause);
    }
    return new PostgresMetadataStore(db, schema, options.clock ?? systemClock);
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
