import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { busText } from '../../src/bus/bus.js';
import { decodeChunk, encodeLines, packMessages } from '../../src/jobs/change-codec.js';
import { bronzeLine } from '../../src/lake/bronze-writer.js';
import { SqliteOutboxSource } from '../../src/sources/changefeed/sqlite-outbox/sqlite-outbox-source.js';
import { tempDir } from '../helpers.js';

/** An app database with an outbox as the demo's app writes it. */
function outbox(rows: { key: string; op: string; time: number; payload: string; aggregate?: string }[]): string {
  const path = join(tempDir(), 'app.db');
  const db = new Database(path);
  db.exec(`CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate TEXT NOT NULL, aggregate_id TEXT NOT NULL,
    op TEXT NOT NULL, version INTEGER NOT NULL, event_time INTEGER NOT NULL, payload TEXT NOT NULL);
    CREATE INDEX outbox_aggregate ON outbox(aggregate, id);`);
  const insert = db.prepare('INSERT INTO outbox (aggregate, aggregate_id, op, version, event_time, payload) VALUES (?, ?, ?, 1, ?, ?)');
  for (const r of rows) insert.run(r.aggregate ?? 'transactions', r.key, r.op, r.time, r.payload);
  db.close();
  return path;
}

const ROWS = [
  { key: 'plain', op: 'upsert', time: 1_000, payload: '{"id":"plain","amount":12.5}' },
  { key: 'accents', op: 'upsert', time: 2_000, payload: '{"id":"accents","name":"José Conceição 💳"}' },
  { key: 'other', op: 'upsert', time: 2_500, payload: '{"id":"other"}', aggregate: 'customers' },
  { key: 'empty', op: 'upsert', time: 3_000, payload: '{}' },
  { key: 'spaced-empty', op: 'upsert', time: 4_000, payload: '{ \n }' },
  { key: 'k"quoted\\', op: 'delete', time: 5_000, payload: '{"id":"k\\"quoted\\\\"}' },
  { key: 'lines', op: 'upsert', time: 6_000, payload: '{\r\n  "id": "lines",\n  "note": "a\\nb"\n}' },
];

describe('SQLite outbox: pages rendered by SQLite as bronze lines', () => {
  it('gives, byte for byte, the bronze lines its records give, with their offsets, event times and checkpoint', async () => {
    const src = new SqliteOutboxSource(outbox(ROWS), 'transactions');
    await src.open();
    try {
      const page = await src.read(undefined, 100);
      const lined = await src.readLines?.(undefined, 100, 512 * 1024);
      assert.ok(lined);
      assert.equal(lined.records, undefined);
      assert.equal(lined.chunks.length, 1);
      const chunk = lined.chunks[0];
      assert.ok(chunk);
      assert.equal(busText(chunk.lines), page.records.map(bronzeLine).join('\n'));
      // Every line is one JSON object: the folded line breaks, the empty documents, the delete.
      for (const line of busText(chunk.lines).split('\n')) JSON.parse(line);
      assert.equal(lined.checkpoint, page.checkpoint);
      assert.deepEqual(
        [chunk.records, chunk.firstOffset, chunk.lastOffset, chunk.checkpoint],
        [6, 1, 7, '7'],
        'the customers row (offset 3) is not this source’s',
      );
      // Through the bus: the same facts as a page packed from the records, the lines still bytes.
      const viaLines = decodeChunk(encodeLines(chunk).value);
      const viaRecords = decodeChunk(packMessages(page.records, 512 * 1024)[0]?.value ?? '');
      assert.ok(viaLines.lines instanceof Uint8Array);
      // Each carries the time it was made (when the stream read its records), and otherwise the same.
      const { readAt: linesReadAt, ...fromLines } = viaLines;
      const { readAt: recordsReadAt, ...fromRecords } = viaRecords;
      assert.ok(typeof linesReadAt === 'number' && typeof recordsReadAt === 'number');
      assert.deepEqual({ ...fromLines, lines: busText(fromLines.lines) }, fromRecords);
      // Read on from the checkpoint: nothing more.
      assert.deepEqual((await src.readLines?.(lined.checkpoint, 100, 512 * 1024))?.chunks, []);
    } finally {
      await src.close();
    }
  });

  it('cuts a page into messages within the size limit, in order, losing no change', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      key: `t${i}`,
      op: i % 7 === 0 ? 'delete' : 'upsert',
      time: 1_700_000_000_000 + i,
      payload: JSON.stringify({ id: `t${i}`, memo: 'ã'.repeat(i % 50), n: i }),
    }));
    const src = new SqliteOutboxSource(outbox(rows), 'transactions');
    await src.open();
    try {
      const lined = await src.readLines?.('10', 1000, 4096);
      assert.ok(lined && lined.chunks.length > 3, 'a page of ~20 KiB in messages of at most 4 KiB');
      const messages = lined.chunks.map(encodeLines);
      for (const m of messages) assert.ok(m.bytes <= 4096 && m.value.byteLength === m.bytes, `a message of ${m.bytes} bytes`);
      const decoded = messages.map((m) => decodeChunk(m.value));
      const lines = decoded.flatMap((c) =>
        busText(c.lines)
          .split('\n')
          .map((l) => JSON.parse(l) as { _offset: number; _op: string; n: number }),
      );
      assert.deepEqual(
        lines.map((l) => [l._offset, l._op, l.n]),
        rows.slice(10).map((r, i) => [i + 11, r.op, i + 10]),
      );
      assert.deepEqual(
        decoded.flatMap((c) => c.eventTimes),
        rows.slice(10).map((r) => r.time),
      );
      assert.equal(lined.checkpoint, '300');
      // Each message says what a message packed from the same records says: offsets, checkpoint, times, identity.
      const page = await src.read('10', 1000);
      let from = 0;
      for (const c of decoded) {
        const { readAt: _a, ...fromLines } = c;
        const { readAt: _b, ...fromRecords } = decodeChunk(
          packMessages(page.records.slice(from, from + c.records), 2 ** 20)[0]?.value ?? '',
        );
        assert.deepEqual({ ...fromLines, lines: busText(fromLines.lines) }, fromRecords);
        from += c.records;
      }
      assert.equal(from, 290);
    } finally {
      await src.close();
    }
  });

  it('keeps each page right as pages grow and shrink: small ones, large ones, one larger than the buffer it keeps', async () => {
    // Pages of 1, 40, 3 and 2 changes: 100-byte documents, 40 of ~1 MiB (a 40 MiB page, rendered apart from the
    // buffer kept for the next page), then small ones again — each encoded before the next is read, as a stream does.
    const doc = (i: number, bytes: number) => JSON.stringify({ id: `t${i}`, pad: String.fromCharCode(97 + (i % 26)).repeat(bytes) });
    const sizes = [100, ...Array<number>(40).fill(2 ** 20), 100, 5_000, 100, 100, 100];
    const rows = sizes.map((bytes, i) => ({ key: `t${i}`, op: 'upsert', time: 1_000 + i, payload: doc(i, bytes) }));
    const src = new SqliteOutboxSource(outbox(rows), 'transactions');
    await src.open();
    try {
      const messages: Uint8Array[] = [];
      let checkpoint: string | undefined;
      for (const max of [1, 40, 3, 2]) {
        const lined = await src.readLines?.(checkpoint, max, 64 * 2 ** 20);
        assert.ok(lined && lined.chunks.length > 0 && !lined.records);
        for (const c of lined.chunks) messages.push(encodeLines(c).value);
        checkpoint = lined.checkpoint;
      }
      assert.equal(checkpoint, String(rows.length));
      const all = await src.read(undefined, 1000);
      assert.equal(
        messages.map((m) => busText(decodeChunk(m).lines)).join('\n'),
        all.records.map(bronzeLine).join('\n'),
        'every page as its records give it, none overwritten by the pages read after it',
      );
    } finally {
      await src.close();
    }
  });

  it('hands over records, read the ordinary way, for a page whose payload holds a NUL', async () => {
    const src = new SqliteOutboxSource(
      outbox([...ROWS.slice(0, 2), { key: 'nul', op: 'upsert', time: 9, payload: '{"id":"a\u0000b"}' }]),
      'transactions',
    );
    await src.open();
    try {
      const lined = await src.readLines?.(undefined, 100, 512 * 1024);
      assert.deepEqual(lined?.chunks, []);
      assert.deepEqual(
        lined?.records?.map((r) => r.key),
        ['plain', 'accents', 'nul'],
      );
      assert.equal(lined?.checkpoint, '3');
    } finally {
      await src.close();
    }
  });
});
