import { createHash } from 'node:crypto';
import pg from 'pg';
import { type ErrorCode, FinmeshError } from '../../core/errors.js';

/** The `query` of a pooled connection inside a transaction. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface PostgresPoolOptions {
  connectionString: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/**
 * A `pg.Pool` that speaks `FinmeshError`: every statement and transaction rethrows the driver's errors with a code, a
 * message naming the store's location (never its credentials) and the driver's error as the cause.
 */
export class PostgresPool {
  readonly location: string;
  private readonly pool: pg.Pool;
  /** The password (as written and decoded), so it can be cut out of a driver message that would ever echo it. */
  private readonly secrets: string[];
  private ending: Promise<void> | undefined;

  /** Throws `CONFIG_INVALID` when the connection string is not a `postgres://` URL. */
  constructor(options: PostgresPoolOptions) {
    this.location = locationOf(options.connectionString);
    this.secrets = passwordsOf(options.connectionString);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      // The server enforces statement_timeout; this bounds a server that stopped answering altogether.
      query_timeout: options.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      // A process that stalls inside a transaction would otherwise hold the manifest lock until TCP gives up.
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
      keepAlive: true,
      application_name: 'finmesh',
    });
    // An idle connection the server or the network dropped (Cloud SQL maintenance, NAT timeouts) is discarded by the
    // pool and replaced on next use; without a listener the event would crash the process.
    this.pool.on('error', () => undefined);
  }

  /** Runs one statement on any pooled connection (its own transaction). */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    try {
      return await this.pool.query<R>(sql, params);
    } catch (cause) {
      throw this.toError(cause);
    }
  }

  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (cause) {
      throw this.toError(cause);
    }
    // A connection that failed other than by the server's answer to a statement (reset, read timeout) may be mid-way
    // through a reply: it is destroyed, not rolled back and reused, and the server rolls back when it goes.
    let discard: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (cause) {
      if (cause instanceof pg.DatabaseError || cause instanceof FinmeshError) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          discard = e instanceof Error ? e : new Error(String(e));
        });
      } else {
        discard = cause instanceof Error ? cause : new Error(String(cause));
      }
      throw this.toError(cause);
    } finally {
      client.release(discard);
    }
  }

  /** Ends every connection. Idempotent. */
  end(): Promise<void> {
    this.ending ??= this.pool.end();
    return this.ending;
  }

  /** The driver's error as a `FinmeshError` naming this store; a `FinmeshError` passes through. */
  toError(cause: unknown): FinmeshError {
    if (cause instanceof FinmeshError) return cause;
    const code = codeFor(cause);
    return new FinmeshError(code, `PostgreSQL metadata store ${this.location}: ${this.redact(reasonOf(cause, code))}`, { cause });
  }

  private redact(text: string): string {
    return this.secrets.reduce((t, secret) => t.split(secret).join('***'), text);
  }

  private assertOpen(): void {
    // Using a store after close() is a bug in the caller, not a condition a user can act on.
    if (this.ending) throw new Error(`PostgreSQL metadata store ${this.location} used after close()`);
  }
}

/** How much longer than the server's statement timeout the client waits for any answer at all. */
const CLIENT_TIMEOUT_MARGIN_MS = 5_000;

/** A 64-bit advisory lock key for `name`, as text (pg takes bigint parameters as strings). */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

/** SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html) a user can act on. */
function codeFor(cause: unknown): ErrorCode {
  if (!(cause instanceof pg.DatabaseError)) return 'UNAVAILABLE'; // refused, reset, DNS, connect or read timeout
  const state = cause.code ?? '';
  if (state === '23505') return 'CONFLICT'; // unique_violation
  if (state === '57014' || state === '55P03') return 'TIMEOUT'; // statement_timeout, lock_not_available
  if (state.startsWith('28') || state === '42501') return 'PERMISSION'; // authentication, insufficient_privilege
  if (state.startsWith('22')) return 'DATA_INVALID'; // e.g. a NUL character jsonb cannot hold
  return 'UNAVAILABLE'; // 08 connection, 53 resources, 57P server shutdown, 3D000 no such database, …
}

function reasonOf(cause: unknown, code: ErrorCode): string {
  if (cause instanceof pg.DatabaseError) {
    const what = code === 'TIMEOUT' ? ' (the statement timed out; is another process holding a lock?)' : '';
    return `${cause.message} (SQLSTATE ${cause.code})${what}`;
  }
  const e = cause as { message?: string; code?: string; errors?: { message?: string }[] };
  // Node reports a refused connection to a name with several addresses as an AggregateError with an empty message.
  const message = e.message || e.errors?.map((x) => x.message).join('; ') || e.code || String(cause);
  return `cannot reach the server: ${message}`;
}

/**
 * `postgres://host:port/db` — where the store is, for messages — without user, password or parameters. A Unix
 * socket (Cloud SQL's `postgres://user:password@/db?host=/cloudsql/project:region:instance`) shows as the host.
 */
export function locationOf(connectionString: string): string {
  const { url, hostname } = parse(connectionString);
  const host = url.searchParams.get('host') ?? (hostname === '' ? 'localhost' : decoded(hostname));
  const port = url.searchParams.get('port') ?? (url.port || '5432');
  return `postgres://${host}:${port}/${decoded(url.pathname.replace(/^\//, ''))}`;
}

function passwordsOf(connectionString: string): string[] {
  const { url } = parse(connectionString);
  const all = [url.password, decoded(url.password), url.searchParams.get('password') ?? ''];
  return [...new Set(all)].filter((p) => p !== '');
}

/** The connection string as a URL, read as pg reads it (an empty host is allowed: the socket is then a parameter). */
function parse(connectionString: string): { url: URL; hostname: string } {
  const tries = [
    { candidate: connectionString, empty: false },
    { candidate: connectionString.replace('@/', '@localhost/'), empty: true },
  ];
  for (const { candidate, empty } of tries) {
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      // No cause kept, ever: the parser's error carries the input, password included.
      continue;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new FinmeshError('CONFIG_INVALID', `metadata connection: expected a postgres:// URL, found a ${url.protocol}// one`);
    }
    return { url, hostname: empty ? '' : url.hostname };
  }
  throw new FinmeshError(
    'CONFIG_INVALID',
    'metadata connection: expected a postgres://user:password@host:port/database URL, found something else',
  );
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
