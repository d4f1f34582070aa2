import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';

describeBusContract('memory', async () => new MemoryBus());

describe('MemoryBus capacity', () => {
  it('makes publish wait while a topic is full, and resumes when the consumer acks', async () => {
    const bus = new MemoryBus(5);
    const sub = bus.subscribe('t', 'g', { maxInFlight: 100 });
    let published = 0;
    const producer = (async () => {
      for (let i = 0; i < 20; i++) {
        await bus.publish('t', [{ key: 'k', value: String(i) }]);
        published++;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(published, 5, 'the producer stops at capacity');
    let received = 0;
    for await (const d of sub) {
      await d.ack();
      if (++received === 20) break;
    }
    await producer;
    assert.equal(published, 20);
    await bus.close();
  });
});

describe('MemoryBus memory bound', () => {
  it('makes publish wait once a topic holds maxBytes, whatever the message count, and lets one oversized message through', async () => {
    const bus = new MemoryBus(1_000_000, 10_000);
    const sub = bus.subscribe('t', 'g', { maxInFlight: 1000 });
    const big = 'x'.repeat(3000);
    let published = 0;
    const producer = (async () => {
      for (let i = 0; i < 10; i++) {
        await bus.publish('t', [{ key: 'k', value: big }]);
        published++;
      }
      await bus.publish('t', [{ key: 'k', value: 'y'.repeat(50_000) }]);
      published++;
    })();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(published, 3, 'three 3 kB messages fit in 10 kB; the fourth waits');
    let received = 0;
    for await (const d of sub) {
      await d.ack();
      if (++received === 11) break;
    }
    await producer;
    assert.equal(published, 11, 'a message larger than the bound passes once the topic is empty');
    await bus.close();
  });
});
