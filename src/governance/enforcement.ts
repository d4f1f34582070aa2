import { ACCESS_FILE, type ApiPermission } from '../config/access-names.js';
import { resolveSecret } from '../config/secrets.js';
import { FinmeshError } from '../core/errors.js';
import type { ColumnInfo, Engine, QueryResult } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { columnLineage } from '../lineage/column-lineage.js';
import { AccessPolicy, type DatasetDecision } from './access.js';
import { AuditTrail, queryHash } from './audit.js';
import { PersonaSession, type PersonaSessionOptions } from './persona-session.js';
import { guardSelect, refusedStatement } from './sql-guard.js';

/** Rows a governed query returns at most unless the caller says otherwise (the rest is cut, and says so). */
export const DEFAULT_ROW_LIMIT = 10_000;
/** How long a governed query may run before it is cancelled. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/** Who asks: the persona decisions are made for, who acts as it (for the audit log), and through which door. */
export interface Principal {
  persona: string;
  /** `token:powerbi`, `oidc:<subject>`, `cli:<user>`; never a secret. */
  principal: string;
  via: 'cli' | 'http' | 'pg' | 'console';
}

export interface GovernedQueryOptions {
  /** Default `DEFAULT_ROW_LIMIT`; 0 for none. */
  rowLimit?: number | undefined;
  /** Default `DEFAULT_STATEMENT_TIMEOUT_MS`; 0 for none. */
  timeoutMs?: number | undefined;
}

export interface GovernedResult extends QueryResult {
  /** More rows matched than the row limit let through. */
  truncated: boolean;
  /** Datasets the query read (none for a query of the engine's catalog only). */
  datasets: string[];
}

/**
 * The one enforcement point: every read of data through finmesh — `finmesh query --as`, the HTTP API, the SQL
 * endpoint, the console — goes through `query`, and every API route through `authorize`. It decides with the access
 * model (`AccessPolicy`), runs the query in the persona's own engine session (`PersonaSession`: masking in the engine,
 * only readable datasets defined), and writes every read, every denial and every grant change to the audit log.
 */
export class Enforcer {
  private readonly sessions = new Map<string, Promise<PersonaSession>>();
  readonly audit: AuditTrail;

  private constructor(
    private readonly ctx: Context,
    readonly policy: AccessPolicy,
    private readonly createEngine: () => Promise<Engine>,
    private readonly catalog: PersonaSessionOptions['catalog'],
  ) {
    this.audit = new AuditTrail(ctx.meta.audit, ctx.clock);
  }

  /**
   * Opens the enforcement point of a project; records the access model in the audit log when it changed since last
   * recorded. `CONFIG_INVALID` when the project has no access model.
   */
  static async open(
    ctx: Context,
    createEngine: () => Promise<Engine>,
    project = ctx.project,
    options: { catalog?: PersonaSessionOptions['catalog'] } = {},
  ): Promise<Enforcer> {
    const model = project.access;
    if (!model) {
      throw new FinmeshError(
        'CONFIG_INVALID',
        `the project has no ${ACCESS_FILE}: personas and grants are defined there (docs/governance.md)`,
      );
    }
    const e = new Enforcer(ctx, new AccessPolicy(project, model, ctx.clock), createEngine, options.catalog);
    await e.audit.recordAccessModel(model);
    return e;
  }

  /** The datasets a persona may read, with what it sees of each column. */
  readable(persona: string): DatasetDecision[] {
    this.policy.persona(persona);
    return this.policy
      .datasets()
      .map((d) => this.policy.decide(persona, d.name))
      .filter((d) => d.allowed);
  }

  /**
   * Checks that the principal's persona may use an API route; a denial is audited and thrown as `PERMISSION` naming
   * the permission missing. A route that names several permissions is open to a persona holding any of them.
   */
  async authorize(who: Principal, permission: ApiPermission | readonly ApiPermission[], resource: string): Promise<void> {
    const persona = this.policy.persona(who.persona);
    const wanted: readonly ApiPermission[] = typeof permission === 'string' ? [permission] : permission;
    const granted = wanted.find((p) => persona.api.includes(p));
    if (granted === 'metrics') return;
    const missing = wanted.join(' or ');
    await this.audit.append({
      kind: 'decision',
      actor: who.persona,
      principal: who.principal,
      action: `api:${granted ?? wanted.join('|')}`,
      resource,
      outcome: granted ? 'allow' : 'deny',
      details: { via: who.via, ...(granted ? {} : { reason: `missing ${missing} in ${ACCESS_FILE}: personas.${who.persona}.api` }) },
    });
    if (!granted) {
      throw new FinmeshError(
        'PERMISSION',
        `persona "${who.persona}" may not use ${resource}: missing the permission ${missing} in ${ACCESS_FILE}: personas.${who.persona}.api`,
      );
    }
  }

  /**
   * Runs one read-only SELECT as the principal's persona. Refused, audited and thrown: a statement that is not one
   * SELECT (`PERMISSION`), a dataset or column the persona may not read (`PERMISSION` naming the grant missing), an
   * unknown dataset (`NOT_FOUND`). A query that runs past the timeout is cancelled (`TIMEOUT`).
   */
  async query(who: Principal, sql: string, options: GovernedQueryOptions = {}): Promise<GovernedResult> {
    const { session, statement, datasets, views, hash } = await this.check(who, sql);
    await session.refresh(views);
    const result = await session.run(sql, {
      rowLimit: options.rowLimit ?? DEFAULT_ROW_LIMIT,
      timeoutMs: options.timeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    });
    if (datasets.length > 0) {
      const decisions = datasets.map((d) => session.decisions.get(d) as DatasetDecision);
      await this.audit.append({
        kind: 'read',
        actor: who.persona,
        principal: who.principal,
        action: 'query',
        resource: datasets.join(','),
        outcome: 'ok',
        details: {
          via: who.via,
          datasets,
          columns: readColumns(
            statement.ast,
            decisions,
            result.columns.map((c) => c.name),
          ),
          masked: Object.fromEntries(
            decisions.map((d) => [d.dataset, d.columns.filter((c) => c.level === 'masked' || c.level === 'tokenised').map((c) => c.name)]),
          ),
          rowFilters: decisions.flatMap((d) => d.rowFilters.map((f) => f.path)),
          rows: result.rows.length,
          truncated: result.truncated,
          queryHash: hash,
        },
      });
      for (const d of decisions) {
        for (const g of d.breakGlass) {
          await this.audit.append({
            kind: 'break-glass',
            actor: who.persona,
            principal: who.principal,
            action: 'query',
            resource: d.dataset,
            outcome: 'allow',
            details: { via: who.via, breakGlass: g.index, reason: g.reason, approvedBy: g.approvedBy, until: g.until, queryHash: hash },
          });
        }
      }
    }
    return { ...result, datasets };
  }

  /** The columns a statement would return, checked like `query` but read nothing (nothing to audit as a read). */
  async describe(who: Principal, sql: string): Promise<ColumnInfo[]> {
    const { session, views } = await this.check(who, sql);
    await session.refresh(views);
    return session.describe(sql);
  }

  /** Parses and checks a statement as `query` does; refusals are audited and thrown. */
  private async check(who: Principal, sql: string) {
    const session = await this.session(who.persona);
    const hash = queryHash(sql);
    const deny = async (e: unknown, resource: string): Promise<never> => {
      if (e instanceof FinmeshError && (e.code === 'PERMISSION' || e.code === 'NOT_FOUND')) {
        await this.audit.append({
          kind: 'decision',
          actor: who.persona,
          principal: who.principal,
          action: 'query',
          resource,
          outcome: 'deny',
          details: { via: who.via, queryHash: hash, reason: e.message },
        });
        throw new FinmeshError(e.code, `persona "${who.persona}" ${e.message}`, { cause: e });
      }
      throw e;
    };
    const parsed = await session.engine.parse(sql);
    if (parsed.error) {
      if (parsed.error.kind === 'syntax') throw new FinmeshError('QUERY_INVALID', `the query does not parse: ${parsed.error.message}`);
      const found = refusedStatement(sql, parsed.error);
      return deny(
        new FinmeshError('PERMISSION', `may only read (queries are read-only): only SELECT (or WITH ... SELECT) is allowed; ${found}`),
        'statement',
      );
    }
    const statement = parsed.statements[0];
    if (parsed.statements.length !== 1 || !statement) {
      throw new FinmeshError('QUERY_INVALID', `expected exactly one statement, found ${parsed.statements.length}`);
    }
    let read: ReturnType<typeof guardSelect>;
    try {
      read = guardSelect(statement.ast, {
        readable: new Set(session.decisions.keys()),
        denial: (d) => (this.policy.dataset(d) ? this.policy.decide(who.persona, d).because : undefined),
        deniedColumns: (d) =>
          new Map((session.decisions.get(d)?.columns ?? []).filter((c) => c.level === 'denied').map((c) => [c.name, c.because])),
        known: () => this.policy.datasets().map((d) => d.name),
      });
    } catch (e) {
      const m = (e as Error).message;
      return deny(e, /may not read ([\w.]+)/.exec(m)?.[1] ?? /no dataset ([\w.]+)/.exec(m)?.[1] ?? 'query');
    }
    // The views to have defined before it runs: what it reads, or all the persona may read when it lists the catalog.
    const views = read.readsCatalog ? [...session.decisions.keys()] : read.datasets;
    return { session, statement, datasets: read.datasets, views, hash };
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s.catch(() => undefined))?.close();
  }

  private session(persona: string): Promise<PersonaSession> {
    this.policy.persona(persona);
    let s = this.sessions.get(persona);
    if (!s) {
      s = this.createEngine().then((engine) =>
        PersonaSession.open({
          persona,
          policy: this.policy,
          meta: this.ctx.meta,
          storage: this.ctx.storage,
          engine,
          clock: this.ctx.clock,
          catalog: this.catalog,
          tokenizationKey: () => {
            const ref = this.ctx.project.config.tokenization?.key;
            return (
              this.ctx.tokenizationKey ?? (ref ? resolveSecret(ref, this.ctx.project.root, 'finmesh.yaml: tokenization.key') : undefined)
            );
          },
        }),
      );
      s.catch(() => this.sessions.delete(persona));
      this.sessions.set(persona, s);
    }
    return s;
  }
}

/** The columns a query read per dataset (output and filters alike), from its column lineage. */
function readColumns(ast: unknown, decisions: DatasetDecision[], outputColumns: string[]): Record<string, string[]> {
  const visible = new Map(decisions.map((d) => [d.dataset, d.columns.filter((c) => c.level !== 'denied').map((c) => c.name)]));
  const out = new Map<string, Set<string>>();
  try {
    const lineage = columnLineage({
      node: ast,
      columnsOf: (d) => visible.get(d) ?? [],
      outputColumns,
      datasetId: (d) => ({ namespace: 'sql', name: d }),
    });
    for (const f of [...Object.values(lineage.fields).flatMap((x) => x.inputFields), ...(lineage.dataset ?? [])]) {
      if (!visible.has(f.name)) continue;
      const set = out.get(f.name) ?? new Set<string>();
      set.add(f.field);
      out.set(f.name, set);
    }
  } catch {
    // A shape column lineage does not follow: record every visible column, which is never less than was read.
    for (const [d, cols] of visible) out.set(d, new Set(cols));
  }
  return Object.fromEntries([...visible.keys()].map((d) => [d, [...(out.get(d) ?? [])].sort()]));
}
