import type {
  CheckResultRecord,
  CheckResultStore,
  ContractVersionRecord,
  ContractVersionSeen,
  ContractVersionStore,
  LineageEventRecord,
  LineageStore,
} from '../metadata-store.js';
import { advisoryLockKey, type PostgresPool } from './postgres-pool.js';

export class PostgresCheckResults implements CheckResultStore {
  /** `s` is the quoted schema the tables live in. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async record(results: CheckResultRecord[]): Promise<void> {
    if (results.length === 0) return;
    // One statement for the batch; WITH ORDINALITY keeps the given order in `seq`, which breaks ties of `at`.
    await this.db.query(
      `INSERT INTO ${this.s}.check_results (run_id, check_id, product, column_name, rule, severity, status, value, expected, message, at)
       SELECT run_id, check_id, product, column_name, rule, severity, status, value, expected, message, at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[],
                   $10::text[], $11::timestamptz[])
         WITH ORDINALITY AS r(run_id, check_id, product, column_name, rule, severity, status, value, expected, message, at, n)
       ORDER BY n`,
      [
        results.map((r) => r.runId),
        results.map((r) => r.checkId),
        results.map((r) => r.product),
        results.map((r) => r.column ?? null),
        results.map((r) => r.rule),
        results.map((r) => r.severity),
        results.map((r) => r.status),
        results.map((r) => r.value ?? null),
        results.map((r) => r.expected),
        results.map((r) => r.message),
        results.map((r) => r.at),
      ],
    );
  }

  async list(filter: { product?: string | undefined; since?: Date | undefined } = {}): Promise<CheckResultRecord[]> {
    const { rows } = await this.db.query<{
      run_id: string;
      check_id: string;
      product: string;
      column_name: string | null;
      rule: string;
      severity: 'error' | 'warning';
      status: CheckResultRecord['status'];
      value: number | null;
      expected: string;
      message: string;
      at: Date;
    }>(`SELECT * FROM ${this.s}.check_results WHERE ($1::text IS NULL OR product = $1) AND at >= $2 ORDER BY at DESC, seq DESC`, [
      filter.product ?? null,
      filter.since ?? new Date(0),
    ]);
    return rows.map((r) => ({
      runId: r.run_id,
      checkId: r.check_id,
      product: r.product,
      column: r.column_name ?? undefined,
      rule: r.rule,
      severity: r.severity,
      status: r.status,
      value: r.value ?? undefined,
      expected: r.expected,
      message: r.message,
      at: r.at,
    }));
  }
}

export class PostgresLineage implements LineageStore {
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
  ) {}

  async record(e: LineageEventRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.s}.lineage_events (run_id, event_type, event_time, job_namespace, job_name, event) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
      [e.runId, e.eventType, e.eventTime, e.jobNamespace, e.jobName, JSON.stringify(e.event) ?? 'null'],
    );
  }

  async list(): Promise<LineageEventRecord[]> {
    const { rows } = await this.db.query<{
      run_id: string;
      event_type: string;
      event_time: string;
      job_namespace: string;
      job_name: string;
      event: unknown;
    }>(`SELECT * FROM ${this.s}.lineage_events ORDER BY seq`);
    return rows.map((r) => ({
      runId: r.run_id,
      eventType: r.event_type,
      eventTime: r.event_time,
      jobNamespace: r.job_namespace,
      jobName: r.job_name,
      event: r.event,
    }));
  }
}

export class PostgresContractVersions implements ContractVersionStore {
  private readonly lock: string;

  /** `s` is the quoted schema the tables live in; `schema` its name, for the advisory lock. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
    schema: string,
  ) {
    this.lock = advisoryLockKey(`finmesh:contracts:${schema}`);
  }

  async record(seen: ContractVersionSeen): Promise<boolean> {
    // Under the lock, two processes loading the same new contract at once record it once.
    return this.db.transaction(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lock]);
      const r = await q.query(
        `INSERT INTO ${this.s}.contract_versions (product, version, hash, contract, first_seen_at)
         SELECT $1::text, $2::text, $3::text, $4::jsonb, $5::timestamptz
         WHERE $3::text IS DISTINCT FROM (SELECT hash FROM ${this.s}.contract_versions WHERE product = $1 ORDER BY seq DESC LIMIT 1)`,
        [seen.product, seen.version, seen.hash, JSON.stringify(seen.contract), seen.at],
      );
      return (r.rowCount ?? 0) > 0;
    });
  }

  async list(product?: string): Promise<ContractVersionRecord[]> {
    const { rows } = await this.db.query<{
      product: string;
      version: string;
      hash: string;
      contract: unknown;
      first_seen_at: Date;
    }>(`SELECT * FROM ${this.s}.contract_versions WHERE ($1::text IS NULL OR product = $1) ORDER BY seq`, [product ?? null]);
    return rows.map((r) => ({
      product: r.product,
      version: r.version,
      hash: r.hash,
      contract: r.contract,
      firstSeenAt: r.first_seen_at,
    }));
  }
}
