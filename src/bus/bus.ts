/**
 * The event bus between change-feed readers and the lake writer. Delivery is at least once: a message not acked
 * is delivered again (after `ackWaitMs`, on `nak`, or to the next subscription of the same group), so consumers
 * must be idempotent — the lake writer is, by file name and by the source checkpoint it commits with each batch.
 */
export interface Bus {
  readonly kind: string;
  /**
   * Publishes in order. Resolves once the bus has accepted every message (persisted, for a durable bus). Waits
   * while the topic is at capacity, which is how a slow consumer slows the producer instead of growing memory.
   * Messages of up to 512 KiB each are accepted, however many one call carries (the adapter splits what its server
   * takes per request).
   */
  publish(topic: string, messages: BusMessage[]): Promise<void>;
  /**
   * Bytes a publish should carry for the bus to run at its speed: a bus that sends one request at a time to a remote
   * server (Kafka) goes faster with fewer, larger publishes, and a caller that can gather its pages first (the
   * stream's reader) does. Unset: any size is as good.
   */
  readonly publishBytes?: number;
  /**
   * Consumes `topic` as `group`: each message goes to one subscription of the group, in publish order per key.
   * At most `maxInFlight` deliveries are outstanding (unacked) at once.
   */
  subscribe(topic: string, group: string, options?: SubscribeOptions): Subscription;
  close(): Promise<void>;
}

export interface BusMessage {
  /** Partitioning and ordering key. */
  key: string;
  /**
   * Text, or UTF-8 bytes (a payload that never needs to become a JS string, such as a page of change lines: the
   * embedded bus hands the same value over; the durable buses (NATS, Kafka, Pub/Sub) the bytes they received).
   */
  value: string | Uint8Array;
}

/** A message value as text (bytes are UTF-8). */
export function busText(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

/** A message value's size in bytes (text as UTF-8). */
export function busBytes(value: string | Uint8Array): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
}

export interface Delivery {
  message: BusMessage;
  /** 1 on first delivery, more on redelivery. */
  attempt: number;
  ack(): Promise<void>;
  /** Asks for redelivery now. */
  nak(): Promise<void>;
}

export interface Subscription extends AsyncIterable<Delivery> {
  /** Stops delivering; unacked deliveries will be delivered again to the group. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Upper bound on unacked deliveries (default 1000). */
  maxInFlight?: number;
  /** Redeliver a delivery not acked within this time (default 30 s). */
  ackWaitMs?: number;
}

export const DEFAULT_MAX_IN_FLIGHT = 1000;
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** The consumer group of finmesh's lake writer (`finmesh stream` subscribes to `changes.<source>` as this group). */
export const LAKE_WRITER_GROUP = 'lake-writer';
