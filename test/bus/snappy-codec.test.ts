import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compressSync } from 'snappy';
import { snappyCodec } from '../../src/bus/kafka/snappy-codec.js';

/** Java's framing of snappy blocks (snappy-java's SnappyOutputStream): magic, version 1, compatible version 1, blocks. */
function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  for (const b of blocks) {
    const c = compressSync(b);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(c.length);
    parts.push(size, c);
  }
  return Buffer.concat(parts);
}

describe('Kafka snappy codec', () => {
  const text = Buffer.from(`${'{"_offset":1,"_op":"upsert","name":"José 💳"}\n'.repeat(20_000)}`);

  it('compresses and reads back what it wrote (raw snappy, as librdkafka writes it)', async () => {
    const codec = snappyCodec();
    const packed = await codec.compress({ buffer: text });
    assert.ok(packed.length < text.length / 4, `compressed ${packed.length} of ${text.length} bytes`);
    assert.ok((await codec.decompress(packed)).equals(text));
  });

  it('reads the xerial framing Java producers (and a broker recompressing) write, block after block', async () => {
    const a = text.subarray(0, 300_000);
    const b = text.subarray(300_000);
    assert.ok((await snappyCodec().decompress(xerial([a, b]))).equals(text));
  });

  it('says where a cut xerial frame ends instead of returning part of it', async () => {
    const whole = xerial([text.subarray(0, 1000), text.subarray(1000, 2000)]);
    await assert.rejects(snappyCodec().decompress(whole.subarray(0, whole.length - 10)), /snappy block of \d+ bytes at byte \d+ runs past/);
  });
});

describe('Kafka compression default', () => {
  it('is snappy, and none on Azure Event Hubs’ Kafka endpoint', async () => {
    const { defaultKafkaCompression } = await import('../../src/bus/kafka/kafka-bus.js');
    assert.equal(defaultKafkaCompression(['127.0.0.1:9092']), 'snappy');
    assert.equal(defaultKafkaCompression(['kafka-1.internal:9092', 'kafka-2.internal:9092']), 'snappy');
    assert.equal(defaultKafkaCompression(['fintech-prod.servicebus.windows.net:9093']), 'none');
  });
});
