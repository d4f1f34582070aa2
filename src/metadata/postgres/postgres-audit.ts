import { AUDIT_GENESIS, auditHash } from '../audit-chain.js';
import type { AuditEntry, AuditFilter, AuditKind, AuditLog, AuditRecord } from '../metadata-store.js';
import { advisoryLockKey, type PostgresPool } from './postgres-pool.js';

interface Row {
  seq: string;
  at: Date;
  kind: AuditKind;
  actor: string;
  principal: string | null;
  action: string;
  resource: string;
  outcome: AuditRecord['outcome'];
  details: string;
  prev_hash: string;
  hash: string;
}

/**
 * The audit log in PostgreSQL. Appends take a transaction-scoped advisory lock (`finmesh:audit:<schema>`) before
 * reading the chain's end, so processes on several machines append one after another and the chain never forks.
 * `details` is stored as text, byte for byte what was hashed.
 */
export class PostgresAudit implements AuditLog {
  private readonly lock: string;

  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
    schema: string,
  ) {
    this.lock = advisoryLockKey(`finmesh:audit:${schema}`);
  }

  async append(entry: AuditEntry): Promise<AuditRecord> {
    return this.db.transaction(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lock]);
      const last = await q.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.s}.audit_log ORDER BY seq DESC LIMIT 1`);
      const seq = Number(last.rows[0]?.seq ?? 0) + 1;
      const prevHash = last.rows[0]?.hash ?? AUDIT_GENESIS;
      const hash = auditHash(prevHash, seq, entry);
      await q.query(
        `INSERT INTO ${this.s}.audit_log (seq, at, kind, actor, principal, action, resource, outcome, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          seq,
          entry.at,
          entry.kind,
          entry.actor,
          entry.principal ?? null,
          entry.action,
          entry.resource,
          entry.outcome,
          JSON.stringify(entry.details),
          prevHash,
          hash,
        ],
      );
      return { ...entry, seq, prevHash, hash };
    });
  }

  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM ${this.s}.audit_log
       WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR actor = $2) AND ($3::timestamptz IS NULL OR at >= $3) AND seq > $4
       ORDER BY seq LIMIT $5`,
      [filter.kind ?? null, filter.actor ?? null, filter.since ?? null, filter.afterSeq ?? 0, filter.limit ?? null],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.at,
      kind: r.kind,
      actor: r.actor,
      principal: r.principal ?? undefined,
      action: r.action,
      resource: r.resource,
      outcome: r.outcome,
      details: ((text: string) => {
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch {
          return { unparseable: text };
        }
      })(r.details),
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }
}
