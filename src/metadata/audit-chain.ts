import { createHash } from 'node:crypto';
import type { AuditEntry, AuditRecord } from './metadata-store.js';

/** The `prevHash` of the first record. */
export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * The hash of a record: SHA-256 over the previous record's hash and the record's canonical JSON (keys sorted, dates
 * as ISO strings), so changing any byte of any field, or the record before it, changes it.
 */
export function auditHash(prevHash: string, seq: number, entry: AuditEntry): string {
  const body = canonicalJson({
    seq,
    at: entry.at.toISOString(),
    kind: entry.kind,
    actor: entry.actor,
    principal: entry.principal ?? null,
    action: entry.action,
    resource: entry.resource,
    outcome: entry.outcome,
    details: entry.details,
  });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

/** JSON with object keys sorted at every level: one text per value, whatever order it was built in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface ChainProblem {
  /** The record at fault (the one whose link or content does not hold). */
  seq: number;
  problem: string;
}

export interface ChainVerdict {
  ok: boolean;
  records: number;
  /** The last record's hash: keep it elsewhere, and a later verify also proves no record was cut off the end. */
  head: string;
  problems: ChainProblem[];
}

/**
 * Checks a chain read in seq order: each record's hash matches its content, and links to the record before it. An
 * edited record fails its own hash; a deleted one leaves a gap in seq and a broken link; a reordered one breaks links.
 */
export function verifyAuditChain(records: AuditRecord[], expectHead?: string): ChainVerdict {
  const problems: ChainProblem[] = [];
  let prev: AuditRecord | undefined;
  for (const r of records) {
    const expectedPrev = prev?.hash ?? AUDIT_GENESIS;
    if (prev && r.seq !== prev.seq + 1) {
      problems.push({
        seq: r.seq,
        problem:
          r.seq > prev.seq + 1
            ? `record ${r.seq} follows record ${prev.seq}: ${r.seq - prev.seq - 1 === 1 ? `record ${prev.seq + 1} was deleted` : `records ${prev.seq + 1}–${r.seq - 1} were deleted`}`
            : `record ${r.seq} comes after record ${prev.seq}: records were reordered`,
      });
    } else if (!prev && r.seq !== 1) {
      problems.push({ seq: r.seq, problem: `the log starts at record ${r.seq}: records 1–${r.seq - 1} were deleted` });
    }
    if (auditHash(r.prevHash, r.seq, r) !== r.hash) {
      problems.push({ seq: r.seq, problem: `record ${r.seq} was altered: its content does not match its hash` });
    } else if (r.prevHash !== expectedPrev) {
      problems.push({
        seq: r.seq,
        problem: `record ${r.seq} does not link to the record before it${prev ? ` (${prev.seq})` : ''}: a record before it was altered, deleted or moved`,
      });
    }
    prev = r;
  }
  const head = prev?.hash ?? AUDIT_GENESIS;
  if (expectHead && expectHead !== head && !records.some((r) => r.hash === expectHead)) {
    problems.push({
      seq: prev?.seq ?? 0,
      problem: `the expected head ${expectHead.slice(0, 12)}… is not in the log: records were cut off its end`,
    });
  }
  return { ok: problems.length === 0, records: records.length, head, problems };
}
