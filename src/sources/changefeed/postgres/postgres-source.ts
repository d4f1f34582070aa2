import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { FinmeshError } from '../../../core/errors.js';
import type { ChangeFeedSource, ChangePage, ChangeRecord, SourceLag } from '../change-feed-source.js';

export interface PostgresSourceOptions {
  connectionString: string;
  /** `schema.table` */
  table: string;
  documentColumn: string;
  publication: string;
  slot: string;
  keyColumns: string[];
  /** Pause the replication stream when this many changes wait to be read (backpressure). */
  highWaterMark?: number;
}

/** How long connecting may take before the server is reported unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a query (snapshot page, slot set-up, lag) may run before it is reported stalled. */
const QUERY_TIMEOUT_MS = 60_000;
/**
 * How long keepalive requests (sent every 250 ms while idle) may go unanswered: a healthy server answers at once, so
 * silence this long is a server or a network that stopped answering.
 */
const REPLICATION_SILENCE_MS = 30_000;

/** The checkpoint of snapshot rows before the last: not a position, so it never moves the committed one. */
const SNAPSHOT = 'snapshot';

/** `'16/B374D848'` → 0x16B374D848, exact below 2^53 (far beyond any real WAL position). */
export function lsnToNumber(lsn: string): number {
  const [hi = '0', lo = '0'] = lsn.split('/');
  return Number.parseInt(hi, 16) * 2 ** 32 + Number.parseInt(lo, 16);
}

export function numberToLsn(n: number): string {
  const hi = Math.floor(n / 2 ** 32);
  const lo = n - hi * 2 ** 32;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

interface Pending {
  records: Omit<ChangeRecord, 'checkpoint'>[];
}

/**
 * PostgreSQL logical replication with the built-in `pgoutput` plugin. `open()` creates the publication (for the one
 * table) and the slot when they are missing. Changes are released per transaction once its commit arrives; a
 * record's checkpoint is the commit LSN of the last whole transaction up to it, so a batch cut inside a transaction
 * never acknowledges that transaction. The slot is acknowledged (WAL released) only by `acknowledge()`, after the
 * downstream commit. Deletes need `REPLICA IDENTITY FULL` for the tombstone to carry the whole row.
 */
export class PostgresSource implements ChangeFeedSource {
  readonly kind = 'postgres';
  private service: LogicalReplicationService | undefined;
  private readonly queue: ChangeRecord[] = [];
  private current: Pending | undefined;
  private lastCommit: string | undefined;
  private idleLsn: string | undefined;
  private waiters: (() => void)[] = [];
  private error: Error | undefined;
  private readonly hwm: number;
  /** The last LSN acknowledged to the slot (its confirmed_flush_lsn at open). */
  private acked = '0/0';
  private lastPing = 0;
  /** When the first keepalive request since the stream last said anything (a message, a keepalive) went out. */
  private unansweredSince: number | undefined;
  /** Initial snapshot state: pending until every row of the table has been read once. */
  private snapshot: { after: string | undefined; done: boolean; consistentLsn: string; count: number } | undefined;

  constructor(private readonly options: PostgresSourceOptions) {
    this.hwm = options.highWaterMark ?? 20_000;
  }

  async open(checkpoint?: string): Promise<void> {
    if (this.service) return;
    await this.ensurePublicationAndSlot();
    // Nothing committed yet: the slot only sees changes made after it was created, so the table's current rows are
    // read once first. Rows changed meanwhile arrive twice (snapshot and WAL); silver keeps the highest version.
    if (checkpoint === undefined) this.snapshot = { after: undefined, done: false, consistentLsn: this.acked, count: 0 };
    const service = new LogicalReplicationService(
      { connectionString: this.options.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    service.on('data', (lsn: string, msg: PgMessage) => {
      this.unansweredSince = undefined;
      this.onMessage(lsn, msg);
    });
    service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      this.unansweredSince = undefined;
      // Keepalives bypass the library's message queue: the position is idle only when nothing waits in either.
      const internal = service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
      if (!this.current && this.queue.length === 0 && (internal._messageQueue?.length ?? 0) === 0 && !internal._processing)
        this.idleLsn = lsn;
      if (shouldRespond) void service.acknowledge(this.acked).catch(() => undefined);
    });
    service.on('error', (e: Error) => {
      this.error = e;
    });
    this.service = service;
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.options.publication] });
    // subscribe() resolves only when replication ends; failures surface through `error`.
    service.subscribe(plugin, this.options.slot).catch((e: Error) => {
      this.error = e;
    });
  }

  async read(checkpoint: string | undefined, max: number): Promise<ChangePage> {
    if (this.error)
      throw new FinmeshError('UNAVAILABLE', `PostgreSQL replication for ${this.options.table}: ${this.error.message}`, {
        cause: this.error,
      });
    if (this.snapshot && !this.snapshot.done) return this.readSnapshot(max);
    const after = checkpoint === undefined ? -1 : lsnToNumber(checkpoint);
    // The slot decides where replication resumes (its confirmed_flush_lsn); `checkpoint` only orders idle positions.
    const records = this.queue.splice(0, max);
    for (const w of this.waiters.splice(0)) w();
    if (records.length > 0) return { records, checkpoint: records[records.length - 1]?.checkpoint };
    // Idle: everything up to the server's WAL end has been seen; the position may move there.
    if (this.idleLsn && (checkpoint === undefined || lsnToNumber(this.idleLsn) > after)) return { records: [], checkpoint: this.idleLsn };
    if (this.unansweredSince !== undefined && Date.now() - this.unansweredSince > REPLICATION_SILENCE_MS)
      throw new FinmeshError(
        'TIMEOUT',
        `PostgreSQL replication for ${this.options.table}: no message and no answer to keepalives for ${REPLICATION_SILENCE_MS / 1000} s; the server or the network stopped answering`,
      );
    if (Date.now() - this.lastPing > 250) {
      // Ask the server for a keepalive: it tells how far decoding has gone, which is how an idle feed catches up.
      this.lastPing = Date.now();
      this.unansweredSince ??= this.lastPing;
      await this.service?.acknowledge(this.acked, true).catch(() => undefined);
    }
    return { records: [], checkpoint };
  }

  async head(): Promise<string | undefined> {
    return this.withClient(async (c) => (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
  }

  reached(a: string | undefined, b: string | undefined): boolean {
    if (b === undefined || b === SNAPSHOT) return true;
    if (a === SNAPSHOT) return false;
    if (a === undefined) return false;
    return lsnToNumber(a) >= lsnToNumber(b);
  }

  async acknowledge(checkpoint: string): Promise<void> {
    if (lsnToNumber(checkpoint) > lsnToNumber(this.acked)) this.acked = checkpoint;
    await this.service?.acknowledge(this.acked);
  }

  async lag(): Promise<SourceLag> {
    return this.withClient(async (c) => {
      const r = await c.query<{ bytes: string | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS bytes FROM pg_replication_slots WHERE slot_name = $1',
        [this.options.slot],
      );
      const bytes = r.rows[0]?.bytes;
      return { bytes: bytes === null || bytes === undefined ? undefined : Number(bytes) };
    });
  }

  async close(): Promise<void> {
    for (const w of this.waiters.splice(0)) w();
    await this.service?.stop();
    this.service = undefined;
  }

  /** Drops the slot (and its retained WAL). For tests and decommissioning; `finmesh stream` never does this. */
  async dropSlot(): Promise<void> {
    await this.withClient((c) =>
      c.query('SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1', [this.options.slot]),
    );
  }

  /** One page of the initial snapshot, by primary key; the last row carries the slot's consistent point. */
  private async readSnapshot(max: number): Promise<ChangePage> {
    const snap = this.snapshot as NonNullable<PostgresSource['snapshot']>;
    const key = this.options.keyColumns[0] ?? 'id';
    const table = this.options.table
      .split('.')
      .map((p) => pg.escapeIdentifier(p))
      .join('.');
    const k = pg.escapeIdentifier(key);
    const rows = await this.withClient(async (c) =>
      snap.after === undefined
        ? (await c.query(`SELECT ${k} AS k, * FROM ${table} ORDER BY ${k} LIMIT $1`, [max])).rows
        : (await c.query(`SELECT ${k} AS k, * FROM ${table} WHERE ${k} > $1 ORDER BY ${k} LIMIT $2`, [snap.after, max])).rows,
    );
    if (rows.length < max) snap.done = true;
    const records: ChangeRecord[] = rows.map((row, i) => {
      const r = this.toRecord('insert', ++snap.count, row as Record<string, unknown>);
      const last = snap.done && i === rows.length - 1;
      return { ...r, checkpoint: last ? snap.consistentLsn : SNAPSHOT };
    });
    if (rows.length > 0) snap.after = String((rows[rows.length - 1] as { k: unknown }).k);
    if (snap.done && records.length === 0) return { records: [], checkpoint: snap.consistentLsn };
    return { records, checkpoint: records[records.length - 1]?.checkpoint };
  }

  private async onMessage(lsn: string, msg: PgMessage): Promise<void> {
    const [schema, table] = this.options.table.split('.');
    switch (msg.tag) {
      case 'begin':
        this.current = { records: [] };
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (msg.relation.schema !== schema || msg.relation.name !== table) return;
        const offset = lsnToNumber(lsn);
        const row = msg.tag === 'delete' ? (msg.old ?? msg.key ?? {}) : msg.new;
        const record = this.toRecord(msg.tag, offset, row);
        this.current?.records.push(record);
        return;
      }
      case 'commit': {
        const tx = this.current;
        this.current = undefined;
        const commit = msg.commitEndLsn ?? msg.commitLsn ?? lsn;
        if (!tx || tx.records.length === 0) {
          this.lastCommit = commit;
          return;
        }
        const before = this.lastCommit ?? '0/0';
        tx.records.forEach((r, i) => {
          this.queue.push({ ...r, checkpoint: i === tx.records.length - 1 ? commit : before });
        });
        this.lastCommit = commit;
        this.idleLsn = undefined;
        // Backpressure: with flow control on, awaiting here pauses the replication stream.
        while (this.queue.length >= this.hwm && this.service) await new Promise<void>((r) => this.waiters.push(r));
        return;
      }
      default:
        return;
    }
  }

  private toRecord(tag: 'insert' | 'update' | 'delete', offset: number, row: Record<string, unknown>): Omit<ChangeRecord, 'checkpoint'> {
    const raw = row[this.options.documentColumn];
    let doc: Record<string, unknown> = typeof raw === 'string' ? JSON.parse(raw) : ((raw as Record<string, unknown> | null) ?? {});
    if (tag === 'delete') {
      // A tombstone: the key, and a version one past the deleted row's so it sorts after every earlier version.
      const keys: Record<string, unknown> = {};
      for (const k of this.options.keyColumns) keys[k] = doc[k] ?? row[k];
      doc = { ...doc, ...keys, ...(typeof doc.version === 'number' ? { version: doc.version + 1 } : {}) };
    }
    const key = this.options.keyColumns.map((k) => String(doc[k] ?? row[k] ?? '')).join('|');
    const eventTime = Date.parse(String(doc.updated_at ?? doc.created_at ?? '')) || Date.now();
    return { key, op: tag === 'delete' ? 'delete' : 'upsert', offset, eventTime, json: JSON.stringify(doc) };
  }

  private async ensurePublicationAndSlot(): Promise<void> {
    const { publication, slot, table } = this.options;
    await this.withClient(async (c) => {
      const pub = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
      if (pub.rowCount === 0)
        await c.query(
          `CREATE PUBLICATION ${pg.escapeIdentifier(publication)} FOR TABLE ${table
            .split('.')
            .map((p) => pg.escapeIdentifier(p))
            .join('.')}`,
        );
      const s = await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      if (s.rowCount === 0) await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
      const confirmed = await c.query<{ lsn: string | null }>(
        'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      this.acked = confirmed.rows[0]?.lsn ?? '0/0';
    });
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    // Bounded: a server that accepts the connection and never answers fails the call instead of hanging it.
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
    });
    try {
      await client.connect();
      return await fn(client);
    } catch (cause) {
      if (cause instanceof FinmeshError) throw cause;
      throw new FinmeshError('UNAVAILABLE', `PostgreSQL (${this.options.table}): ${(cause as Error).message}`, { cause });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

type PgMessage =
  | { tag: 'begin' }
  | { tag: 'commit'; commitLsn: string | null; commitEndLsn: string | null }
  | { tag: 'insert'; relation: { schema: string; name: string }; new: Record<string, unknown> }
  | { tag: 'update'; relation: { schema: string; name: string }; new: Record<string, unknown> }
  | { tag: 'delete'; relation: { schema: string; name: string }; key: Record<string, unknown> | null; old: Record<string, unknown> | null }
  | { tag: 'relation' | 'type' | 'origin' | 'message' | 'truncate' };
