import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { PostgresConnection, type State } from 'pg-gateway';
import { BufferReader } from 'pg-protocol/dist/buffer-reader';
import { Writer } from 'pg-protocol/dist/buffer-writer';
import type { Logger } from 'pino';
import { FinmeshError } from '../core/errors.js';
import type { ColumnInfo } from '../engine/engine.js';
import type { Identity } from './authentication.js';
import type { Enforcer, Principal } from './enforcement.js';

/** What the endpoint needs of a serving process: credentials checked, and the enforcement point in force. */
export interface PgGovernance {
  authenticate(token: string | undefined): Promise<Identity>;
  enforcer(): Promise<Enforcer>;
}

export interface PgEndpointOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  governance: PgGovernance;
  /** PEM certificate and key. Without them the endpoint listens only on loopback (the password is a token). */
  tls?: { cert: string; key: string } | undefined;
  rowLimit: number;
  statementTimeoutMs: number;
  log: Logger;
}

export interface PgEndpoint {
  port: number;
  close(): Promise<void>;
}

/** The version announced to clients: PostgreSQL 16's protocol and catalog conventions, as far as DuckDB's catalog goes. */
export const SERVER_VERSION = '16.0 (finmesh)';

/**
 * The governed SQL endpoint: PostgreSQL's wire protocol (v3, simple and extended query), so BI tools, `psql`, JDBC
 * and ODBC drivers read data products as a persona. The password is an API token (or an OIDC token); every statement
 * goes through the enforcement point (`Enforcer.query`): read-only, masked, filtered, audited, with a row limit and a
 * statement timeout. The engine's own catalog answers `information_schema` and `pg_catalog`, and the persona's
 * session holds only what it may read, so tools list exactly the persona's products.
 *
 * pg-gateway does the framing, the TLS upgrade and the startup message; finmesh answers the password itself (so the
 * session's parameters come before the first ReadyForQuery) and the queries.
 */
export async function startPgEndpoint(o: PgEndpointOptions): Promise<PgEndpoint> {
  const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(o.host);
  if (!o.tls && !loopback) {
    throw new FinmeshError(
      'CONFIG_INVALID',
      `the SQL endpoint on ${o.host} needs TLS (finmesh.yaml server.sql.tls: cert and key), since clients send their token as the password`,
    );
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    new PgSession(socket, o);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new FinmeshError(
          cause.code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE',
          `the SQL endpoint cannot listen on ${o.host}:${o.port}`,
          {
            cause,
          },
        ),
      ),
    );
    server.listen(o.port, o.host, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : o.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Prepared {
  sql: string;
  params: number;
}

interface Portal {
  sql: string;
  command: Command | undefined;
  result: { columns: ColumnInfo[]; rows: Record<string, unknown>[] } | undefined;
  sent: number;
  /** Result format codes asked for: finmesh answers in text, so binary is refused. */
  binary: boolean;
}

/** A statement the endpoint answers itself: session settings and transactions, which change nothing here. */
interface Command {
  tag: string;
  rows?: { columns: ColumnInfo[]; rows: Record<string, unknown>[] } | undefined;
  transaction?: 'idle' | 'transaction' | undefined;
}

/**
 * pg-gateway 0.2.4 cuts every message but the first of a received chunk at the wrong offset (`subarray(start,
 * length)`), so pipelined extended-query messages (Parse, Bind, Describe, Execute, Sync in one packet, as psycopg and
 * JDBC send them) arrive empty. This framing replaces its `handleData`: messages are cut at their own offsets, and
 * chunks are handled one after another.
 */
class FramedConnection extends PostgresConnection {
  private pending: Buffer = Buffer.alloc(0);
  private chain: Promise<void> = Promise.resolve();

  override handleData(data: Buffer): Promise<void> {
    this.chain = this.chain
      .then(() => this.frame(data))
      .catch(() => {
        this.socket.destroy();
      });
    return this.chain;
  }

  private async frame(data: Buffer): Promise<void> {
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    let offset = 0;
    for (;;) {
      const header = this.hasStarted ? 1 : 0;
      if (this.pending.length - offset < header + 4) break;
      const total = header + this.pending.readUInt32BE(offset + header);
      if (this.pending.length - offset < total) break;
      const message = this.pending.subarray(offset, offset + total);
      offset += total;
      await this.handleMessage(message);
    }
    this.pending = this.pending.subarray(offset);
  }
}

class PgSession {
  private readonly conn: PostgresConnection;
  private identity: Identity | undefined;
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  private failed = false;
  private transaction: 'idle' | 'transaction' = 'idle';
  private readonly settings = new Map<string, string>();

  constructor(
    socket: Socket,
    private readonly o: PgEndpointOptions,
  ) {
    this.conn = new FramedConnection(socket, {
      serverVersion: SERVER_VERSION,
      authMode: 'cleartextPassword',
      ...(o.tls ? { tls: { cert: Buffer.from(o.tls.cert), key: Buffer.from(o.tls.key) } } : {}),
      // A client that vanishes mid-TLS (reset, killed) must not take the server down with an unhandled 'error'.
      onTlsUpgrade: () => {
        this.conn.secureSocket?.on('error', () => undefined);
      },
      onStartup: (state) => this.onStartup(state),
      onMessage: (data, state) => this.onMessage(Buffer.from(data), state),
    });
  }

  private onStartup(state: State): boolean {
    if (this.o.tls && !state.tlsInfo) {
      this.conn.sendError({ severity: 'FATAL', code: '28000', message: 'this endpoint requires TLS: connect with sslmode=require' });
      this.conn.socket.end();
      return true;
    }
    for (const [k, v] of Object.entries(state.clientInfo?.parameters ?? {})) this.settings.set(k.toLowerCase(), v);
    return false;
  }

  private async onMessage(data: Buffer, state: State): Promise<boolean> {
    if (!state.hasStarted) return false;
    const type = String.fromCharCode(data[0] ?? 0);
    const reader = new BufferReader();
    reader.setBuffer(5, data);
    try {
      if (!state.isAuthenticated) {
        if (type !== 'p') return false;
        await this.login(reader.cstring());
        return true;
      }
      if (this.failed && type !== 'S' && type !== 'X') return true; // extended query: skip to Sync after an error
      switch (type) {
        case 'Q':
          await this.simpleQuery(reader.cstring());
          return true;
        case 'P': {
          const name = reader.cstring();
          const sql = reader.cstring();
          this.statements.set(name, { sql, params: countParams(sql) });
          this.send(this.writer().flush(0x31));
          return true;
        }
        case 'B':
          this.bind(reader);
          return true;
        case 'D':
          await this.describe(reader.string(1), reader.cstring());
          return true;
        case 'E':
          await this.execute(reader.cstring(), reader.int32());
          return true;
        case 'C': {
          const kind = reader.string(1);
          const name = reader.cstring();
          if (kind === 'S') this.statements.delete(name);
          else this.portals.delete(name);
          this.send(this.writer().flush(0x33));
          return true;
        }
        case 'S':
          this.failed = false;
          this.portals.delete('');
          this.conn.sendReadyForQuery(this.transaction);
          return true;
        case 'H':
          return true;
        case 'X':
          this.conn.socket.end();
          return true;
        default:
          throw new FinmeshError(
            'NOT_SUPPORTED',
            `the ${type} message is not supported: the endpoint is read-only (no COPY, no function calls)`,
          );
      }
    } catch (e) {
      this.error(e);
      if (type === 'Q') this.conn.sendReadyForQuery(this.transaction);
      else this.failed = true;
      return true;
    }
  }

  private async login(password: string): Promise<void> {
    try {
      this.identity = await this.o.governance.authenticate(password || undefined);
    } catch (e) {
      const message =
        e instanceof FinmeshError && e.code === 'PERMISSION'
          ? e.message
          : `password authentication failed for user "${this.settings.get('user') ?? ''}": the password is an API token of governance/access.yaml${e instanceof FinmeshError ? ` (${e.message})` : ''}`;
      this.conn.sendError({ severity: 'FATAL', code: '28P01', message });
      this.conn.socket.end();
      return;
    }
    this.conn.isAuthenticated = true;
    this.conn.sendAuthenticationOk();
    const params: [string, string][] = [
      ['server_version', SERVER_VERSION],
      ['server_encoding', 'UTF8'],
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO, MDY'],
      ['IntervalStyle', 'postgres'],
      ['TimeZone', 'UTC'],
      ['integer_datetimes', 'on'],
      ['standard_conforming_strings', 'on'],
      ['is_superuser', 'off'],
      ['default_transaction_read_only', 'on'],
      ['in_hot_standby', 'off'],
      ['application_name', this.settings.get('application_name') ?? ''],
      ['session_authorization', this.identity.persona],
    ];
    for (const [k, v] of params) this.conn.sendParameterStatus(k, v);
    this.send(
      this.writer()
        .addInt32(randomInt(1, 2 ** 31 - 1))
        .addInt32(randomInt(1, 2 ** 31 - 1))
        .flush(0x4b),
    );
    this.conn.sendReadyForQuery('idle');
  }

  private async simpleQuery(sql: string): Promise<void> {
    if (sql.trim().replace(/;+\s*$/, '') === '') {
      this.send(this.writer().flush(0x49));
      this.conn.sendReadyForQuery(this.transaction);
      return;
    }
    const command = this.command(sql);
    const result = command?.rows ?? (command ? undefined : await this.run(catalogCompat(sql)));
    if (result) {
      this.rowDescription(result.columns, false);
      for (const row of result.rows) this.dataRow(result.columns, row);
    }
    this.complete(command?.tag ?? `SELECT ${result?.rows.length ?? 0}`);
    this.conn.sendReadyForQuery(this.transaction);
  }

  private bind(reader: BufferReader): void {
    const portal = reader.cstring();
    const name = reader.cstring();
    const statement = this.statements.get(name);
    if (!statement) throw new FinmeshError('NOT_FOUND', `no prepared statement "${name}"`);
    const formats = Array.from({ length: reader.int16() }, () => reader.int16());
    const values: (string | null)[] = [];
    const n = reader.int16();
    for (let i = 0; i < n; i++) {
      const len = reader.int32();
      if (len < 0) values.push(null);
      else {
        const format = formats.length === 1 ? formats[0] : formats[i];
        if (format === 1) throw new FinmeshError('NOT_SUPPORTED', 'binary parameters are not supported: send parameters as text');
        values.push(reader.string(len));
      }
    }
    const resultFormats = Array.from({ length: reader.int16() }, () => reader.int16());
    const sql = catalogCompat(substituteParams(statement.sql, values));
    this.portals.set(portal, { sql, command: this.command(sql), result: undefined, sent: 0, binary: resultFormats.includes(1) });
    this.send(this.writer().flush(0x32));
  }

  private async describe(kind: string, name: string): Promise<void> {
    if (kind === 'S') {
      const statement = this.statements.get(name);
      if (!statement) throw new FinmeshError('NOT_FOUND', `no prepared statement "${name}"`);
      const w = this.writer().addInt16(statement.params);
      for (let i = 0; i < statement.params; i++) w.addInt32(0);
      this.send(w.flush(0x74));
      const sql = catalogCompat(
        substituteParams(
          statement.sql,
          Array.from({ length: statement.params }, () => null),
        ),
      );
      const command = this.command(sql);
      const columns = command ? command.rows?.columns : (await this.run(sql, 0)).columns;
      if (columns) this.rowDescription(columns, false);
      else this.send(this.writer().flush(0x6e));
      return;
    }
    const portal = this.portals.get(name);
    if (!portal) throw new FinmeshError('NOT_FOUND', `no portal "${name}"`);
    if (portal.binary)
      throw new FinmeshError('NOT_SUPPORTED', 'binary results are not supported: use text transfer (JDBC: binaryTransfer=false)');
    const columns = portal.command ? portal.command.rows?.columns : (await this.portalResult(portal)).columns;
    if (columns) this.rowDescription(columns, false);
    else this.send(this.writer().flush(0x6e));
  }

  private async execute(name: string, maxRows: number): Promise<void> {
    const portal = this.portals.get(name);
    if (!portal) throw new FinmeshError('NOT_FOUND', `no portal "${name}"`);
    if (portal.command && !portal.command.rows) {
      this.complete(portal.command.tag);
      return;
    }
    const result = portal.command?.rows ?? (await this.portalResult(portal));
    const end = maxRows > 0 ? Math.min(result.rows.length, portal.sent + maxRows) : result.rows.length;
    for (let i = portal.sent; i < end; i++) this.dataRow(result.columns, result.rows[i] as Record<string, unknown>);
    portal.sent = end;
    if (end < result.rows.length) this.send(this.writer().flush(0x73));
    else this.complete(portal.command?.tag ?? `SELECT ${result.rows.length}`);
  }

  private async portalResult(portal: Portal): Promise<{ columns: ColumnInfo[]; rows: Record<string, unknown>[] }> {
    portal.result ??= await this.run(portal.sql);
    return portal.result;
  }

  private async run(sql: string, rowLimit = this.o.rowLimit): Promise<{ columns: ColumnInfo[]; rows: Record<string, unknown>[] }> {
    const who: Principal = { persona: this.identity?.persona ?? '', principal: this.identity?.principal ?? '', via: 'pg' };
    const enforcer = await this.o.governance.enforcer();
    if (rowLimit === 0) {
      // Describe without reading: the columns of the statement, no rows (and no read in the audit log).
      return { columns: await enforcer.describe(who, sql), rows: [] };
    }
    const result = await enforcer.query(who, sql, { rowLimit, timeoutMs: this.o.statementTimeoutMs });
    if (result.truncated) this.notice(`the result was cut at ${rowLimit} rows (server.sql.rowLimit)`);
    return result;
  }

  /** Statements answered without the engine: session settings, transactions, SHOW. Undefined for anything else. */
  private command(sql: string): Command | undefined {
    const text = sql.trim().replace(/;+\s*$/, '');
    const set = /^SET\s+(?:SESSION\s+|LOCAL\s+)?([\w.]+)\s*(?:=|TO)\s*(.+)$/is.exec(text);
    if (set?.[1] && set[2]) {
      this.settings.set(set[1].toLowerCase(), set[2].trim().replace(/^'(.*)'$/s, '$1'));
      return { tag: 'SET' };
    }
    if (/^SET\s+/i.test(text)) return { tag: 'SET' };
    if (/^(BEGIN|START\s+TRANSACTION)\b/i.test(text)) {
      if (/READ\s+WRITE/i.test(text)) throw new FinmeshError('PERMISSION', 'may only read: the endpoint is read-only');
      this.transaction = 'transaction';
      return { tag: 'BEGIN' };
    }
    if (/^(COMMIT|END|ROLLBACK|ABORT)\b/i.test(text)) {
      this.transaction = 'idle';
      return { tag: /^(ROLLBACK|ABORT)/i.test(text) ? 'ROLLBACK' : 'COMMIT' };
    }
    if (/^DISCARD\s+ALL$/i.test(text)) return { tag: 'DISCARD ALL' };
    if (/^(DEALLOCATE|RESET|CLOSE)\b/i.test(text)) return { tag: text.split(/\s+/)[0]?.toUpperCase() ?? 'RESET' };
    const show = /^SHOW\s+([\w.]+)$/i.exec(text);
    if (show?.[1]) {
      const name = show[1].toLowerCase();
      const known: Record<string, string> = {
        server_version: SERVER_VERSION,
        server_encoding: 'UTF8',
        client_encoding: 'UTF8',
        datestyle: 'ISO, MDY',
        timezone: 'UTC',
        transaction_isolation: 'read committed',
        'transaction isolation level': 'read committed',
        standard_conforming_strings: 'on',
        default_transaction_read_only: 'on',
        transaction_read_only: 'on',
        search_path: '"$user", public',
        max_identifier_length: '63',
      };
      const value = this.settings.get(name) ?? known[name] ?? '';
      return { tag: 'SHOW', rows: { columns: [{ name, type: 'VARCHAR' }], rows: [{ [name]: value }] } };
    }
    return undefined;
  }

  private rowDescription(columns: ColumnInfo[], binary: boolean): void {
    const w = this.writer().addInt16(columns.length);
    for (const c of columns) {
      const { oid, size } = pgType(c.type);
      w.addCString(c.name)
        .addInt32(0)
        .addInt16(0)
        .addInt32(oid)
        .addInt16(size)
        .addInt32(-1)
        .addInt16(binary ? 1 : 0);
    }
    this.send(w.flush(0x54));
  }

  private dataRow(columns: ColumnInfo[], row: Record<string, unknown>): void {
    const w = this.writer().addInt16(columns.length);
    for (const c of columns) {
      const text = pgText(row[c.name]);
      if (text === null) w.addInt32(-1);
      else {
        const bytes = Buffer.from(text, 'utf8');
        w.addInt32(bytes.length).add(bytes);
      }
    }
    this.send(w.flush(0x44));
  }

  private complete(tag: string): void {
    this.send(this.writer().addCString(tag).flush(0x43));
  }

  private notice(message: string): void {
    const w = this.writer();
    for (const [field, value] of [
      ['S', 'NOTICE'],
      ['V', 'NOTICE'],
      ['C', '01000'],
      ['M', message],
    ] as const)
      w.addString(field).addCString(value);
    this.send(w.addCString('').flush(0x4e));
  }

  private error(e: unknown): void {
    if (e instanceof FinmeshError) {
      this.conn.sendError({ severity: 'ERROR', code: SQLSTATE[e.code] ?? 'XX000', message: e.message });
      return;
    }
    this.o.log.error({ err_message: e instanceof Error ? e.message : String(e) }, 'SQL endpoint: unexpected error');
    this.conn.sendError({ severity: 'ERROR', code: 'XX000', message: 'internal error' });
  }

  private writer(): Writer {
    return new Writer();
  }

  private send(data: Buffer): void {
    this.conn.sendData(data);
  }
}

/** SQLSTATE codes of finmesh's errors: a BI tool shows them beside the message. */
const SQLSTATE: Partial<Record<string, string>> = {
  PERMISSION: '42501',
  UNAUTHENTICATED: '28000',
  NOT_FOUND: '42P01',
  QUERY_INVALID: '42601',
  TIMEOUT: '57014',
  NOT_SUPPORTED: '0A000',
  CONFIG_INVALID: '22023',
  UNAVAILABLE: '57P03',
  DATA_INVALID: '22000',
};

/** The PostgreSQL type (oid, size) a DuckDB column is described as; anything composite travels as text (JSON). */
export function pgType(duckType: string): { oid: number; size: number } {
  const t = duckType.toUpperCase();
  if (t === 'BOOLEAN') return { oid: 16, size: 1 };
  if (t === 'BIGINT') return { oid: 20, size: 8 };
  if (t === 'INTEGER') return { oid: 23, size: 4 };
  if (t === 'SMALLINT' || t === 'TINYINT' || t === 'UTINYINT') return { oid: 21, size: 2 };
  if (t === 'USMALLINT') return { oid: 23, size: 4 };
  if (t === 'UINTEGER') return { oid: 20, size: 8 };
  if (t === 'DOUBLE') return { oid: 701, size: 8 };
  if (t === 'FLOAT' || t === 'REAL') return { oid: 700, size: 4 };
  if (t.startsWith('DECIMAL') || t === 'HUGEINT' || t === 'UBIGINT' || t === 'UHUGEINT') return { oid: 1700, size: -1 };
  if (t === 'DATE') return { oid: 1082, size: 4 };
  if (t === 'TIMESTAMP' || t.startsWith('TIMESTAMP_')) return { oid: 1114, size: 8 };
  if (t === 'TIMESTAMP WITH TIME ZONE') return { oid: 1184, size: 8 };
  if (t === 'TIME') return { oid: 1083, size: 8 };
  if (t === 'UUID') return { oid: 2950, size: 16 };
  if (t === 'BLOB') return { oid: 17, size: -1 };
  return { oid: 25, size: -1 };
}

function pgText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * PostgreSQL catalog idioms that DuckDB's `pg_catalog` lacks, in the queries BI tools and drivers send on connect
 * (JDBC's `getTables`, psql's `\dt`): `'pg_class'::regclass` is pg_class's oid, and every object is owned by finmesh.
 */
export function catalogCompat(sql: string): string {
  if (!/pg_catalog|regclass|pg_get_userbyid/i.test(sql)) return sql;
  return forEachCode(sql, (code) =>
    code
      .replace(/(?:pg_catalog\.)?pg_get_userbyid\s*\([^()]*\)/gi, "'finmesh'")
      .replace(/OPERATOR\s*\(\s*pg_catalog\.(~|!~|~~|!~~)\s*\)/gi, ' $1 ')
      .replace(/COLLATE\s+pg_catalog\.default/gi, ''),
  ).replace(/'pg_class'::regclass/gi, '1259');
}

/** How many `$n` parameters a statement has (the highest n outside string literals and quoted names). */
export function countParams(sql: string): number {
  let max = 0;
  forEachCode(sql, (code) => {
    for (const m of code.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
    return code;
  });
  return max;
}

/**
 * The statement with `$n` replaced by its value as an SQL literal (NULL for null): the enforcement point then checks
 * the statement as it will run, literals included.
 */
export function substituteParams(sql: string, values: (string | null)[]): string {
  if (values.length === 0) return sql;
  return forEachCode(sql, (code) =>
    code.replace(/\$(\d+)/g, (whole, n: string) => {
      const i = Number(n) - 1;
      if (i >= values.length) return whole;
      const v = values[i];
      return v === null || v === undefined ? 'NULL' : `'${v.replaceAll("'", "''")}'`;
    }),
  );
}

/** Applies `fn` to the parts of `sql` outside '…' literals, "…" names and comments. */
function forEachCode(sql: string, fn: (code: string) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const m = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\//.exec(rest);
    if (!m) {
      out += fn(rest);
      break;
    }
    out += fn(rest.slice(0, m.index)) + m[0];
    i += m.index + m[0].length;
  }
  return out;
}
