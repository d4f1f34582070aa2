import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import kafkajs from 'kafkajs';
import { busText } from '../../src/bus/bus.js';
import { KafkaBus } from '../../src/bus/kafka/kafka-bus.js';
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
describeBusContract('kafka (single-node KRaft broker)', async () => KafkaBus.create({ brokers: [server?.url ?? ''] }), {
  ...skip,
  attemptsSurviveResubscribe: false,
});

describe('Kafka compression', skip, () => {
  it('reads batches the broker stored with Java snappy (xerial framing), and what it publishes uncompressed', async () => {
    const { CompressionCodecs, CompressionTypes, Kafka } = kafkajs;
    const topic = `xerial-${Date.now()}`;
    // The topic's own codec makes the broker recompress every batch with Java's snappy, whatever the producer sent.
    const admin = new Kafka({ brokers: [server?.brokers ?? ''], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'snappy' }] }] });
    await admin.disconnect();
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
