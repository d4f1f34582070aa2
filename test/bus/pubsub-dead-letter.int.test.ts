import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { busText } from '../../src/bus/bus.js';
import { deadLetterNames, PubSubBus } from '../../src/bus/pubsub/pubsub-bus.js';
import { INSTALL_HINT, PSTEST_BIN, type StandIn, startPstest } from '../gcp-stand-ins.js';
import { skipUnless } from '../launchers.js';

// Dead letters on Pub/Sub (pstest in CI, a real project with FINMESH_PUBSUB_PROJECT): what the bus contract cannot say.
const live = process.env.FINMESH_PUBSUB_PROJECT;
const skip = live ? {} : skipUnless(PSTEST_BIN !== undefined, 'pstest (Google’s in-memory Pub/Sub server)', INSTALL_HINT);
const projectId = live ?? 'finmesh-test';
let server: StandIn | undefined;
before(async () => {
  if (skip.skip || live) return;
  server = await startPstest();
  process.env.PUBSUB_EMULATOR_HOST = server.url;
});
after(async () => {
  await server?.stop();
});

describe('pubsub bus: dead letters', skip, () => {
  it('moves a message nobody can process to the dead-letter topic after maxDeliveryAttempts', async () => {
    const bus = await PubSubBus.create({ projectId, maxDeliveryAttempts: 5, groups: ['writer'] });
    const topic = `dlq-${Date.now()}`;
    const sub = bus.subscribe(topic, 'writer', { maxInFlight: 10, ackWaitMs: 10_000 });
    const it = sub[Symbol.asyncIterator]();
    await bus.publish(topic, [{ key: 'k', value: 'poison' }]);
    const attempts: number[] = [];
    for (;;) {
      const d = await Promise.race([it.next(), new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), 5000))]);
      if (d === 'quiet' || d.done) break;
      if (busText(d.value.message.value) !== 'poison') throw new Error(`unexpected ${busText(d.value.message.value)}`);
      attempts.push(d.value.attempt);
      await d.value.nak();
    }
    assert.deepEqual(attempts, [1, 2, 3, 4, 5], 'delivered five times, each attempt counted');
    await sub.close();

    const { PubSub } = await import('@google-cloud/pubsub');
    const client = new PubSub({ projectId });
    const names = deadLetterNames(topic, 'writer');
    const dead = client.subscription(names.subscription);
    const got = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('nothing reached the dead-letter topic')), 10_000);
      dead.on('message', (m) => {
        clearTimeout(timer);
        m.ack();
        resolve(m.data.toString());
      });
    });
    await dead.close();
    await client.close();
    await bus.close();
    assert.equal(got, 'poison');
  });
});
