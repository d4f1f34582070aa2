import { datasetKey } from '../config/project.js';
import type { Clock } from '../core/clock.js';
import { FinmeshError } from '../core/errors.js';
import type { ColumnInfo, Engine, QueryResult } from '../engine/engine.js';
import { describeProcess, LakeReaderSession } from '../lake/reader-session.js';
import { landingListing } from '../lake/session.js';
import type { LakeStorage } from '../lake/storage.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { AccessPolicy, DatasetDecision } from './access.js';

export interface PersonaSessionOptions {
  persona: string;
  policy: AccessPolicy;
  meta: MetadataStore;
  storage: LakeStorage;
  /** A fresh engine of the project's kind, owned by the session from now on. */
  engine: Engine;
  clock: Clock;
  /** The tokenisation key, asked for only when the persona sees a column tokenised. */
  tokenizationKey: () => string | undefined;
  /**
   * `whole` (the default): every dataset the persona may read is a view from the start, so the engine's catalog
   * lists them (the SQL endpoint, `\\dv`); `as-read`: a view is defined when a statement first reads its dataset (a
   * one-statement CLI query does not pay for the catalog).
   */
  catalog?: 'whole' | 'as-read';
}

/**
 * One persona's own engine session: it holds exactly the datasets the persona may read, each a view that masks,
 * tokenises or leaves out columns by classification and keeps only the rows the persona's filters allow. Masking
 * happens in the engine, in the view, before any row leaves it; and because nothing else is defined in the session,
 * the engine's own catalog (`information_schema`, `pg_catalog`) lists only what the persona may see. The engine is
 * sandboxed to the lake's folders with its configuration locked.
 *
 * Views follow the lake: `refresh` redefines a view when its dataset's files changed. The session registers as a
 * reader of the lake of its own, so garbage collection keeps the files its views list.
 */
export class PersonaSession {
  readonly decisions: Map<string, DatasetDecision>;
  private readonly versions = new Map<string, string>();
  private readonly reader: LakeReaderSession;
  private refreshing: Promise<void> | undefined;
  private running: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly o: PersonaSessionOptions,
    readonly engine: Engine,
  ) {
    this.decisions = new Map(
      o.policy
        .datasets()
        .map((d) => o.policy.decide(o.persona, d.name))
        .filter((d) => d.allowed)
        .map((d) => [d.dataset, d]),
    );
    this.reader = new LakeReaderSession({ readers: o.meta.readers, clock: o.clock, process: `${describeProcess()} persona ${o.persona}` });
  }

  static async open(o: PersonaSessionOptions): Promise<PersonaSession> {
    const s = new PersonaSession(o, o.engine);
    try {
      const tokenised = [...s.decisions.values()].some((d) => d.columns.some((c) => c.level === 'tokenised'));
      const key = tokenised ? o.tokenizationKey() : undefined;
      if (tokenised && !key) {
        throw new FinmeshError(
          'CONFIG_INVALID',
          `persona "${o.persona}" sees columns tokenised, which needs the tokenisation key (finmesh.yaml tokenization.key)`,
        );
      }
      await o.engine.installMacros({ tokenizationKey: key });
      if (o.catalog !== 'as-read') await s.refresh([]);
      await o.engine.sandbox(o.storage.readableRoots());
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  get persona(): string {
    return this.o.persona;
  }

  /**
   * Redefines the views whose datasets changed since they were defined (one metadata query when none did): all the
   * persona may read, or with `catalog: 'as-read'` those of `datasets` (the dataset names a statement reads).
   */
  async refresh(datasets: Iterable<string>): Promise<void> {
    const wanted = this.o.catalog === 'as-read' ? [...datasets] : [...this.decisions.keys()];
    if (wanted.length === 0) return;
    // One refresh at a time: a second waits for the first, then refreshes what it still needs.
    while (this.refreshing) await this.refreshing.catch(() => undefined);
    this.refreshing = this.doRefresh(wanted).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(datasets: string[]): Promise<void> {
    const summaries = new Map((await this.o.meta.manifest.summaries()).map((s) => [s.dataset, s]));
    for (const name of datasets) {
      const d = this.decisions.get(name);
      if (!d) continue;
      const info = this.o.policy.dataset(d.dataset);
      if (!info) continue;
      const key = datasetKey(info.ref);
      const s = summaries.get(key);
      const version = s ? `${s.files}:${s.lastCommitAt.getTime()}:${s.rows}` : 'empty';
      if (this.versions.get(d.dataset) === version) continue;
      if (info.product?.materialized === 'view') {
        throw new FinmeshError(
          'NOT_SUPPORTED',
          `${d.dataset} is materialised as a view, which governed sessions cannot serve yet: materialise it as a table`,
        );
      }
      await this.reader.define(key, async () => {
        const live = await this.o.meta.manifest.liveFiles(key);
        // Landing holds files as received, not rows: the persona's view lists them (LANDING_COLUMNS), a row a file.
        const relation =
          info.kind === 'landing'
            ? live.length > 0
              ? `(${landingListing(this.o.engine.dialect, live)})`
              : undefined
            : live.length > 0
              ? this.o.engine.dialect.readParquet(live.map((f) => this.o.storage.readPath(f.key)))
              : undefined;
        const stored = info.kind === 'landing' ? undefined : (await this.o.meta.manifest.state(key))?.schema;
        await this.o.engine.defineView(`${info.ref.domain}_${info.ref.zone}`, info.ref.name, this.viewSql(d, relation, stored));
      });
      this.versions.set(d.dataset, version);
    }
  }

  /**
   * The persona's view of a dataset: columns masked by level, rows filtered, over `relation` (exactly its live files;
   * undefined when it has none, an empty relation of its declared columns).
   */
  private viewSql(d: DatasetDecision, live: string | undefined, stored: ColumnInfo[] | undefined): string {
    const dialect = this.o.engine.dialect;
    const q = (n: string) => dialect.quoteIdent(n);
    const byName = new Map(d.columns.map((c) => [c.name, c]));
    // The files' own schema when known (what the engine reads), else the declared one; a column the files lack reads as NULL.
    const present = new Set((stored ?? []).map((c) => c.name));
    const relation = live ?? `(SELECT ${d.columns.map((c) => `${dialect.cast('NULL', c.type)} AS ${q(c.name)}`).join(', ')} WHERE false)`;
    const select = d.columns
      .filter((c) => c.level !== 'denied')
      .map((c) => {
        const col = live === undefined || !stored || present.has(c.name) ? `src.${q(c.name)}` : dialect.cast('NULL', c.type);
        const value =
          c.level === 'clear'
            ? col
            : c.level === 'tokenised'
              ? dialect.tokenize(col)
              : dialect.mask(col, byName.get(c.name)?.type ?? 'VARCHAR', c.rule ?? 'null');
        return `${value} AS ${q(c.name)}`;
      });
    if (select.length === 0) select.push(`${dialect.cast('NULL', 'VARCHAR')} AS ${q('_no_readable_columns')}`);
    const where = d.rowFilters.length > 0 ? ` WHERE ${d.rowFilters.map((f) => `(${f.where})`).join(' AND ')}` : '';
    return `SELECT ${select.join(', ')} FROM ${relation} AS src${where}`;
  }

  /**
   * Runs a checked SELECT in the session, one at a time (so a timeout cancels this statement, not another's): at most
   * `rowLimit` rows (0: no limit), cancelled after `timeoutMs` (0: never) with `TIMEOUT`.
   */
  run(sql: string, limits: { rowLimit: number; timeoutMs: number }): Promise<QueryResult & { truncated: boolean }> {
    const next = this.running.then(async () => {
      const body = sql.replace(/;\s*$/, '');
      const wrapped = limits.rowLimit > 0 ? `SELECT * FROM (\n${body}\n) AS finmesh_governed LIMIT ${limits.rowLimit + 1}` : body;
      let timedOut = false;
      const timer =
        limits.timeoutMs > 0
          ? setTimeout(() => {
              timedOut = true;
              this.engine.interrupt();
            }, limits.timeoutMs)
          : undefined;
      try {
        const r = await this.engine.query(wrapped);
        const truncated = limits.rowLimit > 0 && r.rows.length > limits.rowLimit;
        return { ...r, rows: truncated ? r.rows.slice(0, limits.rowLimit) : r.rows, truncated };
      } catch (e) {
        if (timedOut)
          throw new FinmeshError('TIMEOUT', `the query ran longer than the statement timeout (${limits.timeoutMs} ms) and was cancelled`);
        throw e;
      } finally {
        clearTimeout(timer);
      }
    });
    this.running = next.catch(() => undefined);
    return next;
  }

  /** The columns a checked SELECT would return, without running it. */
  describe(sql: string): Promise<ColumnInfo[]> {
    const next = this.running.then(() => this.engine.describe(sql.replace(/;\s*$/, '')));
    this.running = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.running;
    await this.refreshing?.catch(() => undefined);
    await this.reader.close();
    await this.engine.close();
  }
}
