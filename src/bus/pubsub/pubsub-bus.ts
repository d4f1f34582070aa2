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
  /** Deliveries of one message before it goes to the dead-letter topic (Pub/Sub allows 5–100). */
  maxDeliveryAttempts?: number | undefined;
  /**
   * Consumer groups whose subscriptions are created with each topic. Pub/Sub delivers to a subscription only what is
   * published after it exists, so a group known in advance (finmesh's `lake-writer`) loses nothing published before
   * its first consumer connects. `finmesh iac terraform` creates the same subscriptions.
   */
  groups?: readonly string[] | undefined;
}

/** Deliveries before a message is dead-lettered when the configuration does not say. */
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 10;

/** The dead-letter topic of `topic`, and the subscription that keeps what reaches it for a group. */
export function deadLetterNames(topic: string, group: string): { topic: string; subscription: string } {
  return { topic: safeName(`${topic}.dead-letter`), subscription: safeName(`${topic}.${group}.dead-letter`) };
}

/**
 * Google Cloud Pub/Sub. Topics and subscriptions are created on first use; messages carry the key as ordering key
 * (message ordering enabled on the subscription), flow control caps outstanding messages at `maxInFlight`, and
 * the ack deadline is `ackWaitMs`. Every subscription has a dead-letter topic (`<topic>.dead-letter`, kept by the
 * subscription `<topic>.<group>.dead-letter`): a message delivered `maxDeliveryAttempts` times without an ack goes
 * there instead of blocking its ordering key for ever. Honours `PUBSUB_EMULATOR_HOST` (the client library does).
 */
export class PubSubBus implements Bus {
  readonly kind = 'pubsub';
  private readonly topics = new Map<string, Promise<Topic>>();

  private constructor(
    private readonly client: PubSub,
    private readonly maxDeliveryAttempts: number,
    private readonly groups: readonly string[],
  ) {}

  static async create(options: PubSubBusOptions): Promise<PubSubBus> {
    const attempts = options.maxDeliveryAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 5 || attempts > 100)
      throw new FinmeshError('CONFIG_INVALID', `bus.maxDeliveryAttempts: expected an integer from 5 to 100, found ${attempts}`);
    const { PubSub } = await import('@google-cloud/pubsub');
    return new PubSubBus(new PubSub({ projectId: options.projectId }), attempts, options.groups ?? []);
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
      const name = await this.ensureSubscription(topic, t, group, options.ackWaitMs);
      sub = t.subscription(name, {
        flowControl: { maxMessages: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, allowExcessMessages: false },
      });
      sub.on('message', (m: Message) => {
        queue.push({
          // The payload's bytes, as the other durable buses hand them over: a page of change lines stays bytes.
          message: { key: m.attributes.key ?? m.orderingKey ?? '', value: m.data },
          attempt: m.deliveryAttempt || 1,
          ack: async () => {
            await m.ackWithResponse();
          },
          nak: async () => {
            await m.nackWithResponse();
          },
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

  /** The topic, created (with the subscriptions of the known groups) on first use. */
  private topic(name: string, withGroups = true): Promise<Topic> {
    const cached = this.topics.get(name);
    if (cached) return cached;
    const ready = (async () => {
      const t = this.client.topic(safeName(name), { messageOrdering: true });
      try {
        const [exists] = await t.exists();
        if (!exists) await ignoreAlreadyExists(t.create());
        if (withGroups) for (const g of this.groups) await this.ensureSubscription(name, t, g, undefined);
        return t;
      } catch (cause) {
        this.topics.delete(name);
        throw cause instanceof FinmeshError
          ? cause
          : new FinmeshError('UNAVAILABLE', `Pub/Sub topic ${name}: ${(cause as Error).message}`, { cause });
      }
    })();
    this.topics.set(name, ready);
    return ready;
  }

  /**
   * The group's subscription: message ordering on, the ack deadline from `ackWaitMs` (Pub/Sub takes whole seconds
   * from 10 to 600), and the dead-letter policy with its topic and the subscription that keeps dead letters.
   */
  private async ensureSubscription(topic: string, t: Topic, group: string, ackWaitMs: number | undefined): Promise<string> {
    const name = safeName(`${topic}.${group}`);
    const [exists] = await t.subscription(name).exists();
    if (exists) return name;
    const dead = deadLetterNames(topic, group);
    const deadTopic = await this.topic(dead.topic, false);
    const [keeper] = await deadTopic.subscription(dead.subscription).exists();
    if (!keeper) await ignoreAlreadyExists(deadTopic.createSubscription(dead.subscription));
    await ignoreAlreadyExists(
      t.createSubscription(name, {
        enableMessageOrdering: true,
        ackDeadlineSeconds: Math.min(600, Math.max(10, Math.ceil((ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 1000))),
        deadLetterPolicy: { deadLetterTopic: deadTopic.name, maxDeliveryAttempts: this.maxDeliveryAttempts },
      }),
    );
    return name;
  }
}

/** Pub/Sub resource names allow letters, digits and `-_.~+%`. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._~+%-]/g, '-');
}

/** A create that lost a race with another creator of the same resource is not a failure (gRPC ALREADY_EXISTS). */
async function ignoreAlreadyExists(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if ((e as { code?: unknown }).code !== 6) throw e;
  }
}
