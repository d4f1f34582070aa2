import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busText } from '../../src/bus/bus.js';
import { batchLines, decodeChunk, encodeLines, lineDocument, lineOffset, mergeChunks, packMessages } from '../../src/jobs/change-codec.js';
import { maxInFlightMessages } from '../../src/jobs/stream.js';
import type { ChangeRecord } from '../../src/sources/changefeed/change-feed-source.js';

const lines = (m: { value: string }) => busText(decodeChunk(m.value).lines).split('\n');

describe('change records on the bus', () => {
  it('carry keys and checkpoints holding tabs, newlines and framing characters; the lines are what bronze reads', () => {
    const records: ChangeRecord[] = [
      { key: 'plain', op: 'upsert', offset: 1, eventTime: 1000, json: '{"a":1}', checkpoint: '1' },
      {
        key: 'tab\there\nnewline 12:{"x"',
        op: 'delete',
        offset: 3,
        eventTime: 2000,
        json: '{"id":"tab\\there"}',
        checkpoint: '{"r0":"tok\t\n3"}',
      },
      { key: 'ção – 字', op: 'upsert', offset: 2, eventTime: 3000, json: '{"nome":"João 字"}', checkpoint: '2' },
      { key: 'empty', op: 'upsert', offset: 4, eventTime: 4000, json: '{}', checkpoint: '4' },
    ];
    const messages = packMessages(records, 512 * 1024);
    assert.equal(messages.length, 1);
    const chunk = decodeChunk(messages[0]?.value ?? '');
    assert.equal(chunk.records, 4);
    assert.deepEqual([chunk.firstOffset, chunk.lastOffset, chunk.checkpoint], [1, 4, '4']);
    assert.deepEqual(chunk.eventTimes, [1000, 2000, 3000, 4000]);
    const parsed = busText(chunk.lines)
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(parsed, [
      { _offset: 1, _op: 'upsert', a: 1 },
      { _offset: 3, _op: 'delete', id: 'tab\there' },
      { _offset: 2, _op: 'upsert', nome: 'João 字' },
      { _offset: 4, _op: 'upsert' },
    ]);
    // The checkpoint is the one after the highest offset, wherever that record sits in the page.
    assert.equal(decodeChunk(packMessages(records.slice(0, 3), 1 << 20)[0]?.value ?? '').checkpoint, '{"r0":"tok\t\n3"}');
  });

  it('carry the time the stream read them (a batch closes batchMaxMs after that), absent from older messages', () => {
    const records: ChangeRecord[] = [{ key: 'k', op: 'upsert', offset: 1, eventTime: 1000, json: '{"a":1}', checkpoint: '1' }];
    const before = Date.now();
    const text = decodeChunk(packMessages(records, 1 << 20)[0]?.value ?? '');
    const bytes = decodeChunk(
      encodeLines({
        records: 1,
        firstOffset: 1,
        lastOffset: 1,
        checkpoint: '1',
        eventTimes: '1000',
        offsets: '1',
        keys: '["k"]',
        lines: Buffer.from('{"_offset":1,"_op":"upsert","a":1}'),
      }).value,
    );
    const after = Date.now();
    for (const chunk of [text, bytes]) assert.ok((chunk.readAt ?? 0) >= before && (chunk.readAt ?? 0) <= after, `read at ${chunk.readAt}`);
    const older = decodeChunk('{"v":2,"n":1,"first":1,"last":1,"checkpoint":"1","times":[1000],"id":"x"}\n{"_offset":1,"_op":"upsert"}');
    assert.equal(older.readAt, undefined);
    assert.equal(older.records, 1);
  });

  it('name a batch by its records: other keys at the same offsets give another identity, the same records the same', () => {
    const rec = (offset: number, key: string): ChangeRecord => ({ key, op: 'upsert', offset, eventTime: 0, json: '{}', checkpoint: '' });
    const id = (rs: ChangeRecord[]) => mergeChunks(packMessages(rs, 1 << 20).map((m) => decodeChunk(m.value))).identity;
    assert.equal(id([rec(1, 'a'), rec(2, 'b')]), id([rec(1, 'a'), rec(2, 'b')]));
    assert.notEqual(id([rec(1, 'a'), rec(2, 'b')]), id([rec(1, 'a'), rec(2, 'c')]));
  });

  it('packs pages into messages under the size limit, a larger record alone, every record once and in order', () => {
    const rec = (i: number, size: number): ChangeRecord => ({
      key: `k${i}`,
      op: 'upsert',
      offset: i,
      eventTime: i,
      json: JSON.stringify({ i, pad: 'ç'.repeat(size) }),
      checkpoint: String(i),
    });
    const records = [
      rec(1, 200),
      rec(2, 200),
      rec(3, 200),
      rec(4, 5000),
      rec(5, 10),
      ...Array.from({ length: 50 }, (_, i) => rec(6 + i, 30)),
    ];
    const messages = packMessages(records, 1024);
    for (const m of messages)
      if (m.records > 1) assert.ok(Buffer.byteLength(m.value) <= 1024, `a message of ${Buffer.byteLength(m.value)} bytes`);
    assert.ok(
      messages.some((m) => m.records === 1 && lines(m)[0]?.includes('"i":4')),
      'the large record travels alone',
    );
    assert.deepEqual(
      messages.flatMap((m) => lines(m).map((l) => (JSON.parse(l) as { i: number }).i)),
      records.map((r) => r.offset),
    );
    const merged = mergeChunks(messages.map((m) => decodeChunk(m.value)));
    assert.equal(merged.records, records.length);
    assert.deepEqual(
      merged.eventTimes,
      records.map((r) => r.eventTime),
    );
    assert.deepEqual([merged.firstOffset, merged.lastOffset, merged.checkpoint], [1, 55, '55']);
  });

  it('reads messages of finmesh 0.1 still on a durable bus after an upgrade (records framed by lengths)', () => {
    const header = JSON.stringify([7, 'delete', 1234, 'cp7', 'k\n7']);
    const doc = '{"id":"k7"}';
    const chunk = decodeChunk(`${header.length}:${header}${doc.length}:${doc}`);
    assert.deepEqual([chunk.records, chunk.firstOffset, chunk.lastOffset, chunk.checkpoint, chunk.eventTimes], [1, 7, 7, 'cp7', [1234]]);
    assert.deepEqual(JSON.parse(busText(chunk.lines)), { _offset: 7, _op: 'delete', id: 'k7' });
  });

  it('give back each line of a batch with its offset and the document as the feed wrote it (what a dead letter keeps)', () => {
    const docs = ['{"id":"a","amount":"twelve reais"}', '{}', '{ "nome":"João, \\"x\\"" }', '{"_offset":"mine"}'];
    const records: ChangeRecord[] = docs.map((json, i) => ({
      key: `k${i}`,
      op: i % 2 ? 'delete' : 'upsert',
      offset: 100 + i,
      eventTime: i,
      json,
      checkpoint: '',
    }));
    const batch = mergeChunks(packMessages(records, 60).map((m) => decodeChunk(m.value)));
    const lines = batchLines(batch);
    assert.equal(lines.length, docs.length);
    assert.deepEqual(lines.map(lineOffset), [100, 101, 102, 103]);
    assert.deepEqual(lines.map(lineDocument), docs);
  });

  it('refuses a message it did not write, saying so', () => {
    assert.throws(() => decodeChunk('12:not a frame'), /not a change-record message: bad frame/);
    assert.throws(() => decodeChunk('hello'), /not a change-record message/);
    assert.throws(() => decodeChunk('{"v":1}\n{}'), /not a change-record message/);
  });

  it('bounds the lake writer by bytes: unacked messages × message size stay within stream.maxBufferedBytes', () => {
    assert.equal(maxInFlightMessages(256 * 1024 * 1024), 512);
    assert.equal(maxInFlightMessages(1024 * 1024), 2);
  });
});
