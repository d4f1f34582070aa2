// Event → gold latency in a running stream: `finmesh demo` as a user runs it (its own process: the app writing
// changes, the stream, the models triggered by new transactions), and the p99 of event time → completion of the
// first gold build that included the change, as the demo reports it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchRow, type Sample, units, valueBar } from '../harness.js';

const BIN = fileURLToPath(new URL('../../bin/finmesh.js', import.meta.url));
const run = promisify(execFile);

interface DemoJson {
  eventsPerSecond: number;
  latencySeconds: { toBronze: { p99: number | null }; toGold: { samples: number; p50: number | null; p99: number | null } };
  runs: { failed: number };
}

export const eventGold: BenchRow = {
  id: 'gold',
  title: 'event → gold p99 in `finmesh demo`',
  unit: units.seconds,
  bar: valueBar('<', 5, units.seconds),
  async open(env) {
    const seconds = Number(env.settings['demo-seconds'] ?? 60);
    return {
      finmesh: {
        label: `finmesh demo --seconds ${seconds}`,
        async sample(): Promise<Sample> {
          const { stdout } = await run(
            process.execPath,
            [BIN, 'demo', '--seconds', String(seconds), '--dir', join(env.work, 'demo'), '--port', '0', '--json'],
            { maxBuffer: 64 * 2 ** 20 },
          );
          const d = JSON.parse(stdout) as DemoJson;
          const gold = d.latencySeconds.toGold;
          if (gold.p99 === null || gold.samples === 0) throw new Error('the demo built no gold that included a change');
          if (d.runs.failed > 0) throw new Error(`${d.runs.failed} runs of the demo failed`);
          return {
            value: gold.p99,
            extra: {
              p50: gold.p50 ?? Number.NaN,
              'bronze p99': d.latencySeconds.toBronze.p99 ?? Number.NaN,
              'events/s': d.eventsPerSecond,
            },
          };
        },
      },
    };
  },
};
