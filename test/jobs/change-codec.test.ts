import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecords, packMessages } from '../../src/jobs/change-codec.js';
import { maxInFlightMessages } from '../../src/jobs/stream.js';
import type { ChangeRecord } from '../../src/sources/changefeed/change-feed-source.js';

describe('change records on the bus', () => {
  it('survive keys and checkpoints holding tabs, newlines and framing characters, in order', () => {
    const records: ChangeRecord[] = [
      { key: 'plain', op: 'upsert', offset: 1, eventTime: 1000, json: '{"a":1}', checkpoint: '1' },
      {
        key: 'tab\there\nnewline 12:{"x"',
        op: 'delete',
        offset: 2,
        eventTime: 2000,
        json: '{"id":"tab\\there"}',
        checkpoint: '{"r0":"tok\t2"}',
      },
      { key: 'ção – 字', op: 'upsert', offset: 3, eventTime: 3000, json: '{"nome":"João 字"}', checkpoint: '3' },
    ];
    const messages = packMessages(records, 512 * 1024);
    assert.equal(messages.length, 1);
    assert.deepEqual(decodeRecords(messages[0]?.value ?? ''), records);
  });

  it('packs pages into messages under the size limit, a larger record alone', () => {
    const rec = (i: number, size: number): ChangeRecord => ({
      key: `k${i}`,
      op: 'upsert',
      offset: i,
      eventTime: i,
      json: JSON.stringify({ pad: 'p'.repeat(size) }),
      checkpoint: String(i),
    });
    const records = [rec(1, 400), rec(2, 400), rec(3, 400), rec(4, 5000), rec(5, 10)];
    const messages = packMessages(records, 1024);
    assert.deepEqual(
      messages.map((m) => m.records),
      [2, 1, 1, 1],
    );
    assert.deepEqual(
      messages.flatMap((m) => decodeRecords(m.value)),
      records,
    );
    assert.throws(() => decodeRecords('12:not a frame'), /bad frame/);
  });

  it('bounds the lake writer by bytes: unacked messages × message size stay within stream.maxBufferedBytes', () => {
    assert.equal(maxInFlightMessages(256 * 1024 * 1024), 512);
    assert.equal(maxInFlightMessages(1024 * 1024), 2);
  });
});
