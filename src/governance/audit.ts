import { createHash } from 'node:crypto';
import { ACCESS_FILE } from '../config/access-names.js';
import type { AccessModel } from '../config/access-schema.js';
import type { Clock } from '../core/clock.js';
import { FinmeshError } from '../core/errors.js';
import { canonicalJson } from '../metadata/audit-chain.js';
import type { AuditEntry, AuditLog, AuditRecord } from '../metadata/metadata-store.js';

/**
 * What governance writes to the audit log. Appends fail closed: a read whose record cannot be written is not served
 * (`UNAVAILABLE`), so no read goes unrecorded.
 */
export class AuditTrail {
  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
  ) {}

  async append(entry: Omit<AuditEntry, 'at'>): Promise<AuditRecord> {
    try {
      return await this.log.append({ ...entry, at: new Date(this.clock.now()) });
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `the audit log cannot be written, so nothing is served: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /**
   * Records the access model when it differs from the one last recorded (a grant change, made in git or by hand):
   * what changed, per persona, token and break-glass grant, and the model itself (it holds secret references and
   * hashes, never secrets) so the next change can be compared with it. Returns the record, or undefined if unchanged.
   */
  async recordAccessModel(model: AccessModel): Promise<AuditRecord | undefined> {
    const modelHash = createHash('sha256').update(canonicalJson(model)).digest('hex');
    const last = (await this.log.list({ kind: 'grant-change' })).at(-1);
    if (last?.details.modelHash === modelHash) return undefined;
    const previous = last?.details.model as AccessModel | undefined;
    return this.append({
      kind: 'grant-change',
      actor: 'finmesh',
      principal: undefined,
      action: 'access-model',
      resource: ACCESS_FILE,
      outcome: 'ok',
      details: { modelHash, previousHash: last?.details.modelHash ?? null, changes: modelChanges(previous, model), model },
    });
  }
}

/** Human-readable changes between two access models (`persona risk-analyst changed: classifications`). */
export function modelChanges(before: AccessModel | undefined, after: AccessModel): string[] {
  if (!before) return ['access model recorded for the first time'];
  const out: string[] = [];
  const names = new Set([...Object.keys(before.personas), ...Object.keys(after.personas)]);
  for (const name of [...names].sort()) {
    const a = before.personas[name];
    const b = after.personas[name];
    if (!a) out.push(`persona ${name} added`);
    else if (!b) out.push(`persona ${name} removed`);
    else {
      const fields = Object.keys({ ...a, ...b }).filter(
        (k) => canonicalJson((a as Record<string, unknown>)[k]) !== canonicalJson((b as Record<string, unknown>)[k]),
      );
      if (fields.length > 0) out.push(`persona ${name} changed: ${fields.join(', ')}`);
    }
  }
  const tokens = (m: AccessModel) => new Map(m.tokens.map((t) => [t.name, t]));
  const [ta, tb] = [tokens(before), tokens(after)];
  for (const [name, t] of tb) {
    const old = ta.get(name);
    if (!old) out.push(`token ${name} added for ${t.persona}`);
    else if (t.revoked && !old.revoked) out.push(`token ${name} revoked`);
    else if (canonicalJson(old) !== canonicalJson(t)) out.push(`token ${name} changed`);
  }
  for (const name of ta.keys()) if (!tb.has(name)) out.push(`token ${name} removed`);
  if (canonicalJson(before.breakGlass) !== canonicalJson(after.breakGlass)) out.push('break-glass grants changed');
  if (canonicalJson(before.masking) !== canonicalJson(after.masking)) out.push('masking rules changed');
  if (canonicalJson(before.oidc) !== canonicalJson(after.oidc)) out.push('OIDC settings changed');
  return out.length > 0 ? out : ['formatting only'];
}

/** A query's SHA-256 (what the audit log keeps instead of the text, which may carry literals). */
export function queryHash(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * A record as a Google Cloud Audit Logs entry (a `LogEntry` whose `protoPayload` is an `AuditLog`), so the trail can
 * be loaded into Cloud Logging or a BigQuery log sink beside BigQuery's own data-access logs.
 */
export function toCloudAuditLog(r: AuditRecord, projectId: string): Record<string, unknown> {
  const log = r.kind === 'read' ? 'data_access' : r.kind === 'grant-change' ? 'activity' : 'policy';
  return {
    logName: `projects/${projectId}/logs/${encodeURIComponent(`cloudaudit.googleapis.com/${log}`)}`,
    resource: { type: 'audited_resource', labels: { service: 'finmesh', method: `finmesh.${r.action}` } },
    timestamp: r.at.toISOString(),
    receiveTimestamp: r.at.toISOString(),
    severity: r.outcome === 'deny' ? 'WARNING' : r.outcome === 'error' ? 'ERROR' : 'INFO',
    insertId: r.hash.slice(0, 32),
    labels: { 'finmesh.seq': String(r.seq), 'finmesh.hash': r.hash, 'finmesh.prev_hash': r.prevHash },
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      serviceName: 'finmesh',
      methodName: `finmesh.${r.action}`,
      resourceName: r.resource,
      authenticationInfo: { principalSubject: r.principal ?? r.actor, serviceAccountDelegationInfo: [] },
      authorizationInfo: [
        {
          resource: r.resource,
          permission: `finmesh.${r.kind}`,
          granted: r.outcome !== 'deny',
          resourceAttributes: { name: r.resource },
        },
      ],
      requestMetadata: { callerSuppliedUserAgent: String(r.details.via ?? 'finmesh') },
      metadata: { persona: r.actor, kind: r.kind, ...r.details },
      ...(r.outcome === 'deny' ? { status: { code: 7, message: String(r.details.reason ?? 'permission denied') } } : {}),
    },
  };
}
