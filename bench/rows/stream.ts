// Streaming throughput: a backlog of changes in the app's outbox → bronze, with the product's default stream
// settings, through the embedded bus, NATS JetStream and Kafka. Each sample starts from an empty lake and metadata
// store (and, for NATS and Kafka, a fresh server) and is timed from the stream's start until the backlog is committed.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { FintechSimulator } from '../../src/demo/simulator/fintech-simulator.js';
import { SqliteApp } from '../../src/demo/simulator/sqlite-app.js';
import { openContext } from '../../src/jobs/context.js';
import { StreamJob } from '../../src/jobs/stream.js';
import { prepareSession } from '../../src/lake/session.js';
import { KAFKA_AVAILABLE, NATS_BIN, startKafka, startNats } from '../../test/launchers.js';
import { benchProject, fixture } from '../fixtures.js';
import { type BenchEnv, type BenchRow, ratioBar, type Side, time, units, valueBar } from '../harness.js';

/** An app database whose outbox holds `n` transaction changes, generated once. */
export function outboxBacklog(env: BenchEnv, n: number): Promise<string> {
  return fixture(env.fixtures, `outbox-${n}`, async (dir) => {
    env.log(`writing ${n.toLocaleString('en-US')} changes to the app's outbox…`);
    const app = new SqliteApp(join(dir, 'app.db'));
    const sim = new FintechSimulator({
      seed: 2,
      customers: 5000,
      merchants: 500,
      transactionsPerSecond: 20_000,
      start: new Date('2026-11-27T00:00:00Z'),
    });
    for (let written = 0; written < n; ) {
      const batch = sim
        .advance(1000)
        .filter((e) => e.entity === 'transactions')
        .slice(0, n - written);
      app.apply(batch, 5000);
      written += batch.length;
    }
    app.close();
  });
}

/** Streams the backlog of `appDb` through `bus` into a fresh lake under `dir`; returns events/s. */
export async function streamBacklog(appDb: string, dir: string, bus: Bus, n: number): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const project = benchProject(dir, { sources: ['core-transactions'] });
  for (const s of project.sources) if (s.config.kind === 'sqlite-outbox') s.config.database = appDb;
  const ctx = await openContext(project);
  try {
    await prepareSession(ctx);
    const job = new StreamJob(ctx, { bus, untilCaughtUp: true });
    const s = await time(async () => {
      await job.start();
      await job.wait();
    });
    await job.close();
    const committed = Object.values(job.stats.committed).reduce((a, b) => a + b, 0);
    if (committed !== n) throw new Error(`the stream committed ${committed} of ${n} changes`);
    return n / s;
  } finally {
    await ctx.close();
  }
}

const EVENTS = (env: BenchEnv) => Math.min(env.rows, 1_000_000);

function embeddedSide(env: BenchEnv, appDb: string, n: number): Side {
  return { label: 'embedded bus', sample: () => streamBacklog(appDb, join(env.work, 'memory'), new MemoryBus(), n) };
}

export const streamEmbedded: BenchRow = {
  id: 'stream',
  title: 'outbox change feed → bronze, embedded',
  unit: units.eventsPerSecond,
  bar: valueBar('≥', 200_000, units.eventsPerSecond),
  async open(env) {
    const n = EVENTS(env);
    const appDb = join(await outboxBacklog(env, n), 'app.db');
    return { finmesh: embeddedSide(env, appDb, n) };
  },
};

export const streamNats: BenchRow = {
  id: 'stream-nats',
  title: 'outbox → bronze over NATS JetStream, vs embedded',
  unit: units.eventsPerSecond,
  bar: ratioBar('≥', 0.5, '(within 2×)'),
  async open(env) {
    if (!NATS_BIN) return { skip: 'nats-server not found (Debian: apt-get install nats-server)' };
    const n = EVENTS(env);
    const appDb = join(await outboxBacklog(env, n), 'app.db');
    const { NatsBus } = await import('../../src/bus/nats/nats-bus.js');
    return {
      finmesh: {
        label: 'NATS JetStream',
        async sample() {
          const server = await startNats();
          try {
            const bus = await NatsBus.create({ servers: server.url });
            try {
              return await streamBacklog(appDb, join(env.work, 'nats'), bus, n);
            } finally {
              await bus.close();
            }
          } finally {
            await server.stop();
          }
        },
      },
      reference: embeddedSide(env, appDb, n),
    };
  },
};

export const streamKafka: BenchRow = {
  id: 'stream-kafka',
  title: 'outbox → bronze over Kafka, vs embedded',
  unit: units.eventsPerSecond,
  bar: ratioBar('≥', 0.5, '(within 2×)'),
  async open(env) {
    if (!KAFKA_AVAILABLE) return { skip: 'Kafka jars not under .cache/kafka (see test/kafka/pom.xml) or no java' };
    const n = EVENTS(env);
    const appDb = join(await outboxBacklog(env, n), 'app.db');
    const { KafkaBus } = await import('../../src/bus/kafka/kafka-bus.js');
    return {
      finmesh: {
        label: 'Kafka',
        async sample() {
          const server = await startKafka();
          try {
            const bus = await KafkaBus.create({ brokers: [server.brokers] });
            try {
              return await streamBacklog(appDb, join(env.work, 'kafka'), bus, n);
            } finally {
              await bus.close();
            }
          } finally {
            await server.stop();
          }
        },
      },
      reference: embeddedSide(env, appDb, n),
    };
  },
};
