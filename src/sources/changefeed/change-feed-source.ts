/**
 * A change feed: the ordered changes a transactional database made, read from a checkpoint.
 *
 * Contract: `read` returns changes strictly after `checkpoint` in source order, at most `max` of them, and the
 * checkpoint that follows the last one returned. It never skips a change; it may return one again after a restart
 * (at-least-once), which is why every record carries its source version for deduplication downstream.
 * An empty page means "nothing new now" — a value, not an error.
 */
export interface ChangeFeedSource {
  readonly kind: string;
  /**
   * Opens connections, creates the slot or leases it needs. Idempotent. `checkpoint` is the last committed one
   * (undefined on a first start), which tells a source whether it still owes an initial snapshot.
   */
  open(checkpoint?: string): Promise<void>;
  /** Reads the next page after `checkpoint` (`undefined`: from the feed's start). */
  read(checkpoint: string | undefined, max: number): Promise<ChangePage>;
  /** The feed's current end: reading up to it means caught up. Undefined when the source cannot tell. */
  head(): Promise<string | undefined>;
  /** True when `a` is at or after `b` (checkpoints are opaque strings, ordered by the source). */
  reached(a: string | undefined, b: string | undefined): boolean;
  /** Tells the source everything up to `checkpoint` is committed downstream (a slot may release WAL). */
  acknowledge(checkpoint: string): Promise<void>;
  /** How far behind the head a checkpoint is, in records or bytes when the source knows. */
  lag(checkpoint: string | undefined): Promise<SourceLag>;
  close(): Promise<void>;
}

export interface ChangePage {
  records: ChangeRecord[];
  /** The checkpoint after the last record (equal to the input when the page is empty). */
  checkpoint: string | undefined;
}

export const CHANGE_OPS = ['upsert', 'delete'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

export interface ChangeRecord {
  /** Business key (the document id). */
  key: string;
  op: ChangeOp;
  /** A number increasing along the feed (outbox id, WAL LSN, page sequence): names bronze files. */
  offset: number;
  /** When the change happened at the source (epoch ms). */
  eventTime: number;
  /** The document (or, for a delete, at least its key fields) as JSON text on one line (an object). */
  json: string;
  /** The checkpoint right after this record. */
  checkpoint: string;
}

export interface SourceLag {
  records?: number | undefined;
  bytes?: number | undefined;
}
