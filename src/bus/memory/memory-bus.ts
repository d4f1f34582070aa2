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

interface Entry {
  seq: number;
  message: BusMessage;
  ackedBy: Set<string>;
  size: number;
}

interface Group {
  cursor: number;
  inflight: Map<number, { entry: Entry; timer: NodeJS.Timeout }>;
  redeliver: Entry[];
  attempts: Map<number, number>;
  wake: (() => void) | undefined;
}

class Topic {
  /** Retained messages in seq order, from `head` on (earlier slots are released, compacted now and then). */
  entries: Entry[] = [];
  head = 0;
  groups = new Map<string, Group>();
  nextSeq = 1;
  /** Characters of the keys and values retained (one byte each for the Latin-1 text V8 stores compactly). */
  bytes = 0;
  spaceWaiters: (() => void)[] = [];
}

/** Retained bytes per topic beyond which `publish` waits (default). */
export const DEFAULT_MEMORY_BUS_MAX_BYTES = 256 * 1024 * 1024;
/** Retained messages per topic beyond which `publish` waits (default). */
export const DEFAULT_MEMORY_BUS_CAPACITY = 100_000;

/**
 * The embedded bus: bounded in-process queues. It claims no durability — after a crash the source checkpoint is
 * what makes the stream resume without loss. A message stays until every group acked it; `publish` waits while a
 * topic holds `capacity` messages or `maxBytes` of them (a single larger message still passes an empty topic), so
 * the memory it takes is bounded whatever the message size.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly topics = new Map<string, Topic>();
  private closed = false;

  constructor(
    private readonly capacity = DEFAULT_MEMORY_BUS_CAPACITY,
    private readonly maxBytes = DEFAULT_MEMORY_BUS_MAX_BYTES,
  ) {}

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    const t = this.topic(topic);
    for (const message of messages) {
      const size = message.key.length + (typeof message.value === 'string' ? message.value.length : message.value.byteLength);
      const retained = () => t.entries.length - t.head;
      while (retained() >= this.capacity || (retained() > 0 && t.bytes + size > this.maxBytes)) {
        if (this.closed) throw new FinmeshError('UNAVAILABLE', 'the bus is closed');
        await new Promise<void>((resolve) => t.spaceWaiters.push(resolve));
      }
      t.entries.push({ seq: t.nextSeq++, message, ackedBy: new Set(), size });
      t.bytes += size;
    }
    for (const g of t.groups.values()) g.wake?.();
  }

  subscribe(topic: string, group: string, options: SubscribeOptions = {}): Subscription {
    const t = this.topic(topic);
    let g = t.groups.get(group);
    if (!g) {
      g = { cursor: t.entries[t.head]?.seq ?? t.nextSeq, inflight: new Map(), redeliver: [], attempts: new Map(), wake: undefined };
      t.groups.set(group, g);
    }
    const state = g;
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    let active = true;
    const requeue = (seq: number) => {
      const f = state.inflight.get(seq);
      if (!f) return;
      clearTimeout(f.timer);
      state.inflight.delete(seq);
      state.redeliver.push(f.entry);
      state.redeliver.sort((a, b) => a.seq - b.seq);
      state.wake?.();
    };
    const next = (): Entry | undefined => {
      if (state.redeliver.length > 0) return state.redeliver.shift();
      for (let i = firstAtOrAfter(t, state.cursor); i < t.entries.length; i++) {
        const e = t.entries[i] as Entry;
        if (state.inflight.has(e.seq) || e.ackedBy.has(group)) continue;
        state.cursor = e.seq + 1;
        return e;
      }
      return undefined;
    };
    const bus = this;
    const iterator = async function* (): AsyncGenerator<Delivery> {
      while (active && !bus.closed) {
        const entry = state.inflight.size < maxInFlight ? next() : undefined;
        if (!entry) {
          await new Promise<void>((resolve) => {
            state.wake = resolve;
          });
          state.wake = undefined;
          continue;
        }
        const attempt = (state.attempts.get(entry.seq) ?? 0) + 1;
        state.attempts.set(entry.seq, attempt);
        state.inflight.set(entry.seq, { entry, timer: setTimeout(() => requeue(entry.seq), ackWaitMs).unref() });
        yield {
          message: entry.message,
          attempt,
          ack: async () => {
            const f = state.inflight.get(entry.seq);
            if (!f) return;
            clearTimeout(f.timer);
            state.inflight.delete(entry.seq);
            state.attempts.delete(entry.seq);
            entry.ackedBy.add(group);
            bus.release(t);
            state.wake?.();
          },
          nak: async () => requeue(entry.seq),
        };
      }
    };
    return {
      [Symbol.asyncIterator]: iterator,
      close: async () => {
        active = false;
        for (const seq of [...state.inflight.keys()]) requeue(seq);
        state.wake?.();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.topics.values()) {
      for (const g of t.groups.values()) g.wake?.();
      for (const w of t.spaceWaiters.splice(0)) w();
    }
  }

  private topic(name: string): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = new Topic();
      this.topics.set(name, t);
    }
    return t;
  }

  /** Drops messages every group acked, and lets waiting publishers go on. */
  private release(t: Topic): void {
    const groups = [...t.groups.keys()];
    const before = t.head;
    while (t.head < t.entries.length && groups.every((g) => t.entries[t.head]?.ackedBy.has(g))) {
      t.bytes -= (t.entries[t.head] as Entry).size;
      t.head++;
    }
    if (t.head === before) return;
    if (t.head > 4096 && t.head > t.entries.length / 2) {
      t.entries = t.entries.slice(t.head);
      t.head = 0;
    }
    for (const w of t.spaceWaiters.splice(0)) w();
  }
}

/** Index of the first retained entry with seq >= `seq` (entries are sorted by seq). */
function firstAtOrAfter(t: Topic, seq: number): number {
  let lo = t.head;
  let hi = t.entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((t.entries[mid] as Entry).seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
