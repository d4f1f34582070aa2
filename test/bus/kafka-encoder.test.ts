// The Kafka bus has kafkajs' Encoder grow its buffers to what a large write needs, without zero-filling them
// (kafkajs.ts). What it writes must be byte for byte what kafkajs' own Encoder writes: compared here with a copy of
// kafkajs' Encoder loaded apart, unpatched, over the writes its requests, record batches and records make. (The Kafka
// tests against a real broker send through it too.)

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { encoderGrowth } from '../../src/bus/kafka/kafkajs.js';

const require = createRequire(import.meta.url);

interface Encoder {
  buffer: Buffer;
  size(): number;
  [write: string]: unknown;
}
type EncoderClass = new (initialSize?: number) => Encoder;

/** kafkajs' Encoder module compiled again from its file: a class of its own, which the patch never touched. */
function pristineEncoder(): EncoderClass {
  const path = require.resolve('kafkajs/src/protocol/encoder.js');
  const m = new Module(path) as Module & { _compile(source: string, filename: string): void };
  m.filename = path;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  m._compile(readFileSync(path, 'utf8'), path);
  return m.exports as EncoderClass;
}

/** The writes of a produce request: a record with a large value and headers, records, a batch around them. */
function encode(E: EncoderClass, values: Buffer[]): Buffer {
  const call = (e: Encoder, method: string, ...args: unknown[]): Encoder => (e[method] as (...a: unknown[]) => Encoder).apply(e, args);
  const records = values.map((value, i) => {
    const header = call(call(new E(), 'writeVarIntString', 'traceparent'), 'writeVarIntBytes', Buffer.from(`00-${i}`));
    let r = call(new E(), 'writeVarInt', value.length + 40);
    r = call(r, 'writeInt8', 0);
    r = call(r, 'writeVarLong', i * 1000);
    r = call(r, 'writeVarInt', i);
    r = call(r, 'writeVarIntBytes', i % 2 ? null : `key-${i}`);
    r = call(r, 'writeVarIntBytes', value);
    return call(r, 'writeVarIntArray', [header]);
  });
  const all = call(new E(), 'writeEncoderArray', records);
  let body = call(new E(), 'writeInt16', 2);
  body = call(body, 'writeInt32', records.length - 1);
  body = call(body, 'writeInt64', '1764000000000');
  body = call(body, 'writeInt64', -1);
  body = call(body, 'writeInt32', records.length);
  body = call(body, 'writeBuffer', all.buffer);
  let batch = call(new E(), 'writeInt32', 0);
  batch = call(batch, 'writeInt8', 2);
  batch = call(batch, 'writeUInt32', 0xdeadbeef);
  batch = call(batch, 'writeEncoder', body);
  const set = call(call(new E(), 'writeInt64', 0), 'writeBytes', batch.buffer);
  let request = call(new E(), 'writeString', 'finmesh.changes.é');
  request = call(request, 'writeInt32', 7);
  request = call(request, 'writeInt32', set.size());
  request = call(request, 'writeArray', [set, call(new E(), 'writeString', null)]);
  return call(request, 'writeUVarIntBytes', Buffer.from('tail')).buffer;
}

describe('the buffers kafkajs encodes the Kafka bus’s sends into', () => {
  it('grow to what a large write needs, and hold the bytes kafkajs’ own Encoder writes', () => {
    assert.equal(encoderGrowth, true, 'installed on this version of kafkajs');
    const Patched = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
    const Pristine = pristineEncoder();
    assert.notEqual(Pristine.prototype.ensureAvailable, Patched.prototype.ensureAvailable, 'the copy is kafkajs’ own');
    const bytes = randomBytes(3 << 20);
    const cases: Buffer[][] = [
      [],
      [Buffer.alloc(0)],
      [bytes.subarray(0, 100)],
      // Around the point where growth changes (64 KiB), and pages as the stream sends them (up to 512 KiB each).
      [bytes.subarray(0, 65_000), bytes.subarray(5, 65_600), bytes.subarray(9, 70_000)],
      Array.from({ length: 12 }, (_, i) => bytes.subarray(i, i + 512 * 1024 - i * 977)),
      [bytes.subarray(1, 3 << 20)],
    ];
    for (const values of cases) {
      const want = encode(Pristine, values);
      const got = encode(Patched, values);
      assert.ok(got.equals(want), `${values.length} records of ${values.map((v) => v.length).join(', ')} bytes`);
    }
  });

  it('grows by what a large write needs (and an eighth), not to the next power of two, and geometrically when writes follow', () => {
    const Patched = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
    const e = new Patched() as Encoder & { buf: Buffer; writeBuffer(b: Buffer): Encoder };
    e.writeBuffer(Buffer.alloc(600_000, 1));
    assert.equal(e.buf.length, 600_000 + 75_000);
    e.writeBuffer(Buffer.alloc(10, 2));
    assert.equal(e.buf.length, 675_000, 'a small write after it fits in the eighth');
    assert.equal(e.buffer.length, 600_010);
    // Large writes in a row, not reserved: half as much again each time, not an eighth (no copy per write).
    e.writeBuffer(Buffer.alloc(100_000, 3));
    assert.equal(e.buf.length, 1_012_500);
    assert.equal(e.buffer.length, 700_010);
  });
});
