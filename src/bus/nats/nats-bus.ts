import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection, nanos } from '@nats-io/transport-node';
import { FinmeshError } from '../../core/errors.js';
import {
  type Bus,
  type BusMessage,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_MAX_IN_FLIGHT,
  type Delivery,
  type SubscribeOptions,
  type Subscription,
} from '../bus.js';

export interface NatsBusOptions {
  /** `nats://host:port`, comma-separated for a cluster. */
  servers: string;
  /** Prefix of stream names and subjects (default `finmesh`). */
  prefix?: string;
  /** How long a publish is retried while the server is down or silent (default 60 s). */
  publishRetryMs?: number;
}

const KEY_HEADER = 'Finmesh-Key';

/**
 * NATS JetStream: a file-backed stream per topic and a durable pull consumer per group, explicit acks.
 * `max_ack_pending` is the in-flight bound; JetStream redelivers after `ack_wait` or a `nak`.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats';
  private readonly streams = new Set<string>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly prefix: string,
    private readonly servers: string,
    private readonly publishRetryMs: number,
  ) {}

  static async create(options: NatsBusOptions): Promise<NatsBus> {
    try {
      // A restarted or failed-over server is reconnected to for as long as it takes; a publish meanwhile is retried up to
      // publishRetryMs (then fails UNAVAILABLE), and the consumer picks up where its durable left off.
      const nc = await connect({ servers: options.servers.split(','), name: 'finmesh', maxReconnectAttempts: -1, reconnectTimeWait: 500 });
      const jsm = await jetstreamManager(nc);
      return new NatsBus(nc, jsm, jetstream(nc), options.prefix ?? 'finmesh', options.servers, options.publishRetryMs ?? 60_000);
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `cannot reach NATS JetStream at ${options.servers}: ${(cause as Error).message}`, { cause });
    }
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    // Publish acks are awaited in windows: ordered on the wire, persisted before we return.
    const window = 256;
    for (let i = 0; i < messages.length; i += window) {
      const batch = messages.slice(i, i + window);
      await this.retrying(`publish to ${topic}`, async () => {
        const subject = await this.ensureStream(topic);
        await Promise.all(
          batch.map((m) => {
            const h = headers();
            h.set(KEY_HEADER, m.key);
            // A retried window may store a message twice, like any redelivery: bronze may hold a change's copies and
            // silver keeps one by key and version. No JetStream message id: a restarted stream republishes what it
            // read but did not commit, and that copy must reach it now, not when the first one's ack wait ends.
            return this.js.publish(subject, m.value, { headers: h });
          }),
        );
      });
    }
  }

  /**
   * Runs `fn` again, waiting longer each time, while the server is unreachable or does not answer (a restart, a
   * network partition, a leader election) — up to `publishRetryMs`; then fails `UNAVAILABLE` with the last reason.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.publishRetryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (cause) {
        if (Date.now() >= deadline)
          throw new FinmeshError(
            'UNAVAILABLE',
            `NATS JetStream at ${this.servers}: ${what} failed ${attempt} times over ${Math.round(this.publishRetryMs / 1000)} s: ${(cause as Error).message}`,
            { cause },
          );
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** (attempt - 1))));
      }
    }
  }

  subscribe(topic: string, group: string, options: SubscribeOptions = {}): Subscription {
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const ackWait = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    let stop: (() => void) | undefined;
    let closed = false;
    const self = this;
    const iterate = async function* (): AsyncGenerator<Delivery> {
      await self.ensureStream(topic);
      const stream = self.streamName(topic);
      const durable = group.replace(/[^A-Za-z0-9_-]/g, '_');
      try {
        await self.jsm.consumers.info(stream, durable);
      } catch {
        await self.jsm.consumers.add(stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(ackWait),
          max_ack_pending: maxInFlight,
        });
      }
      const consumer = await self.js.consumers.get(stream, durable);
      const messages = await consumer.consume({ max_messages: Math.min(maxInFlight, 1000) });
      stop = () => void messages.stop();
      // Closed while the consumer was being set up (a lane with nothing to read ends at once): stop the pulls just
      // started, or they keep the process alive after everything else closed.
      if (closed) {
        stop();
        return;
      }
      for await (const m of messages) {
        yield {
          // The payload's bytes as they arrived — a view of the socket read that held it (or of the client's own copy,
          // for a payload over several reads), which the client never writes again: a page of change lines need not
          // become a JS string here (decoded, then encoded again to be staged: ~1.5 s of a 1M-change run).
          message: { key: m.headers?.get(KEY_HEADER) ?? '', value: m.data },
          attempt: m.info.deliveryCount,
          ack: async () => {
            m.ack();
          },
          nak: async () => {
            m.nak();
          },
        };
      }
    };
    return {
      [Symbol.asyncIterator]: iterate,
      close: async () => {
        closed = true;
        stop?.();
      },
    };
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }

  /** Deletes a topic's stream (tests and resets). */
  async deleteTopic(topic: string): Promise<void> {
    try {
      await this.jsm.streams.delete(this.streamName(topic));
    } catch {
      // absent already
    }
    this.streams.delete(topic);
  }

  private streamName(topic: string): string {
    return `${this.prefix}_${topic}`.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
  }

  private async ensureStream(topic: string): Promise<string> {
    const subject = `${this.prefix}.${topic.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    if (this.streams.has(topic)) return subject;
    const name = this.streamName(topic);
    try {
      await this.jsm.streams.info(name);
    } catch {
      await this.jsm.streams.add({ name, subjects: [subject] });
    }
    this.streams.add(topic);
    return subject;
  }
}
