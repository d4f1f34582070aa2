import Database from 'better-sqlite3';
import { FinmeshError } from '../../../core/errors.js';
import type { ChangeFeedSource, ChangePage, ChangeRecord, SourceLag } from '../change-feed-source.js';

interface OutboxRow {
  id: number;
  aggregate_id: string;
  op: string;
  event_time: number;
  payload: string;
}

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
    this.readStmt = this.db.prepare(
      'SELECT id, aggregate_id, op, event_time, payload FROM outbox WHERE aggregate = ? AND id > ? ORDER BY id LIMIT ?',
    );
  }

  async read(checkpoint: string | undefined, max: number): Promise<ChangePage> {
    const stmt = this.readStmt;
    if (!stmt) throw new Error('SqliteOutboxSource.read before open');
    const after = checkpoint === undefined ? 0 : Number(checkpoint);
    const rows = stmt.all(this.aggregate, after, max);
    const records: ChangeRecord[] = rows.map((r) => ({
      key: r.aggregate_id,
      op: r.op === 'delete' ? 'delete' : 'upsert',
      offset: r.id,
      eventTime: r.event_time,
      json: r.payload,
      checkpoint: String(r.id),
    }));
    return { records, checkpoint: records.length > 0 ? String(rows[rows.length - 1]?.id) : checkpoint };
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
