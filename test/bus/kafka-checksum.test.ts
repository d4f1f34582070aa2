// The Kafka bus has kafkajs checksum its record batches natively (kafkajs.ts). The checksum must be kafkajs' own
// (CRC-32C): a broker refuses a batch whose checksum is wrong, and the Kafka tests against a real broker send through it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { batchChecksum, nativeCrc32c } from '../../src/bus/kafka/kafkajs.js';

const require = createRequire(import.meta.url);

describe('the checksum of the record batches the Kafka bus sends', () => {
  it('is the native CRC-32C in place of kafkajs’ own, and gives what kafkajs’ own gives', () => {
    assert.equal(nativeCrc32c, true, 'installed before kafkajs loaded its own');
    assert.equal(require('kafkajs/src/protocol/recordBatch/crc32C/index.js'), batchChecksum, 'what kafkajs’ record batches call');
    const checksum = batchChecksum as (b: Buffer) => number;
    const own = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
    assert.equal(checksum(Buffer.from('123456789')), 0xe3069283, 'the CRC-32C check value');
    const bytes = randomBytes(1 << 20);
    for (const length of [0, 1, 7, 8, 9, 63, 64, 65, 4097, bytes.length - 3])
      assert.equal(checksum(bytes.subarray(3, 3 + length)), own(bytes.subarray(3, 3 + length)) >>> 0, `${length} bytes`);
  });
});
