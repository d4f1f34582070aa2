import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Bus, busText, type Delivery } from '../../src/bus/bus.js';

/**
 * The behaviour every bus adapter must show. `make` returns a fresh bus; `topic` names are unique per test so
 * durable adapters start clean.
 */
export function describeBusContract(
  name: string,
  make: () => Promise<Bus>,
  /** `attemptsSurviveResubscribe: false` for Kafka: offsets, not per-message state, decide redelivery. */
  /**
   * `oneUnackedPerKey: true` for Pub/Sub with message ordering: a key's next message is delivered only once the one
   * before it is acked (Google's pstest holds to this strictly), so the redelivery test spreads its messages over keys (and
   * expects again exactly the ones it did not ack, in whatever order keys come).
   */
  options: { skip?: string; attemptsSurviveResubscribe?: boolean; oneUnackedPerKey?: boolean } = {},
): void {
  describe(`bus contract: ${name}`, { skip: options.skip }, () => {
    let bus: Bus;
    let n = 0;
    const topic = () => `contract-${Date.now()}-${n++}`;
    before(async () => {
      bus = await make();
    });
    after(async () => {
      await bus?.close();
    });

    async function take(it: AsyncIterator<Delivery>, count: number, ms = 10_000, ackEach = false): Promise<Delivery[]> {
      const out: Delivery[] = [];
      const deadline = Date.now() + ms;
      while (out.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`received ${out.length} of ${count} messages`);
        const r = await Promise.race([it.next(), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), left))]);
        if (r === 'timeout') throw new Error(`received ${out.length} of ${count} messages before the deadline`);
        if (r.done) break;
        if (ackEach) await r.value.ack();
        out.push(r.value);
      }
      return out;
    }

    it('delivers every message once per group, in publish order for each key', async () => {
      const t = topic();
      const messages = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 7}`, value: `${i % 7}:${Math.floor(i / 7)}` }));
      await bus.publish(t, messages);
      const sub = bus.subscribe(t, 'g1', { maxInFlight: 50 });
      const it = sub[Symbol.asyncIterator]();
      const got = await take(it, 300, 20_000, true);
      await sub.close();
      // An adapter may hand a value back as text or as its UTF-8 bytes (`Message.value`): compared as text.
      assert.equal(new Set(got.map((d) => busText(d.message.value))).size, 300);
      const perKey = new Map<string, number[]>();
      for (const d of got) {
        const [k, seq] = busText(d.message.value).split(':');
        perKey.set(String(k), [...(perKey.get(String(k)) ?? []), Number(seq)]);
        assert.equal(d.message.key, `k${k}`);
      }
      for (const [k, seqs] of perKey)
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          `order for key ${k}`,
        );
    });

    it('takes one publish of several large messages (4 MiB in all), and delivers each whole, in order', async () => {
      const t = topic();
      const messages = Array.from({ length: 8 }, (_, i) => ({ key: 'big', value: `${i}:${String(i).repeat(500 * 1024)}` }));
      await bus.publish(t, messages);
      const sub = bus.subscribe(t, 'g1', { maxInFlight: 8 });
      const got = await take(sub[Symbol.asyncIterator](), 8, 30_000, true);
      await sub.close();
      assert.deepEqual(
        got.map((d) => busText(d.message.value).split(':')[0]),
        messages.map((_, i) => String(i)),
      );
      for (const [i, d] of got.entries()) assert.equal(busText(d.message.value), messages[i]?.value, `message ${i} arrives whole`);
    });

    it('delivers messages published as UTF-8 bytes with the same content, in order (up to 512 KiB each)', async () => {
      const t = topic();
      const texts = [`{"n":0,"name":"José 💳"}\n{"n":1}`, 'x'.repeat(512 * 1024 - 16), '{"n":2,"note":"ação"}'];
      // Bytes that are a view into a larger buffer, as a source's page is cut into messages.
      const page = Buffer.from(`HEAD${texts.join('')}TAIL`);
      let at = 4;
      const values = texts.map((s) => {
        const n = Buffer.byteLength(s);
        const v = page.subarray(at, at + n);
        at += n;
        return v;
      });
      await bus.publish(
        t,
        values.map((value) => ({ key: 'bytes', value })),
      );
      const sub = bus.subscribe(t, 'g1', { maxInFlight: 3 });
      const got = await take(sub[Symbol.asyncIterator](), 3, 30_000, true);
      await sub.close();
      assert.deepEqual(
        got.map((d) => busText(d.message.value)),
        texts,
      );
    });

    it('delivers unacknowledged messages again to the next subscription of the group, acked ones not', async () => {
      const t = topic();
      await bus.publish(
        t,
        Array.from({ length: 10 }, (_, i) => ({ key: options.oneUnackedPerKey ? `k${i}` : 'k', value: String(i) })),
      );
      const first = bus.subscribe(t, 'g', { maxInFlight: 10, ackWaitMs: 1000 });
      const got = await take(first[Symbol.asyncIterator](), 10);
      for (const d of got.slice(0, 4)) await d.ack();
      await first.close();
      const second = bus.subscribe(t, 'g', { maxInFlight: 10, ackWaitMs: 1000 });
      const again = await take(second[Symbol.asyncIterator](), 6);
      // Across keys a bus may deliver in any order: what comes again is exactly what was not acked.
      const unacked = options.oneUnackedPerKey ? got.slice(4).map((d) => busText(d.message.value)) : ['4', '5', '6', '7', '8', '9'];
      assert.deepEqual(again.map((d) => busText(d.message.value)).sort(), unacked.sort());
      if (options.attemptsSurviveResubscribe ?? true)
        assert.ok(
          again.every((d) => d.attempt >= 2),
          'redeliveries say so',
        );
      for (const d of again) await d.ack();
      await second.close();
    });

    it('redelivers a nak’d message', async () => {
      const t = topic();
      await bus.publish(t, [{ key: 'k', value: 'x' }]);
      const sub = bus.subscribe(t, 'g', { maxInFlight: 5, ackWaitMs: 5000 });
      const it = sub[Symbol.asyncIterator]();
      const [d1] = await take(it, 1);
      await d1?.nak();
      const [d2] = await take(it, 1);
      assert.equal(d2 && busText(d2.message.value), 'x');
      assert.ok((d2?.attempt ?? 0) >= 2);
      await d2?.ack();
      await sub.close();
    });

    it('applies backpressure: never more than maxInFlight unacknowledged deliveries', async () => {
      const t = topic();
      await bus.publish(
        t,
        Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
      );
      const sub = bus.subscribe(t, 'g', { maxInFlight: 10, ackWaitMs: 10_000 });
      const it = sub[Symbol.asyncIterator]();
      const firstTen = await take(it, 10);
      const pending = it.next();
      const more = await Promise.race([pending, new Promise<'blocked'>((res) => setTimeout(() => res('blocked'), 700))]);
      assert.equal(more, 'blocked', 'an eleventh delivery waits for an ack');
      for (const d of firstTen) await d.ack();
      const eleventh = await pending;
      assert.ok(!eleventh.done);
      await eleventh.value.ack();
      const rest = await take(it, 89, 15_000, true);
      assert.equal(
        new Set([...firstTen, eleventh.value, ...rest].map((d) => busText(d.message.value))).size,
        100,
        'delivery resumes after acks',
      );
      await sub.close();
    });
  });
}
