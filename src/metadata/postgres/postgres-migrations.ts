import type pg from 'pg';
import { FinmeshError } from '../../core/errors.js';
import { advisoryLockKey, type PostgresPool } from './postgres-pool.js';

/**
 * Numbered migrations, applied in order inside the store's schema (`search_path` is set to it, so names are bare).
 * `schema_migrations` holds one row per migration applied. Never edit one that shipped: add the next.
 */
export const MIGRATIONS: string[] = [
  `CREATE TABLE runs (
     run_id text PRIMARY KEY, job text NOT NULL, kind text NOT NULL, parent_run_id text,
     status text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz, heartbeat_at timestamptz,
     rows_in bigint NOT NULL DEFAULT 0, rows_out bigint NOT NULL DEFAULT 0, rows_rejected bigint NOT NULL DEFAULT 0,
     error text);
   CREATE INDEX runs_job ON runs (job, started_at);
   CREATE INDEX runs_parent ON runs (parent_run_id);
   CREATE INDEX runs_running ON runs (heartbeat_at) WHERE status = 'running';
   CREATE TABLE files (
     seq bigserial PRIMARY KEY, dataset text NOT NULL, key text NOT NULL, partition text,
     rows bigint NOT NULL, bytes bigint NOT NULL, run_id text NOT NULL, committed_at timestamptz NOT NULL,
     retired_at timestamptz);
   CREATE INDEX files_live ON files (dataset, seq) WHERE retired_at IS NULL;
   CREATE INDEX files_committed ON files (dataset, committed_at);
   CREATE INDEX files_key ON files (key);
   CREATE INDEX files_retired ON files (retired_at) WHERE retired_at IS NOT NULL;
   CREATE TABLE datasets (
     dataset text PRIMARY KEY, schema jsonb, inputs jsonb NOT NULL DEFAULT '{}', updated_at timestamptz NOT NULL);
   CREATE TABLE checkpoints (source text PRIMARY KEY, value text NOT NULL, updated_at timestamptz NOT NULL);
   CREATE TABLE file_ledger (
     source text NOT NULL, path text NOT NULL, size bigint NOT NULL, mtime timestamptz NOT NULL, sha256 text NOT NULL,
     status text NOT NULL, run_id text NOT NULL, seen_at timestamptz NOT NULL, PRIMARY KEY (source, sha256, path));
   CREATE INDEX file_ledger_path ON file_ledger (source, path, seen_at);
   CREATE INDEX file_ledger_seen ON file_ledger (source, seen_at);
   CREATE TABLE lineage_events (
     seq bigserial PRIMARY KEY, run_id text NOT NULL, event_type text NOT NULL, event_time text NOT NULL,
     job_namespace text NOT NULL, job_name text NOT NULL, event jsonb NOT NULL);
   CREATE INDEX lineage_job ON lineage_events (job_namespace, job_name);
   CREATE TABLE check_results (
     seq bigserial PRIMARY KEY, run_id text NOT NULL, check_id text NOT NULL, product text NOT NULL, column_name text,
     rule text NOT NULL, severity text NOT NULL, status text NOT NULL, value double precision, expected text NOT NULL,
     message text NOT NULL, at timestamptz NOT NULL);
   CREATE INDEX check_results_product ON check_results (product, at);
   CREATE INDEX check_results_at ON check_results (at);
   CREATE TABLE leases (
     scope text NOT NULL, range_id text NOT NULL, range text NOT NULL, continuation text, owner text,
     heartbeat bigint NOT NULL DEFAULT 0, PRIMARY KEY (scope, range_id));
   CREATE TABLE lake_readers (id text PRIMARY KEY, process text NOT NULL, views jsonb NOT NULL, heartbeat_at timestamptz NOT NULL);`,
  `CREATE TABLE audit_log (
     seq bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, actor text NOT NULL, principal text,
     action text NOT NULL, resource text NOT NULL, outcome text NOT NULL, details text NOT NULL,
     prev_hash text NOT NULL, hash text NOT NULL);
   CREATE INDEX audit_kind ON audit_log (kind, at);
   CREATE INDEX audit_actor ON audit_log (actor, at);`,
  `ALTER TABLE file_ledger ADD COLUMN loaded_bytes bigint, ADD COLUMN loaded_lines bigint, ADD COLUMN prefix_sha256 text;`,
  `CREATE TABLE usage (
     seq bigserial, day text NOT NULL, run_id text NOT NULL, meter text NOT NULL, component text NOT NULL,
     domain text NOT NULL, product text NOT NULL, source text NOT NULL, cost_center text NOT NULL, attributes jsonb NOT NULL,
     quantity double precision NOT NULL, aggregate text NOT NULL, first_at timestamptz NOT NULL, last_at timestamptz NOT NULL,
     PRIMARY KEY (day, run_id, meter, component, domain, product, source, cost_center, attributes));
   CREATE INDEX usage_meter ON usage (meter, last_at);`,
  `CREATE TABLE run_logs (
     run_id text NOT NULL, seq integer NOT NULL, at timestamptz NOT NULL, severity text NOT NULL, message text NOT NULL,
     fields jsonb NOT NULL, PRIMARY KEY (run_id, seq));`,
  `CREATE TABLE contract_versions (
     seq bigserial PRIMARY KEY, product text NOT NULL, version text NOT NULL, hash text NOT NULL,
     contract jsonb NOT NULL, first_seen_at timestamptz NOT NULL);
   CREATE INDEX contract_versions_product ON contract_versions (product, seq);`,
  `CREATE TABLE run_warehouse_jobs (
     run_id text NOT NULL, seq integer NOT NULL, job_id text NOT NULL, bytes_processed bigint NOT NULL,
     bytes_billed bigint NOT NULL, slot_ms bigint NOT NULL, PRIMARY KEY (run_id, seq));`,
  // A compaction's file holds rows of files committed before it: the highest seq among them (NULL: its own).
  'ALTER TABLE files ADD COLUMN data_seq bigint;',
  // Each file's compressed bytes per column, as its writer measured them (JSON kept as text, parsed by the engine when
  // a scan reads the file): metering a scan reads no footer.
  'ALTER TABLE files ADD COLUMN column_bytes text;',
];

/** How long one migration may run (an index on a large table takes longer than any ordinary statement). */
export const DEFAULT_MIGRATION_TIMEOUT_MS = 10 * 60_000;
/** The client waits a little longer than the server, whose timeout gives the clearer error. */
const CLIENT_TIMEOUT_MS = DEFAULT_MIGRATION_TIMEOUT_MS + 5_000;

/**
 * Brings `schema` up to the last migration. Several processes starting at once take turns on a transaction-scoped
 * advisory lock, so each migration runs once; the lock goes with the transaction, even if its process dies. An
 * up-to-date schema is recognised without the lock or any DDL, so a role without CREATE rights can open it.
 * With `mustExist`, a schema never migrated is `NOT_FOUND` instead of created.
 */
export async function migrate(db: PostgresPool, schema: string, options: { mustExist?: boolean | undefined } = {}): Promise<void> {
  const table = `${quote(schema)}.schema_migrations`;
  const applied = async (): Promise<number | undefined> => {
    const found = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
    if (found.rows[0]?.t === null) return undefined;
    const r = await db.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${table}`);
    return r.rows[0]?.v ?? 0;
  };
  const current = await applied();
  if (current === undefined && options.mustExist) {
    throw new FinmeshError('NOT_FOUND', `the metadata store ${db.location} has no schema "${schema}" yet (has the project run yet?)`);
  }
  if (current !== undefined && current >= MIGRATIONS.length) return;
  await db.transaction(async (q) => {
    await q.query(`SET LOCAL statement_timeout = ${DEFAULT_MIGRATION_TIMEOUT_MS}`);
    const lock = advisoryLockKey(`finmesh:migrate:${schema}`);
    await q.query(long('SELECT pg_advisory_xact_lock($1::bigint)', [lock]));
    // Read again under the lock: another process may have migrated while this one waited.
    const exists = await q.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await q.query(`CREATE SCHEMA ${quote(schema)}`);
    await q.query(`SET LOCAL search_path TO ${quote(schema)}`);
    await q.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const r = await q.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    for (let v = r.rows[0]?.v ?? 0; v < MIGRATIONS.length; v++) {
      await q.query(long(MIGRATIONS[v] as string));
      await q.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
    }
  });
}

/** A statement the client waits for as long as a migration may take (pg honours a `query_timeout` its types omit). */
function long(text: string, values?: unknown[]): pg.QueryConfig {
  const query: pg.QueryConfig & { query_timeout: number } = { text, values, query_timeout: CLIENT_TIMEOUT_MS };
  return query;
}

/** A schema name as an SQL identifier. Names are checked to be lower_snake_case before they get here. */
export function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
