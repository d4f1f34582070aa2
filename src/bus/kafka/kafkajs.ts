// kafkajs, as the Kafka bus loads it: with native codecs for its two hot loops over every byte sent.
//
// - CRC-32C: kafkajs checksums each record batch it sends (brokers check it) in JavaScript, a byte at a time (~430
//   MB/s here): ~0.5 s of the main thread a 1M-change stream (130 MB of snappy batches), in a path bound by CPU.
//   Its module is put in Node's module cache, before kafkajs first asks for it (at its first send), as the SIMD
//   checksum of `@node-rs/crc32` (~20 GB/s; the same function: tested against kafkajs' own, and a broker refuses a
//   batch whose checksum is wrong, so every Kafka test sends through it). Without that package's binary for the
//   platform, or with kafkajs laid out otherwise (another version), or its module loaded already, kafkajs keeps its
//   own: `nativeCrc32c` says which.
// - snappy: kafkajs ships none; `snappyCodec` (native, on libuv's threads) is registered for the process.
// - its Encoder's buffers: every request, record batch and record is written into an Encoder that starts at 512 bytes
//   and, when a write does not fit, moves to a zero-filled buffer of the next power of two. A send of 6 MiB of pages
//   thus allocated and zeroed ~30 MiB, much of it copied on the way (each record into a buffer up to twice its size,
//   the records into one that doubled up to 8 MiB); and V8 collects garbage to account for memory allocated outside
//   its heap, so the collector ran more with it. `installEncoderGrowth` makes a large write grow the buffer to what it
//   needs and an eighth more (or half as much again as it had, when that is more) without zero-filling it, and an
//   array of encoders reserve their total at once. The bytes written are the same (tested against kafkajs' own
//   Encoder). A 1M-change stream over Kafka, 4 alternating
//   pairs of processes: 132k against 130k changes/s, 11.5 against 11.7 CPU s of node (medians) — a gain within the
//   machine's noise; the young generation is collected less often (193 against 244 scavenges, a run each).
import { createRequire } from 'node:module';
import type * as Kafkajs from 'kafkajs';
import { snappyCodec } from './snappy-codec.js';

const require = createRequire(import.meta.url);

function nativeChecksum(): ((buffer: Buffer) => number) | undefined {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Buffer, initial?: number) => number };
    return (buffer) => crc32c(buffer);
  } catch {
    return undefined;
  }
}

/** kafkajs' CRC-32C of a record batch's bytes (an unsigned 32-bit integer), natively when the platform has it. */
export const batchChecksum = nativeChecksum();

function installChecksum(): boolean {
  if (!batchChecksum) return false;
  let path: string;
  try {
    path = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
  } catch {
    return false;
  }
  if (require.cache[path]) return require.cache[path]?.exports === batchChecksum;
  require.cache[path] = {
    id: path,
    filename: path,
    loaded: true,
    exports: batchChecksum,
    children: [],
    paths: [],
  } as unknown as NodeJS.Module;
  return true;
}

/** Whether kafkajs checksums its record batches with the native CRC-32C. */
export const nativeCrc32c = installChecksum();

/** kafkajs' Encoder, as far as its growth goes. */
interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeEncoderArray(value: unknown): KafkajsEncoder;
}

/** Writes up to this size grow an encoder by powers of two, as kafkajs does; larger ones as `ensureAvailable` says. */
const SMALL_GROWTH_BYTES = 64 * 1024;

/** Patches kafkajs' Encoder as the header says; false when its module is not where this kafkajs version has it. */
function installEncoderGrowth(): boolean {
  let Encoder: { prototype: KafkajsEncoder; nextPowerOfTwo(n: number): number };
  try {
    Encoder = require('kafkajs/src/protocol/encoder.js');
  } catch {
    return false;
  }
  const proto = Encoder.prototype;
  if (typeof proto.ensureAvailable !== 'function' || typeof proto.writeEncoderArray !== 'function') return false;
  if ((proto as { finmeshGrowth?: boolean }).finmeshGrowth) return true;
  const writeEncoderArray = proto.writeEncoderArray;
  proto.ensureAvailable = function (this: KafkajsEncoder, length: number): void {
    const need = this.offset + length;
    if (need <= this.buf.length) return;
    // Never handed out beyond `offset` (kafkajs reads `buf.slice(0, offset)`), so it need not be zeroed.
    // Large: what the write needs and an eighth, or half as much again as now when that is more (writes in a row
    // that were not reserved still grow the buffer geometrically, not by an eighth each).
    const grown = Buffer.allocUnsafe(
      need <= SMALL_GROWTH_BYTES ? Encoder.nextPowerOfTwo(need) : Math.max(need + (need >>> 3), this.buf.length + (this.buf.length >>> 1)),
    );
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  };
  proto.writeEncoderArray = function (this: KafkajsEncoder, value: unknown): KafkajsEncoder {
    if (Array.isArray(value)) {
      let total = 0;
      for (const v of value) total += typeof (v as KafkajsEncoder | null)?.offset === 'number' ? (v as KafkajsEncoder).offset : 0;
      this.ensureAvailable(total);
    }
    return writeEncoderArray.call(this, value);
  };
  (proto as { finmeshGrowth?: boolean }).finmeshGrowth = true;
  return true;
}

/** Whether kafkajs' Encoder grows as `installEncoderGrowth` says. */
export const encoderGrowth = installEncoderGrowth();

const kafkajs = require('kafkajs') as typeof Kafkajs;
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = snappyCodec;

export default kafkajs;
export const Kafka = kafkajs.Kafka;
export type Kafka = Kafkajs.Kafka;
export const CompressionTypes = kafkajs.CompressionTypes;
export type CompressionTypes = Kafkajs.CompressionTypes;
export const logLevel = kafkajs.logLevel;
export type logLevel = Kafkajs.logLevel;
export type { Admin, Consumer, Producer, SASLOptions } from 'kafkajs';
