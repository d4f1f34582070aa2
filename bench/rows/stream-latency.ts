// Event → bronze latency under load: the app (its own process, bench/load/outbox-writer.ts) offers changes to its
// outbox at 200k/s for a while as the embedded stream runs; each change's latency is from the time it was written
// to the commit of the bronze batch that holds it, over every change (none dropped). The bar is a p99 at the bar's
// rate: a sample whose writer could not offer 200k changes/s on this machine does not meet it, whatever its p99.
// An app writes on its own machine; here it shares two CPUs with the stream, which (reading and writing as fast as
// it can) would take the CPU the app needs to offer the load. So the writer runs at a higher priority (nice -10,
// where the bench may set it; shown as `writer_nice`): the load is offered at its rate, and the stream has what is
// left of the machine — if that is not enough to keep up, its latency shows it. At nice -5 the stream's threads (its
// main thread, DuckDB's two, libuv's) still outweighed the writer at times: each run's first samples offered
// 170k–186k changes/s; at -10 every sample offers 199k–200k.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { openContext } from '../../src/jobs/context.js';
import { StreamJob } from '../../src/jobs/stream.js';
import { prepareSession } from '../../src/lake/session.js';
import { percentile } from '../../src/observability/latency.js';
import { benchProject } from '../fixtures.js';
import { type BenchRow, type Sample, units } from '../harness.js';

const WRITER = fileURLToPath(new URL('../load/outbox-writer.ts', import.meta.url));
const RATE = 200_000;
const WRITER_NICE = -10;

/** Starts the writer and resolves once it is ready, with a function that starts it and resolves with what it did. */
async function startWriter(
  db: string,
  rate: number,
  seconds: number,
): Promise<{ nice: number; go: () => Promise<{ written: number; seconds: number; cpuSeconds: number }> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, db, String(rate), String(seconds)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let nice = 0;
  try {
    setPriority(child.pid ?? 0, WRITER_NICE);
    nice = WRITER_NICE;
  } catch {
    // Without the right to raise a priority (CAP_SYS_NICE), the writer shares the CPUs evenly with the stream.
  }
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`the load writer did not start (exit ${await exited})`);
  const go = async () => {
    child.stdin.end('go\n');
    const last = await lines.next();
    const code = await exited;
    if (code !== 0 || typeof last.value !== 'string') throw new Error(`the load writer failed (exit ${code})`);
    return JSON.parse(last.value) as { written: number; seconds: number; cpuSeconds: number };
  };
  return { nice, go };
}

export const streamLatency: BenchRow = {
  id: 'latency',
  title: 'event → bronze p99 at 200k changes/s offered, embedded',
  unit: units.seconds,
  bar: {
    text: `< 2 s with ≥ ${RATE / 1000}k changes/s offered`,
    met: (r) => (r.finmesh?.stats.median ?? Number.POSITIVE_INFINITY) < 2 && (r.finmesh?.extra.offered?.median ?? 0) >= RATE * 0.98,
  },
  async open(env) {
    const seconds = Number(env.settings['load-seconds'] ?? 10);
    const rate = Number(env.settings['load-rate'] ?? RATE);
    const dir = join(env.work, 'stream');
    return {
      finmesh: {
        label: 'embedded stream under the app’s load',
        async sample(): Promise<Sample> {
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          const db = join(dir, 'app.db');
          const { nice, go } = await startWriter(db, rate, seconds);
          const project = benchProject(dir, { sources: ['core-transactions'] });
          for (const s of project.sources) if (s.config.kind === 'sqlite-outbox') s.config.database = db;
          const ctx = await openContext(project);
          try {
            await prepareSession(ctx);
            // Every change's latency, not a sample of them.
            const latencies: number[] = [];
            let committed = 0;
            const job = new StreamJob(ctx, {
              bus: new MemoryBus(),
              onCommit: (c) => {
                committed += c.records;
                for (const t of c.eventTimes) latencies.push(Math.max(0, c.committedAt - t) / 1000);
              },
            });
            await job.start();
            const offered = await go();
            // Everything offered must reach bronze: latency counts the changes still queued when the load stops.
            const deadline = Date.now() + 600_000;
            while (committed < offered.written && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            await job.close();
            if (committed !== offered.written) throw new Error(`the stream committed ${committed} of ${offered.written} changes`);
            return {
              value: percentile(latencies, 0.99) ?? Number.NaN,
              // The writer's CPU for the same work says how fast the machine was in this sample (on this machine
              // it has taken 5.6 to 7.6 CPU s for 10 s at 200k/s, hour to hour): a slow sample on a slow machine
              // shows as both.
              extra: {
                p50: percentile(latencies, 0.5) ?? Number.NaN,
                offered: offered.written / offered.seconds,
                writer_nice: nice,
                writer_cpu_s: offered.cpuSeconds,
              },
            };
          } finally {
            await ctx.close();
          }
        },
      },
    };
  },
};
