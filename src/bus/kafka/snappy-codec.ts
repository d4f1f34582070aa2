import { compress, uncompress } from 'snappy';

/** Java clients (xerial snappy-java) frame a message set's snappy blocks: this magic, two versions, then blocks. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/**
 * Kafka's snappy compression for kafkajs (which ships none), on the native `snappy` library: compressing and
 * uncompressing run on libuv's thread pool, off the thread that reads the change feed. Reads both raw snappy (what
 * this codec and librdkafka write) and the xerial framing of Java producers.
 */
export const snappyCodec = () => ({
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    return compress(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    if (buffer.length < XERIAL_HEADER_BYTES || !buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC))
      return (await uncompress(buffer, { asBuffer: true })) as Buffer;
    const blocks: Buffer[] = [];
    for (let at = XERIAL_HEADER_BYTES; at < buffer.length; ) {
      if (at + 4 > buffer.length) throw new Error(`a snappy block's length cut short at byte ${at} of ${buffer.length}`);
      const size = buffer.readUInt32BE(at);
      at += 4;
      if (at + size > buffer.length)
        throw new Error(`a snappy block of ${size} bytes at byte ${at} runs past the ${buffer.length} fetched`);
      blocks.push((await uncompress(buffer.subarray(at, at + size), { asBuffer: true })) as Buffer);
      at += size;
    }
    return Buffer.concat(blocks);
  },
});
