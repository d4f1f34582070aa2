import type Database from 'better-sqlite3';
import { AUDIT_GENESIS, auditHash } from '../audit-chain.js';
import type { AuditEntry, AuditFilter, AuditKind, AuditLog, AuditRecord } from '../metadata-store.js';

interface Row {
  seq: number;
  at: number;
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

/** The audit log in SQLite: an IMMEDIATE transaction reads the chain's end and appends, so writers never fork it. */
export class SqliteAudit implements AuditLog {
  constructor(private readonly db: Database.Database) {}

  async append(entry: AuditEntry): Promise<AuditRecord> {
    return this.db
      .transaction(() => {
        const last = this.db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
          | { seq: number; hash: string }
          | undefined;
        const seq = (last?.seq ?? 0) + 1;
        const prevHash = last?.hash ?? AUDIT_GENESIS;
        const hash = auditHash(prevHash, seq, entry);
        this.db
          .prepare(
            'INSERT INTO audit_log (seq, at, kind, actor, principal, action, resource, outcome, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            seq,
            entry.at.getTime(),
            entry.kind,
            entry.actor,
            entry.principal ?? null,
            entry.action,
            entry.resource,
            entry.outcome,
            JSON.stringify(entry.details),
            prevHash,
            hash,
          );
        return { ...entry, seq, prevHash, hash };
      })
      .immediate();
  }

  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM audit_log WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR actor = ?) AND at >= ? AND seq > ?
         ORDER BY seq LIMIT ?`,
      )
      .all(
        filter.kind ?? null,
        filter.kind ?? null,
        filter.actor ?? null,
        filter.actor ?? null,
        filter.since?.getTime() ?? Number.MIN_SAFE_INTEGER,
        filter.afterSeq ?? 0,
        filter.limit ?? -1,
      ) as Row[];
    return rows.map((r) => ({
      seq: r.seq,
      at: new Date(r.at),
      kind: r.kind,
      actor: r.actor,
      principal: r.principal ?? undefined,
      action: r.action,
      resource: r.resource,
      outcome: r.outcome,
      details: parseDetails(r.details),
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }
}

/** A record's details; text that no longer parses (edited by hand) is returned as it is, and fails verification. */
export function parseDetails(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { unparseable: text };
  }
}
