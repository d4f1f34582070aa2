import { createHash } from 'node:crypto';
import { bronzeLine } from '../lake/bronze-writer.js';
import type { ChangeLines, ChangeRecord } from '../sources/changefeed/change-feed-source.js';

/**
 * Change records on the bus, a page at a time: one message (or a few, under the bus's size limit) per page. A
 * message is a header line — JSON with what the lake writer needs about its records (count, offsets, the checkpoint
 * after them, event times, an identity) — then the records themselves as the bronze NDJSON lines they become
 * (`bronzeLine`). The reader does the per-record work once; the lake writer hands the lines to the engine as they
 * came, without parsing a record. A document is one JSON line (the feed folds line breaks), so the framing is the
 * line end and no key, checkpoint or document can break it.
 */
export interface ChangeChunk {
  records: number;
  /** Lowest and highest source offset of the records. */
  firstOffset: number;
  lastOffset: number;
  /** The checkpoint after the record with the highest offset. */
  checkpoint: string;
  /** Event times (epoch ms), in record order. */
  eventTimes: number[];
  /** A hash of the records' (offset, key) pairs, in order: with the offsets it names the batch's file. */
  identity: string;
  /** The records as bronze NDJSON lines, without a final line end: text, or UTF-8 bytes as a source rendered them. */
  lines: string | Uint8Array;
  /**
   * When the stream read the records from their source (epoch ms), as the reader's clock showed it (absent from
   * messages written before the header had it). A batch closes `stream.batchMaxMs` after its first records were read, however
   * long they then waited on the bus for the lake writer.
   */
  readAt?: number | undefined;
}

interface Header {
  v: 2;
  n: number;
  first: number;
  last: number;
  checkpoint: string;
  times: number[];
  id: string;
  at?: number;
}

/** A chunk of consecutive records: its header facts and lines. */
function chunkOf(records: ChangeRecord[], from: number, to: number): ChangeChunk & { lines: string } {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let checkpoint = '';
  const n = to - from;
  const times: number[] = new Array(n);
  const lines: string[] = new Array(n);
  const offsets: number[] = new Array(n);
  const keys: string[] = new Array(n);
  for (let i = from; i < to; i++) {
    const r = records[i] as ChangeRecord;
    if (r.offset < first) first = r.offset;
    if (r.offset > last) {
      last = r.offset;
      checkpoint = r.checkpoint;
    }
    times[i - from] = r.eventTime;
    lines[i - from] = bronzeLine(r);
    offsets[i - from] = r.offset;
    keys[i - from] = r.key;
  }
  // The offsets, then the keys as JSON (so no key runs into the next): one hash input per chunk, not one per record.
  const identity = createHash('sha256').update(offsets.join(',')).update('\u0000').update(JSON.stringify(keys)).digest('hex');
  return {
    records: n,
    firstOffset: first,
    lastOffset: last,
    checkpoint,
    eventTimes: times,
    identity: identity.slice(0, 16),
    lines: lines.join('\n'),
  };
}

function encode(c: ChangeChunk & { lines: string }): string {
  const header: Header = {
    v: 2,
    n: c.records,
    first: c.firstOffset,
    last: c.lastOffset,
    checkpoint: c.checkpoint,
    times: c.eventTimes,
    id: c.identity,
    at: Date.now(),
  };
  return `${JSON.stringify(header)}\n${c.lines}`;
}

/**
 * The message of a chunk a source rendered itself (`ChangeFeedSource.readLines`): its header, then its lines' bytes
 * as they are — no record becomes a JS string on the way.
 */
export function encodeLines(c: ChangeLines): { value: Uint8Array; records: number; bytes: number } {
  const identity = createHash('sha256').update(c.offsets).update('\u0000').update(c.keys).digest('hex').slice(0, 16);
  // The event times are numbers the source wrote (`t1,t2,…`): they go into the header as they are.
  const header = `{"v":2,"n":${c.records},"first":${c.firstOffset},"last":${c.lastOffset},"checkpoint":${JSON.stringify(c.checkpoint)},"times":[${c.eventTimes}],"id":"${identity}","at":${Date.now()}}\n`;
  const head = Buffer.byteLength(header);
  const value = Buffer.allocUnsafe(head + c.lines.byteLength);
  value.write(header, 0);
  value.set(c.lines, head);
  return { value, records: c.records, bytes: value.byteLength };
}

/**
 * Packs a page into messages of at most `maxBytes` (UTF-8), in order, each with its size; a single larger record stands
 * alone. Records
 * are grouped by characters (a character is at least a byte), and a group whose bytes exceed the limit is halved.
 */
export function packMessages(records: ChangeRecord[], maxBytes: number): { value: string; records: number; bytes: number }[] {
  const out: { value: string; records: number; bytes: number }[] = [];
  const emit = (from: number, to: number) => {
    const value = encode(chunkOf(records, from, to));
    const bytes = Buffer.byteLength(value);
    if (to - from > 1 && bytes > maxBytes) {
      const mid = from + ((to - from) >> 1);
      emit(from, mid);
      emit(mid, to);
    } else out.push({ value, records: to - from, bytes });
  };
  let start = 0;
  let chars = 0;
  for (let i = 0; i < records.length; i++) {
    // The header holds ~30 characters per record (its event time and offset); the line ~25 more than the document.
    const n = (records[i] as ChangeRecord).json.length + 64;
    if (i > start && chars + n > maxBytes) {
      emit(start, i);
      start = i;
      chars = 0;
    }
    chars += n;
  }
  if (start < records.length) emit(start, records.length);
  return out;
}

/**
 * The chunk a message carries. Throws on a message that `packMessages` did not write. Messages of finmesh 0.1 (each
 * record framed by lengths: `<n>:<header JSON><m>:<document JSON>`), still on a durable bus after an upgrade, are
 * read too.
 */
export function decodeChunk(value: string | Uint8Array): ChangeChunk {
  if (typeof value !== 'string') {
    // Bytes: the header is parsed, the lines stay bytes.
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const nl = bytes.indexOf(0x0a);
    if (bytes[0] !== 0x7b) return decodeChunk(bytes.toString('utf8'));
    const header = parseHeader(bytes.toString('utf8', 0, nl < 0 ? bytes.length : nl));
    return { ...header, lines: nl < 0 ? new Uint8Array(0) : bytes.subarray(nl + 1) };
  }
  const message = value;
  if (/^[0-9]/.test(message)) {
    const records = decodeLegacy(message);
    return chunkOf(records, 0, records.length);
  }
  const nl = message.indexOf('\n');
  return { ...parseHeader(nl < 0 ? message : message.slice(0, nl)), lines: nl < 0 ? '' : message.slice(nl + 1) };
}

function parseHeader(text: string): Omit<ChangeChunk, 'lines'> {
  let header: Header;
  try {
    header = JSON.parse(text) as Header;
  } catch {
    throw new Error('not a change-record message: its first line is not a JSON header');
  }
  if (header?.v !== 2 || !Array.isArray(header.times) || header.times.length !== header.n)
    throw new Error('not a change-record message: a header without version 2, a count and event times');
  return {
    records: header.n,
    firstOffset: header.first,
    lastOffset: header.last,
    checkpoint: header.checkpoint,
    eventTimes: header.times,
    identity: header.id,
    readAt: typeof header.at === 'number' && Number.isFinite(header.at) ? header.at : undefined,
  };
}

/** A micro-batch: its chunks' facts merged, their lines one piece (text or UTF-8 bytes) per chunk. */
export type ChangeBatch = Omit<ChangeChunk, 'lines'> & { lines: (string | Uint8Array)[] };

/** Concatenates chunks' facts in order (a micro-batch): lines stay apart, one string per chunk. */
export function mergeChunks(chunks: ChangeChunk[]): ChangeBatch {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let checkpoint = '';
  let records = 0;
  const eventTimes: number[] = [];
  const h = createHash('sha256');
  for (const c of chunks) {
    records += c.records;
    if (c.firstOffset < first) first = c.firstOffset;
    if (c.lastOffset > last) {
      last = c.lastOffset;
      checkpoint = c.checkpoint;
    }
    for (const t of c.eventTimes) eventTimes.push(t);
    h.update(c.identity);
  }
  return {
    records,
    firstOffset: first,
    lastOffset: last,
    checkpoint,
    eventTimes,
    identity: h.digest('hex').slice(0, 12),
    lines: chunks.map((c) => c.lines),
  };
}

/** A batch's bronze lines one by one, in order. */
export function batchLines(batch: ChangeBatch): string[] {
  return batch.lines.flatMap((l) => {
    const text = typeof l === 'string' ? l : Buffer.from(l.buffer, l.byteOffset, l.byteLength).toString('utf8');
    return text === '' ? [] : text.split('\n');
  });
}

const OFFSET_PREFIX = '{"_offset":';

/** The source offset of a bronze line (`bronzeLine`), which starts `{"_offset":N,`. */
export function lineOffset(line: string): number {
  return Number(line.slice(OFFSET_PREFIX.length, line.indexOf(',', OFFSET_PREFIX.length)));
}

/** The document a bronze line carries, as the feed gave it: the line without its offset and operation. */
export function lineDocument(line: string): string {
  const op = line.indexOf('"_op":"', OFFSET_PREFIX.length) + 7;
  const end = line.indexOf('"', op) + 1;
  return line[end] === '}' ? '{}' : `{${line.slice(end + 1)}`;
}

function decodeLegacy(message: string): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  let i = 0;
  const take = (): string => {
    const colon = message.indexOf(':', i);
    const n = Number(message.slice(i, colon));
    if (colon < 0 || !Number.isInteger(n) || n < 0 || colon + 1 + n > message.length) {
      throw new Error(`not a change-record message: bad frame at character ${i}`);
    }
    const s = message.slice(colon + 1, colon + 1 + n);
    i = colon + 1 + n;
    return s;
  };
  while (i < message.length) {
    const [offset, op, eventTime, checkpoint, key] = JSON.parse(take()) as [number, string, number, string, string];
    out.push({ offset, op: op === 'delete' ? 'delete' : 'upsert', eventTime, checkpoint, key, json: take() });
  }
  return out;
}
