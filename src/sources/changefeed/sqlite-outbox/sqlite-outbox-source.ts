import Database from 'better-sqlite3';
import { FinmeshError } from '../../../core/errors.js';
import type { ChangeFeedSource, ChangePage, ChangeRecord, SourceLag } from '../change-feed-source.js';

/** id, aggregate_id, op, event_time, payload — read as arrays (`raw`), which costs far less than objects. */
type OutboxRow = [number, string, string, number, string];

/**
 * The embedded change feed: a transactional outbox in the app's SQLite database. The app writes each change and its
 * outbox row in one transaction, so the outbox holds exactly the committed changes, in commit order (`id`).
 * The checkpoint is the last outbox id read for this source's aggregate.
 */
export class SqliteOutboxSource implements ChangeFeedSource {
  readonly kind = 'sqlite-outbox';
  private db: Database.Database | undefined;
  private readStmt: Database.Statement<[string, number, number], OutboxRow> | undefined;

  constructor(
    private readonly path: string,
    private readonly aggregate: string,
  ) {}

  async open(): Promise<void> {
    if (this.db) return;
    try {
      this.db = new Database(this.path, { readonly: true, fileMustExist: true });
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `cannot open the app database ${this.path} (has \`finmesh generate\` written to it yet?)`, {
        cause,
      });
    }
    this.db.pragma('busy_timeout = 5000');
    this.readStmt = this.db
      .prepare<[string, number, number], OutboxRow>(
        'SELECT id, aggregate_id, op, event_time, payload FROM outbox WHERE aggregate = ? AND id > ? ORDER BY id LIMIT ?',
      )
      .raw(true);
  }

  async read(checkpoint: string | undefined, max: number): Promise<ChangePage> {
    const stmt = this.readStmt;
    if (!stmt) throw new Error('SqliteOutboxSource.read before open');
    const after = checkpoint === undefined ? 0 : Number(checkpoint);
    const rows = stmt.all(this.aggregate, after, max);
    const records: ChangeRecord[] = rows.map(([id, key, op, eventTime, json]) => ({
      key,
      op: op === 'delete' ? 'delete' : 'upsert',
      offset: id,
      eventTime,
      // Line breaks in a JSON text can only be whitespace between tokens: folding them keeps it one NDJSON line.
      json: json.includes('\n') || json.includes('\r') ? json.replace(/[\r\n]/g, ' ') : json,
      checkpoint: String(id),
    }));
    return { records, checkpoint: records.length > 0 ? records[records.length - 1]?.checkpoint : checkpoint };
  }

  async head(): Promise<string | undefined> {
    const row = this.db?.prepare('SELECT max(id) AS id FROM outbox WHERE aggregate = ?').get(this.aggregate) as
      | { id: number | null }
      | undefined;
    return row?.id === null || row?.id === undefined ? undefined : String(row.id);
  }

  reached(a: string | undefined, b: string | undefined): boolean {
    return Number(a ?? 0) >= Number(b ?? 0);
  }

  async acknowledge(): Promise<void> {
    // The outbox keeps its rows; pruning what every consumer has committed is the app's retention job.
  }

  async lag(checkpoint: string | undefined): Promise<SourceLag> {
    const row = this.db
      ?.prepare('SELECT count(*) AS n FROM outbox WHERE aggregate = ? AND id > ?')
      .get(this.aggregate, Number(checkpoint ?? 0)) as { n: number } | undefined;
    return { records: row?.n ?? 0 };
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
