import { type Admin, type Consumer, Kafka, logLevel, type Producer, type SASLOptions } from 'kafkajs';
import { FinmeshError } from '../../core/errors.js';
import { AsyncQueue } from '../async-queue.js';
import { type Bus, type BusMessage, DEFAULT_MAX_IN_FLIGHT, type Delivery, type SubscribeOptions, type Subscription } from '../bus.js';

export interface KafkaBusOptions {
  brokers: string[];
  ssl?: boolean;
  /**
   * SASL credentials. For Azure Event Hubs' Kafka endpoint: brokers `<namespace>.servicebus.windows.net:9093`,
   * ssl true, mechanism `plain`, username `$ConnectionString`, password the namespace connection string.
   */
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
  partitions?: number;
}

/** Bytes of records per send: under the 1 MiB a broker accepts in one record batch by default, with room to spare. */
const MAX_SEND_BYTES = 900 * 1024;
/** A record's framing beyond its key and value (lengths, offsets, timestamp deltas, headers count), at most. */
const RECORD_OVERHEAD_BYTES = 64;

/**
 * Kafka (or any Kafka-protocol service: Event Hubs, Confluent). Idempotent producer with acks=all; a consumer group
 * per subscription group with manual commits: an offset is committed only once every message before it in its
 * partition is acked, so a new subscription resumes at the first unacked message. Per-key order follows from
 * the key → partition mapping.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  private readonly known = new Set<string>();

  private constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly admin: Admin,
    private readonly partitions: number,
  ) {}

  static async create(options: KafkaBusOptions): Promise<KafkaBus> {
    const kafka = new Kafka({
      clientId: 'finmesh',
      brokers: options.brokers,
      ssl: options.ssl ?? false,
      sasl: options.sasl as SASLOptions | undefined,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5 },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const admin = kafka.admin();
    try {
      await producer.connect();
      await admin.connect();
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `cannot reach Kafka at ${options.brokers.join(',')}: ${(cause as Error).message}`, { cause });
    }
    return new KafkaBus(kafka, producer, admin, options.partitions ?? 3);
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    await this.ensureTopic(topic);
    // A send becomes one record batch per partition, and a broker refuses a batch above its message.max.bytes
    // (1 MiB by default): sends are cut to stay under it, one after the other, so order is kept.
    let batch: { key: string; value: string }[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await this.producer.send({ topic, acks: -1, messages: batch });
      batch = [];
      bytes = 0;
    };
    for (const m of messages) {
      const size = Buffer.byteLength(m.key) + Buffer.byteLength(m.value) + RECORD_OVERHEAD_BYTES;
      if (bytes + size > MAX_SEND_BYTES) await flush();
      batch.push({ key: m.key, value: m.value });
      bytes += size;
    }
    await flush();
  }

  subscribe(topic: string, group: string, options: SubscribeOptions = {}): Subscription {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const queue = new AsyncQueue<Delivery>();
    // Kafka groups are cluster-wide: one per (group, topic), so topics never rebalance each other.
    const consumer: Consumer = this.kafka.consumer({ groupId: `${group}.${topic}`, allowAutoTopicCreation: false });
    let inFlight = 0;
    let closed = false;
    let space: (() => void) | undefined;
    const acked = new Map<number, Set<number>>();
    const committed = new Map<number, number>();
    const started = (async () => {
      await this.ensureTopic(topic);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message, heartbeat }) => {
          // Backpressure: hold this partition until an ack makes room (heartbeating, so the group keeps us).
          while (inFlight >= maxInFlight && !closed) {
            await new Promise<void>((resolve) => {
              space = resolve;
              setTimeout(resolve, 1000).unref();
            });
            await heartbeat();
          }
          if (closed) return;
          const offset = Number(message.offset);
          if (!committed.has(partition)) committed.set(partition, offset);
          let attempt = 1;
          const delivery: Delivery = {
            message: { key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' },
            get attempt() {
              return attempt;
            },
            ack: async () => {
              inFlight--;
              const set = acked.get(partition) ?? new Set<number>();
              set.add(offset);
              acked.set(partition, set);
              let next = committed.get(partition) ?? offset;
              while (set.has(next)) set.delete(next++);
              if (next !== committed.get(partition)) {
                committed.set(partition, next);
                await consumer.commitOffsets([{ topic, partition, offset: String(next) }]);
              }
              space?.();
            },
            nak: async () => {
              attempt++;
              queue.unshift(delivery);
            },
          };
          inFlight++;
          queue.push(delivery);
        },
      });
    })();
    return {
      [Symbol.asyncIterator]: async function* () {
        await started;
        while (!closed) {
          const d = await queue.take();
          if (!d) return;
          yield d;
        }
      },
      close: async () => {
        closed = true;
        space?.();
        queue.close();
        await started.catch(() => undefined);
        await consumer.disconnect();
      },
    };
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  private async ensureTopic(topic: string): Promise<void> {
    if (this.known.has(topic)) return;
    await this.admin.createTopics({ topics: [{ topic, numPartitions: this.partitions }], waitForLeaders: true });
    this.known.add(topic);
  }
}
