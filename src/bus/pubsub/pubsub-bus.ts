import type { Message, PubSub, Topic } from '@google-cloud/pubsub';
import { FinmeshError } from '../../core/errors.js';
import { AsyncQueue } from '../async-queue.js';
import {
  type Bus,
  type BusMessage,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_MAX_IN_FLIGHT,
  type Delivery,
  type SubscribeOptions,
  type Subscription,
} from '../bus.js';

export interface PubSubBusOptions {
  projectId: string;
}

/**
 * Google Cloud Pub/Sub. Topics and subscriptions are created on first use; messages carry the key as ordering key
 * (message ordering enabled on the subscription), flow control caps outstanding messages at `maxInFlight`, and
 * the ack deadline is `ackWaitMs`. Honours `PUBSUB_EMULATOR_HOST` (the client library does).
 */
export class PubSubBus implements Bus {
  readonly kind = 'pubsub';
  private readonly topics = new Map<string, Topic>();

  private constructor(private readonly client: PubSub) {}

  static async create(options: PubSubBusOptions): Promise<PubSubBus> {
    const { PubSub } = await import('@google-cloud/pubsub');
    return new PubSubBus(new PubSub({ projectId: options.projectId }));
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    const t = await this.topic(topic);
    try {
      await Promise.all(
        messages.map((m) => t.publishMessage({ data: Buffer.from(m.value), orderingKey: m.key, attributes: { key: m.key } })),
      );
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `Pub/Sub publish to ${topic}: ${(cause as Error).message}`, { cause });
    }
  }

  subscribe(topic: string, group: string, options: SubscribeOptions = {}): Subscription {
    const queue = new AsyncQueue<Delivery>();
    let sub: import('@google-cloud/pubsub').Subscription | undefined;
    const started = (async () => {
      const t = await this.topic(topic);
      const name = `${topic}.${group}`.replace(/[^A-Za-z0-9._~+%-]/g, '-');
      const [exists] = await t.subscription(name).exists();
      if (!exists) {
        await t.createSubscription(name, {
          enableMessageOrdering: true,
          ackDeadlineSeconds: Math.ceil((options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 1000),
        });
      }
      sub = t.subscription(name, {
        flowControl: { maxMessages: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, allowExcessMessages: false },
      });
      sub.on('message', (m: Message) => {
        queue.push({
          message: { key: m.attributes.key ?? m.orderingKey ?? '', value: m.data.toString() },
          attempt: m.deliveryAttempt || 1,
          ack: async () => m.ack(),
          nak: async () => m.nack(),
        });
      });
    })();
    return {
      [Symbol.asyncIterator]: async function* () {
        await started;
        for (;;) {
          const d = await queue.take();
          if (!d) return;
          yield d;
        }
      },
      close: async () => {
        queue.close();
        await started.catch(() => undefined);
        await sub?.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async topic(name: string): Promise<Topic> {
    const cached = this.topics.get(name);
    if (cached) return cached;
    const t = this.client.topic(name.replace(/[^A-Za-z0-9._~+%-]/g, '-'), { messageOrdering: true });
    const [exists] = await t.exists();
    if (!exists) await t.create();
    this.topics.set(name, t);
    return t;
  }
}
