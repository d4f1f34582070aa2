import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { busText } from '../../src/bus/bus.js';
import { KafkaBus, TOPIC_MAX_MESSAGE_BYTES } from '../../src/bus/kafka/kafka-bus.js';
import kafkajs, { type Admin } from '../../src/bus/kafka/kafkajs.js';
import { describeBusContract } from '../contracts/bus-contract.js';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { KAFKA_AVAILABLE, skipUnless, startKafka } from '../launchers.js';

const skip = skipUnless(
  KAFKA_AVAILABLE,
  'a Kafka broker (jars and java)',
  'mvn -q -f test/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=../../.cache/kafka/libs, as .ci/run does',
);
let server: Awaited<ReturnType<typeof startKafka>> | undefined;
before(async () => {
  if (!skip.skip) server = await startKafka();
});
after(async () => {
  await server?.stop();
});

/** Runs `fn` with a kafkajs admin client of the test broker, as an operator's tools would. */
async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new kafkajs.Kafka({ brokers: [server?.brokers ?? ''], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}
describeBusContract('kafka (single-node KRaft broker)', async () => KafkaBus.create({ brokers: [server?.url ?? ''] }), {
  ...skip,
  attemptsSurviveResubscribe: false,
});

describe('Kafka compression', skip, () => {
  it('reads batches the broker stored with Java snappy (xerial framing), and what it publishes uncompressed', async () => {
    const { CompressionCodecs, CompressionTypes } = kafkajs;
    const topic = `xerial-${Date.now()}`;
    // The topic's own codec makes the broker recompress every batch with Java's snappy, whatever the producer sent.
    await withAdmin((admin) =>
      admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'snappy' }] }] }),
    );
    const registered = CompressionCodecs[CompressionTypes.Snappy];
    const framings: string[] = [];
    CompressionCodecs[CompressionTypes.Snappy] = () => {
      const codec = registered();
      return {
        compress: codec.compress,
        decompress: (b: Buffer) => {
          framings.push(b.subarray(1, 7).toString('latin1') === 'SNAPPY' ? 'xerial' : 'raw');
          return codec.decompress(b);
        },
      };
    };
    const producer = await KafkaBus.create({ brokers: [server?.brokers ?? ''], compression: 'none' });
    const consumer = await KafkaBus.create({ brokers: [server?.brokers ?? ''] });
    try {
      const values = [`{"n":0,"name":"José 💳"}`, 'x'.repeat(500 * 1024), ...Array.from({ length: 50 }, (_, i) => `{"n":${i + 2}}`)];
      await producer.publish(
        topic,
        values.map((value) => ({ key: 'k', value })),
      );
      const sub = consumer.subscribe(topic, 'g', { maxInFlight: 100 });
      const got: string[] = [];
      for await (const d of sub) {
        got.push(busText(d.message.value));
        await d.ack();
        if (got.length === values.length) break;
      }
      await sub.close();
      assert.deepEqual(got, values, 'every value arrives whole, in order');
      assert.ok(framings.includes('xerial'), `the broker's batches were read through the xerial framing (${framings.join(', ')})`);
    } finally {
      CompressionCodecs[CompressionTypes.Snappy] = registered;
      await producer.close();
      await consumer.close();
    }
  });
});

describe('Kafka sends', skip, () => {
  const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  /** Every message published to `topic`, read back by a fresh group: values as digests, in order. */
  async function readBack(bus: KafkaBus, topic: string, count: number): Promise<string[]> {
    const sub = bus.subscribe(topic, `g-${topic}`, { maxInFlight: 100 });
    const got: string[] = [];
    for await (const d of sub) {
      got.push(digest(d.message.value as Uint8Array));
      await d.ack();
      if (got.length === count) break;
    }
    await sub.close();
    return got;
  }
  /** Counts the sends (produce requests) a bus makes: each is a round trip to the broker. */
  function countSends(bus: KafkaBus): { sends: number } {
    const counter = { sends: 0 };
    const producer = (bus as unknown as { producer: { send: (...args: unknown[]) => Promise<unknown> } }).producer;
    const send = producer.send.bind(producer);
    producer.send = (...args) => {
      counter.sends++;
      return send(...args);
    };
    return counter;
  }

  it('creates its topics with room for large sends, and several messages of up to 512 KiB arrive whole, in order', async () => {
    const topic = `large-${Date.now()}`;
    const bus = await KafkaBus.create({ brokers: [server?.brokers ?? ''] });
    const again = await KafkaBus.create({ brokers: [server?.brokers ?? ''] });
    try {
      // Random bytes do not compress: 12 of 500 KiB are 6 MB, six times a broker's default limit for a batch.
      const values = Array.from({ length: 12 }, () => randomBytes(500 * 1024));
      const counted = countSends(bus);
      await bus.publish(
        topic,
        values.map((value) => ({ key: 'k', value })),
      );
      assert.ok(counted.sends <= 2, `12 messages in ${counted.sends} sends`);
      // Another process (a restarted stream) finds the topic, reads its limit, and sends as large.
      const more = Array.from({ length: 12 }, () => randomBytes(500 * 1024));
      const counted2 = countSends(again);
      await again.publish(
        topic,
        more.map((value) => ({ key: 'k', value })),
      );
      assert.ok(counted2.sends <= 2, `12 messages in ${counted2.sends} sends to the existing topic`);
      const described = await withAdmin((admin) =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
        }),
      );
      assert.equal(described.resources[0]?.configEntries[0]?.configValue, String(TOPIC_MAX_MESSAGE_BYTES));
      assert.deepEqual(await readBack(bus, topic, values.length + more.length), [...values, ...more].map(digest));
    } finally {
      await bus.close();
      await again.close();
    }
  });

  it('creates its topic with the defaults where topic settings are refused (a creation policy), and sends small', async () => {
    const topic = `policy-${Date.now()}`;
    const bus = await KafkaBus.create({ brokers: [server?.brokers ?? ''] });
    try {
      // A service with a topic creation policy answers POLICY_VIOLATION to any setting; kafkajs' admin rejects with
      // this error (what its createTopics response parser throws). Without settings, the broker creates the topic.
      const admin = (bus as unknown as { admin: Admin }).admin;
      const createTopics = admin.createTopics.bind(admin);
      const asked: boolean[] = [];
      admin.createTopics = async (o) => {
        const settings = o.topics.some((t) => (t.configEntries ?? []).length > 0);
        asked.push(settings);
        if (settings) {
          const refused = new kafkajs.KafkaJSProtocolError('the topic creation policy allows no settings');
          Object.assign(refused, { type: 'POLICY_VIOLATION', code: 44 });
          throw new kafkajs.KafkaJSAggregateError('Topic creation errors', [refused]);
        }
        return createTopics(o);
      };
      const values = Array.from({ length: 4 }, () => randomBytes(500 * 1024));
      const counted = countSends(bus);
      await bus.publish(
        topic,
        values.map((value) => ({ key: 'k', value })),
      );
      assert.deepEqual(asked, [true, false], 'asked with the setting, then without');
      assert.equal(counted.sends, 4, 'sends under the default limit: a message each');
      assert.deepEqual(await readBack(bus, topic, values.length), values.map(digest));
    } finally {
      await bus.close();
    }
  });

  it('sends in halves to a topic whose batches are smaller than its sends, and names a message the topic cannot take', async () => {
    const topic = `small-${Date.now()}`;
    // A topic created elsewhere with a 300 KiB limit: four 200 KiB messages (one send of the default 900 KiB) are
    // refused as one batch, then as two, and go one by one.
    await withAdmin((admin) =>
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(300 * 1024) }] }],
      }),
    );
    const bus = await KafkaBus.create({ brokers: [server?.brokers ?? ''] });
    try {
      const values = Array.from({ length: 9 }, () => randomBytes(200 * 1024));
      await bus.publish(
        topic,
        values.map((value) => ({ key: 'k', value })),
      );
      // The topic's sends stay small: three more messages go in three sends, none refused.
      const more = Array.from({ length: 3 }, () => randomBytes(200 * 1024));
      const counted = countSends(bus);
      await bus.publish(
        topic,
        more.map((value) => ({ key: 'k', value })),
      );
      assert.equal(counted.sends, 3);
      assert.deepEqual(await readBack(bus, topic, 12), [...values, ...more].map(digest), 'each message once, in order');
      await assert.rejects(bus.publish(topic, [{ key: 'k', value: randomBytes(400 * 1024) }]), (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`publishing to ${topic}: the topic refuses a message of 409600 bytes as too large; raise its max.message.bytes`),
        );
        return true;
      });
    } finally {
      await bus.close();
    }
  });
});

/** Bronze Parquet files of the example's transactions, as the stream commits them. */
function bronzeFiles(dir: string): number {
  const bronze = join(dir, '.finmesh/lake/payments/bronze/transactions');
  return existsSync(bronze) ? readdirSync(bronze, { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length : 0;
}

describe('finmesh stream on Kafka', skip, () => {
  it('fails with a clear final error when the broker stops answering mid-stream, and loses nothing once it answers again', async () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), `bus:\n  kind: kafka\n  brokers: ${server?.brokers}\n`);
    assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--rate', '100']).status, 0);
    const stream = cliAsync(['stream', '--project', dir, '--no-models']);
    let stderr = '';
    stream.stderr?.on('data', (d) => {
      stderr += d;
    });
    const ended = new Promise<number | null>((resolve) => stream.once('exit', (code) => resolve(code)));
    try {
      await waitFor(
        () => {
          if (stream.exitCode !== null) assert.fail(`the stream ended with ${stream.exitCode} before the broker stalled: ${stderr}`);
          return bronzeFiles(dir) > 0 ? true : undefined;
        },
        120_000,
        'the stream to commit a batch through Kafka',
      );
      server?.stall();
      // More changes while the broker hangs: the stream must publish them through it, and cannot.
      assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '100', '--seed', '7']).status, 0);
      // Bounded: the stream gives up by itself (a hung stream would hit this deadline, far beyond its retries).
      const code = await waitFor(async () => (stream.exitCode !== null ? stream.exitCode : undefined), 300_000, 'the stream to give up');
      await ended;
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`Kafka at ${server?.brokers}.*(did not answer|timed out)`, 'i'));
      assert.doesNotMatch(stderr, /a bug|\n\s+at /);
    } finally {
      server?.resume();
      stream.kill('SIGKILL');
    }
    // Once the broker answers again, the next stream takes every change, once.
    const again = cli(['stream', '--project', dir, '--until-caught-up', '--no-models', '--json']);
    assert.equal(again.status, 0, again.stderr);
    const q = cli(['query', 'select count(distinct (id, version)) d from payments_bronze.transactions', '--project', dir, '--json']);
    assert.equal(q.status, 0, q.stderr);
    const app = new Database(join(dir, '.finmesh/app.db'), { readonly: true });
    const changes = (app.prepare("SELECT count(*) AS n FROM outbox WHERE aggregate = 'transactions'").get() as { n: number }).n;
    app.close();
    assert.equal(JSON.parse(q.stdout)[0].d, changes, 'bronze holds every change the app committed');
  });
});
