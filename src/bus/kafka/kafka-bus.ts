import { FinmeshError } from '../../core/errors.js';
import { AsyncQueue } from '../async-queue.js';
import { type Bus, type BusMessage, DEFAULT_MAX_IN_FLIGHT, type Delivery, type SubscribeOptions, type Subscription } from '../bus.js';
// kafkajs with native codecs (snappy, and the checksum of each record batch): see kafkajs.ts.
import kafkajs, { type Admin, CompressionTypes, type Consumer, Kafka, logLevel, type Producer, type SASLOptions } from './kafkajs.js';

export interface KafkaBusOptions {
  brokers: string[];
  ssl?: boolean;
  /**
   * SASL credentials. For Azure Event Hubs' Kafka endpoint: brokers `<namespace>.servicebus.windows.net:9093`,
   * ssl true, mechanism `plain`, username `$ConnectionString`, password the namespace connection string.
   */
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
  partitions?: number;
  /** A request the broker has not answered in this long failed (default `DEFAULT_KAFKA_REQUEST_TIMEOUT_MS`). */
  requestTimeoutMs?: number;
  /** Failed requests are tried again this many times, waiting longer each time (default `DEFAULT_KAFKA_RETRIES`). */
  retries?: number;
  /** How record batches are compressed on the wire and in the broker's log (default `defaultKafkaCompression`). */
  compression?: KafkaCompression | undefined;
}

export type KafkaCompression = 'none' | 'gzip' | 'snappy';

/**
 * snappy (fast, native, off the main thread, and less for the producer to checksum and the broker to store), except on
 * Azure Event Hubs' Kafka endpoint (`*.servicebus.windows.net`), whose support for compressed batches is limited: none.
 */
export function defaultKafkaCompression(brokers: string[]): KafkaCompression {
  return brokers.some((b) => /\.servicebus\.windows\.net(:\d+)?$/i.test(b.trim())) ? 'none' : 'snappy';
}

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy } as const;

/**
 * A broker that stops answering (hung, stopped, a network partition that keeps sockets open) fails a request after
 * this long; with `DEFAULT_KAFKA_RETRIES` and their backoff an operation gives up within about a minute.
 */
export const DEFAULT_KAFKA_REQUEST_TIMEOUT_MS = 5000;
/**
 * Tries after the first, with waits growing from 300 ms to at most 5 s. kafkajs retries at more than one level (a
 * request, then the operation around it), so a broker that does not answer costs several timeouts per operation.
 */
export const DEFAULT_KAFKA_RETRIES = 2;
/** Connecting a socket to a broker. */
const CONNECTION_TIMEOUT_MS = 5000;
/** A consumer failing with errors other than timeouts is restarted for this long (see `subscribe`). */
const CONSUMER_RESTART_BUDGET_MS = 60_000;
/** Disconnecting says goodbye to the broker; one that does not answer is not waited for longer than this. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * Bytes of records a send carries where the topic's record batches may be large (below): one send is one round trip,
 * made one at a time (idempotent producer), so each carries several bus messages. Snappy may grow data that does not
 * compress by a sixth: under the topic's limit either way.
 */
const SEND_BYTES = 6 * 2 ** 20;
/**
 * What a publish should carry (`publishBytes`): the stream's reader gathers at least this much, and at most a page
 * of ~2.6 MB more — one send, under `SEND_BYTES`.
 */
const PUBLISH_BYTES = 4 * 2 ** 20;
/** Bytes of records per send otherwise: under the 1 MiB a broker accepts in one record batch by default. */
const SMALL_SEND_BYTES = 900 * 1024;
/** `max.message.bytes` of the topics finmesh creates: a compressed record batch of up to this size is accepted. */
export const TOPIC_MAX_MESSAGE_BYTES = 8 * 2 ** 20;
/**
 * How long a fetch waits at the broker for messages when there are none. A consumer's close waits for its fetch, so
 * this bounds how long stopping takes (kafkajs' default of 5 s held every `finmesh stream --until-caught-up` that
 * long after its last commit); 500 ms is the Java client's default.
 */
const FETCH_MAX_WAIT_MS = 500;
/** Bytes a fetch takes of one partition (compressed, as stored), and of all partitions four times that. */
const FETCH_PARTITION_BYTES = 8 * 2 ** 20;
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
  /** Topics made ready (created or found, partitions led), once each however many callers ask at the same time. */
  private readonly topics = new Map<string, Promise<void>>();
  /**
   * Bytes per send, by topic: large where the topic takes it; lowered for good (to half the refused send) when the
   * broker refuses a batch as too large, never raised again.
   */
  private readonly sendBytes = new Map<string, number>();

  private constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly admin: Admin,
    private readonly partitions: number,
    private readonly brokers: string,
    private readonly requestTimeoutMs: number,
    private readonly retries: number,
    private readonly compression: CompressionTypes,
  ) {}

  static async create(options: KafkaBusOptions): Promise<KafkaBus> {
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_KAFKA_REQUEST_TIMEOUT_MS;
    const retries = options.retries ?? DEFAULT_KAFKA_RETRIES;
    const kafka = new Kafka({
      clientId: 'finmesh',
      brokers: options.brokers,
      ssl: options.ssl ?? false,
      sasl: options.sasl as SASLOptions | undefined,
      logLevel: logLevel.NOTHING,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: requestTimeoutMs,
      enforceRequestTimeout: true,
      retry: { retries, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const admin = kafka.admin();
    const compression = COMPRESSION[options.compression ?? defaultKafkaCompression(options.brokers)];
    const bus = new KafkaBus(
      kafka,
      producer,
      admin,
      options.partitions ?? 3,
      options.brokers.join(','),
      requestTimeoutMs,
      retries,
      compression,
    );
    try {
      await producer.connect();
      await admin.connect();
    } catch (cause) {
      throw bus.failure('connecting', cause);
    }
    return bus;
  }

  /**
   * A kafkajs error as finmesh's: `TIMEOUT` when the broker stopped answering, `UNAVAILABLE` otherwise, naming the
   * brokers, what was being done, and that it was retried.
   */
  private failure(what: string, cause: unknown): FinmeshError {
    if (cause instanceof FinmeshError) return cause;
    const text = reasons(cause);
    const timedOut = isTimeout(cause);
    const why = timedOut
      ? `the broker did not answer (each request waited ${this.requestTimeoutMs / 1000} s; retried ${this.retries} times with backoff)`
      : `failed (retried ${this.retries} times with backoff)`;
    return new FinmeshError(timedOut ? 'TIMEOUT' : 'UNAVAILABLE', `Kafka at ${this.brokers}: ${what}: ${why} (${text})`, { cause });
  }

  /** A publish of this much, and a page more, fills one send (see `PUBLISH_BYTES`). */
  get publishBytes(): number {
    return this.large ? PUBLISH_BYTES : SMALL_SEND_BYTES;
  }

  /**
   * Whether sends may be large: with compression. Uncompressed (the default on Azure Event Hubs, whose limit of 1 MB
   * a batch is fixed) sends stay under the broker's default limit, and topics are created without settings.
   */
  private get large(): boolean {
    return this.compression !== CompressionTypes.None;
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    await this.ensureTopic(topic);
    // A send becomes one record batch per partition, and a broker refuses a batch above the topic's
    // max.message.bytes: sends are cut to stay under it, one after the other, so order is kept.
    let batch: { key: string; value: string | Buffer }[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length > 0) await this.send(topic, batch);
      batch = [];
      bytes = 0;
    };
    for (const m of messages) {
      const record = {
        key: m.key,
        value: typeof m.value === 'string' ? m.value : Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
      };
      const size = recordBytes(record);
      if (bytes + size > (this.sendBytes.get(topic) ?? SMALL_SEND_BYTES)) await flush();
      batch.push(record);
      bytes += size;
    }
    await flush();
  }

  /**
   * One send. A topic whose batches are smaller than the sends assumed (created elsewhere with a lower
   * max.message.bytes, or a service with a fixed limit) refuses one as too large: it is sent again in halves, and the
   * topic's sends stay at most half the refused one. A single message the topic refuses fails the publish, naming its
   * size. Halves are sent again only when every message has one key: one partition, whose batch the broker refused
   * whole (kafkajs fails a send on any partition's error, though others of the same request may have been written).
   */
  private async send(topic: string, messages: { key: string; value: string | Buffer }[]): Promise<void> {
    try {
      await this.producer.send({ topic, acks: -1, messages, compression: this.compression });
    } catch (cause) {
      if (!isTooLarge(cause)) throw this.failure(`publishing to ${topic}`, cause);
      const refused = messages.reduce((n, m) => n + recordBytes(m), 0);
      if (messages.length === 1)
        throw new FinmeshError(
          'CONFIG_INVALID',
          `Kafka at ${this.brokers}: publishing to ${topic}: the topic refuses a message of ${Buffer.byteLength(messages[0]?.value ?? '')} bytes as too large; raise its max.message.bytes (finmesh creates topics with ${TOPIC_MAX_MESSAGE_BYTES})`,
          { cause },
        );
      if (messages.some((m) => m.key !== messages[0]?.key)) throw this.failure(`publishing to ${topic}`, cause);
      this.sendBytes.set(topic, Math.min(this.sendBytes.get(topic) ?? SMALL_SEND_BYTES, Math.ceil(refused / 2)));
      const half = Math.ceil(messages.length / 2);
      await this.send(topic, messages.slice(0, half));
      await this.send(topic, messages.slice(half));
    }
  }

  subscribe(topic: string, group: string, options: SubscribeOptions = {}): Subscription {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const queue = new AsyncQueue<Delivery>();
    // Kafka groups are cluster-wide: one per (group, topic), so topics never rebalance each other.
    // A consumer whose retries are used up is restarted (a broker still starting: its group coordinator loading) for
    // `CONSUMER_RESTART_BUDGET_MS` since messages last came — but not after a broker stopped answering, nor forever:
    // then the subscription fails with the reason.
    let firstCrash: number | undefined;
    const consumer: Consumer = this.kafka.consumer({
      groupId: `${group}.${topic}`,
      allowAutoTopicCreation: false,
      // A fetch takes up to this much of a partition (compressed): the stream's messages are up to 512 KiB each, and
      // kafkajs' 1 MiB default made a round trip to the broker every message or two.
      maxBytesPerPartition: FETCH_PARTITION_BYTES,
      maxBytes: 4 * FETCH_PARTITION_BYTES,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      retry: {
        retries: this.retries,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: async (e) => {
          if (closed || isTimeout(e)) return false;
          firstCrash ??= Date.now();
          return Date.now() - firstCrash < CONSUMER_RESTART_BUDGET_MS;
        },
      },
    });
    let inFlight = 0;
    let closed = false;
    let failed: FinmeshError | undefined;
    const fail = (what: string, cause: unknown) => {
      failed ??= this.failure(what, cause);
      queue.close();
    };
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!closed && !payload.restart) fail(`consuming ${topic} as ${group}`, payload.error);
    });
    let space: (() => void) | undefined;
    const acked = new Map<number, Set<number>>();
    const committed = new Map<number, number>();
    // Offsets are committed in the background, one request at a time for every partition that moved: a caller acking
    // a batch of messages one after the other waits for none of them, and makes one or two requests, not one each.
    const toCommit = new Set<number>();
    let committing: Promise<void> | undefined;
    const commitAcked = () => {
      committing ??= (async () => {
        while (toCommit.size > 0 && !failed) {
          const offsets = [...toCommit].map((p) => ({ topic, partition: p, offset: String(committed.get(p)) }));
          toCommit.clear();
          // The caller's work is done (committed downstream): a broker that cannot take the offset fails the
          // subscription, and the messages come again to the next one (at least once), rather than the work
          // being redone against a broker that does not answer.
          try {
            await consumer.commitOffsets(offsets);
          } catch (cause) {
            fail(`committing offsets of ${topic} as ${group}`, cause);
          }
        }
      })().finally(() => {
        committing = undefined;
      });
    };
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
          firstCrash = undefined;
          const offset = Number(message.offset);
          if (!committed.has(partition)) committed.set(partition, offset);
          let attempt = 1;
          const delivery: Delivery = {
            // The value as the bytes fetched (no decoding into a string: a consumer reads bytes or text, `busText`).
            message: { key: message.key?.toString() ?? '', value: message.value ?? '' },
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
                toCommit.add(partition);
                commitAcked();
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
    })().catch((cause) => {
      throw this.failure(`subscribing to ${topic} as ${group}`, cause);
    });
    // Awaited by the iterator, maybe later: a failure before then is not an unhandled rejection that ends the process.
    started.catch(() => undefined);
    return {
      [Symbol.asyncIterator]: async function* () {
        await started;
        while (!closed) {
          const d = await queue.take();
          if (!d) break;
          yield d;
        }
        if (failed && !closed) throw failed;
      },
      close: async () => {
        closed = true;
        space?.();
        queue.close();
        await started.catch(() => undefined);
        // What was acked is committed before the consumer leaves: the next subscription starts after it.
        if (committing) await bounded(committing);
        await bounded(consumer.disconnect());
      },
    };
  }

  async close(): Promise<void> {
    await bounded(this.producer.disconnect());
    await bounded(this.admin.disconnect());
  }

  /**
   * Creates the topic unless it exists, then waits until each partition has a leader (kafkajs' own wait for leaders
   * fails on a newer broker's answer that a just-created topic is not known yet). Once per topic: the first publish
   * and a subscription usually ask at the same time. A failure is not kept: the next caller tries again.
   */
  private ensureTopic(topic: string): Promise<void> {
    let ready = this.topics.get(topic);
    if (!ready) {
      ready = this.prepareTopic(topic);
      this.topics.set(topic, ready);
      ready.catch(() => this.topics.delete(topic));
    }
    return ready;
  }

  private async prepareTopic(topic: string): Promise<void> {
    try {
      // Room for large sends (see `SEND_BYTES`). A topic that existed keeps its own limit: sends are large only where
      // it is as large. A service that takes no topic settings (a creation policy, a fixed limit) gets the topic with
      // its defaults, and small sends.
      const create = (roomy: boolean) =>
        this.admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: this.partitions,
              ...(roomy ? { configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] } : {}),
            },
          ],
          waitForLeaders: false,
        });
      let roomy = this.large;
      let created: boolean;
      try {
        created = await create(roomy);
      } catch (cause) {
        if (!roomy || !isSettingRefused(cause)) throw cause;
        roomy = false;
        created = await create(false);
      }
      const limit = !this.large ? 0 : created ? (roomy ? TOPIC_MAX_MESSAGE_BYTES : 0) : await this.topicMessageLimit(topic);
      const size = limit >= TOPIC_MAX_MESSAGE_BYTES ? SEND_BYTES : SMALL_SEND_BYTES;
      this.sendBytes.set(topic, Math.min(this.sendBytes.get(topic) ?? size, size));
      const deadline = Date.now() + this.requestTimeoutMs * (this.retries + 1);
      for (let wait = 100; ; wait = Math.min(2000, wait * 2)) {
        const led = await this.admin
          .fetchTopicMetadata({ topics: [topic] })
          .then((m) => m.topics[0]?.partitions.every((p) => p.leader >= 0) === true)
          .catch((cause) => {
            if (Date.now() > deadline) throw cause;
            return false;
          });
        if (led) break;
        if (Date.now() > deadline)
          throw new Error(`the topic's partitions have no leader after ${this.requestTimeoutMs * (this.retries + 1)} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    } catch (cause) {
      throw this.failure(`creating topic ${topic}`, cause);
    }
  }

  /** An existing topic's max.message.bytes; 0 where the service does not say (Event Hubs' limit is fixed). */
  private async topicMessageLimit(topic: string): Promise<number> {
    try {
      const described = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
      });
      const value = described.resources[0]?.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue;
      return Number(value ?? 0) || 0;
    } catch {
      return 0;
    }
  }
}

/** Waits for a goodbye to the broker at most `CLOSE_TIMEOUT_MS`: a broker that does not answer is left as it is. */
async function bounded(p: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, CLOSE_TIMEOUT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/**
 * An error and what it wraps, outermost first, at most four deep (kafkajs keeps the first error of a retried
 * operation inside, as `originalError` or `cause`).
 */
function chain(cause: unknown): Error[] {
  const errors: Error[] = [];
  for (let e: unknown = cause; e instanceof Error && errors.length < 4; e = (e as { originalError?: unknown }).originalError ?? e.cause)
    errors.push(e);
  return errors;
}

/** The messages of an error and what it wraps. */
function reasons(cause: unknown): string {
  return [...new Set(chain(cause).map((e) => e.message))].join(': ');
}

/** A record's bytes in a send: its key, its value and its framing at most. */
function recordBytes(r: { key: string; value: string | Buffer }): number {
  return Buffer.byteLength(r.key) + Buffer.byteLength(r.value) + RECORD_OVERHEAD_BYTES;
}

/** The Kafka error type of a protocol error (kafkajs' `type`, such as `MESSAGE_TOO_LARGE`). */
const typeOf = (e: unknown): string | undefined => (e as { type?: string }).type;

/**
 * The broker refused a topic's settings (a creation policy, or a setting it does not allow), not the topic. kafkajs
 * rejects a creation with the topics' errors gathered (`errors`).
 */
function isSettingRefused(cause: unknown): boolean {
  const refused = (e: unknown) => ['INVALID_CONFIG', 'POLICY_VIOLATION'].includes(typeOf(e) ?? '');
  return chain(cause).some((e) => refused(e) || ((e as { errors?: unknown[] }).errors ?? []).some(refused));
}

/** The broker refused a record batch above the topic's max.message.bytes (kafkajs wraps it in its retrier's error). */
function isTooLarge(cause: unknown): boolean {
  return chain(cause).some((e) => typeOf(e) === 'MESSAGE_TOO_LARGE');
}

/** The broker did not answer a request in time (kafkajs' request or connection timeout), after its retries or not. */
function isTimeout(cause: unknown): boolean {
  return (
    chain(cause).some(
      (e) => e.name === 'KafkaJSRequestTimeoutError' || (e.name === 'KafkaJSConnectionError' && /timeout/i.test(e.message)),
    ) || /request timed out|connection timeout/i.test(reasons(cause))
  );
}
