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
  /**
   * Optional, the fast path of a feed that can render its changes itself: like `read`, but the page comes as chunks
   * of bronze NDJSON lines in UTF-8 (each `{"_offset":N,"_op":"upsert"|"delete",` then the document's members, the
   * document folded onto one line — what `bronzeLine` makes of `read`'s records), each chunk's lines at most
   * `maxBytes` (a single larger change stands alone). No record becomes a JS object or string. The chunks' bytes
   * are the source's own buffer, good until the next call: a caller copies (encodes) them before it reads again.
   */
  readLines?(checkpoint: string | undefined, max: number, maxBytes: number): Promise<LinesPage>;
  /** How far behind the head a checkpoint is, in records or bytes when the source knows. */
  lag(checkpoint: string | undefined): Promise<SourceLag>;
  close(): Promise<void>;
}

export interface ChangePage {
  records: ChangeRecord[];
  /** The checkpoint after the last record (equal to the input when the page is empty). */
  checkpoint: string | undefined;
}

export interface LinesPage {
  chunks: ChangeLines[];
  /** Set instead of chunks when the source could not render this page: its records, as `read` gives them. */
  records?: ChangeRecord[] | undefined;
  /** The checkpoint after the last record (equal to the input when the page is empty). */
  checkpoint: string | undefined;
}

/** Consecutive changes rendered by their source: what a bus message of them needs, the lines as bytes. */
export interface ChangeLines {
  records: number;
  firstOffset: number;
  lastOffset: number;
  /** The checkpoint after the last change. */
  checkpoint: string;
  /** Event times (epoch ms) in order, as numbers joined by commas. */
  eventTimes: string;
  /** Offsets in order, joined by commas. */
  offsets: string;
  /** Keys in order, as a JSON array. */
  keys: string;
  /** Bronze NDJSON lines, UTF-8, one per change, without a final line end. */
  lines: Uint8Array;
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
