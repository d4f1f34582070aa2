import type Database from 'better-sqlite3';
import type {
  CheckResultRecord,
  CheckResultStore,
  ContractVersionRecord,
  ContractVersionSeen,
  ContractVersionStore,
  LineageEventRecord,
  LineageStore,
} from '../metadata-store.js';

export class SqliteCheckResults implements CheckResultStore {
  constructor(private readonly db: Database.Database) {}

  async record(results: CheckResultRecord[]): Promise<void> {
    const ins = this.db.prepare(
      'INSERT INTO check_results (run_id, check_id, product, column_name, rule, severity, status, value, expected, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const r of results)
        ins.run(
          r.runId,
          r.checkId,
          r.product,
          r.column ?? null,
          r.rule,
          r.severity,
          r.status,
          r.value ?? null,
          r.expected,
          r.message,
          r.at.getTime(),
        );
    })();
  }

  async list(filter: { product?: string | undefined; since?: Date | undefined } = {}): Promise<CheckResultRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM check_results WHERE (? IS NULL OR product = ?) AND at >= ? ORDER BY at DESC, rowid DESC')
      .all(filter.product ?? null, filter.product ?? null, filter.since?.getTime() ?? 0) as {
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
      at: number;
    }[];
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
      at: new Date(r.at),
    }));
  }
}

export class SqliteLineage implements LineageStore {
  constructor(private readonly db: Database.Database) {}

  async record(e: LineageEventRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO lineage_events (run_id, event_type, event_time, job_namespace, job_name, event) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.runId, e.eventType, e.eventTime, e.jobNamespace, e.jobName, JSON.stringify(e.event));
  }

  async list(): Promise<LineageEventRecord[]> {
    const rows = this.db.prepare('SELECT * FROM lineage_events ORDER BY seq').all() as {
      run_id: string;
      event_type: string;
      event_time: string;
      job_namespace: string;
      job_name: string;
      event: string;
    }[];
    return rows.map((r) => ({
      runId: r.run_id,
      eventType: r.event_type,
      eventTime: r.event_time,
      jobNamespace: r.job_namespace,
      jobName: r.job_name,
      event: JSON.parse(r.event),
    }));
  }
}

export class SqliteContractVersions implements ContractVersionStore {
  constructor(private readonly db: Database.Database) {}

  async record(seen: ContractVersionSeen): Promise<boolean> {
    // IMMEDIATE: two processes loading the same new contract at once record it once.
    return this.db
      .transaction(() => {
        const last = this.db.prepare('SELECT hash FROM contract_versions WHERE product = ? ORDER BY seq DESC LIMIT 1').get(seen.product) as
          | { hash: string }
          | undefined;
        if (last?.hash === seen.hash) return false;
        this.db
          .prepare('INSERT INTO contract_versions (product, version, hash, contract, first_seen_at) VALUES (?, ?, ?, ?, ?)')
          .run(seen.product, seen.version, seen.hash, JSON.stringify(seen.contract), seen.at.getTime());
        return true;
      })
      .immediate();
  }

  async list(product?: string): Promise<ContractVersionRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM contract_versions WHERE (? IS NULL OR product = ?) ORDER BY seq')
      .all(product ?? null, product ?? null) as {
      product: string;
      version: string;
      hash: string;
      contract: string;
      first_seen_at: number;
    }[];
    return rows.map((r) => ({
      product: r.product,
      version: r.version,
      hash: r.hash,
      contract: JSON.parse(r.contract),
      firstSeenAt: new Date(r.first_seen_at),
    }));
  }
}
