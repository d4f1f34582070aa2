import type { ChangeRecord } from '../sources/changefeed/change-feed-source.js';

/**
 * Change records on the bus: a page of records is one message (or a few, under the bus's size limit), each record
 * framed by lengths — `<n>:<header JSON><m>:<document JSON>` — so no key, checkpoint or document can break the
 * framing, whatever characters it holds. The header is `[offset, op, eventTime, checkpoint, key]`.
 */
export function encodeRecord(r: ChangeRecord): string {
  const header = JSON.stringify([r.offset, r.op, r.eventTime, r.checkpoint, r.key]);
  return `${header.length}:${header}${r.json.length}:${r.json}`;
}

/** The records of one message, in order. Throws on a message that was not written by `encodeRecord`. */
export function decodeRecords(message: string): ChangeRecord[] {
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

/** Packs encoded records into messages of at most `maxBytes` (UTF-8), in order; a single larger record stands alone. */
export function packMessages(records: ChangeRecord[], maxBytes: number): { value: string; records: number }[] {
  const out: { value: string; records: number }[] = [];
  let cur: string[] = [];
  let size = 0;
  for (const r of records) {
    const framed = encodeRecord(r);
    const n = Buffer.byteLength(framed);
    if (cur.length > 0 && size + n > maxBytes) {
      out.push({ value: cur.join(''), records: cur.length });
      cur = [];
      size = 0;
    }
    cur.push(framed);
    size += n;
  }
  if (cur.length > 0) out.push({ value: cur.join(''), records: cur.length });
  return out;
}
