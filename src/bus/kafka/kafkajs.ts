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
