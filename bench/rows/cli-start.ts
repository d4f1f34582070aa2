// CLI start: `finmesh --help`, and `finmesh query "select 1"` on a demo project, against `duckdb -c "select 1"` (the
// DuckDB CLI, on the PATH or in .cache/duckdb-cli/bin) or, without it, Node's own start (`node -e 0`). Both sides
// are the wall time of a whole process, started the same way; one untimed run of each warms the page cache.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchEnv, type BenchRow, type Side, units, valueBar } from '../harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/finmesh.js');

/** Seconds of wall time for the process to run and exit. */
function wall(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

function duckdbCli(): string | undefined {
  for (const c of [join(ROOT, '.cache', 'duckdb-cli', 'bin', 'duckdb'), 'duckdb']) {
    try {
      execFileSync(c, ['-c', 'select 1'], { stdio: 'ignore' });
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function reference(): Side {
  const duckdb = duckdbCli();
  return duckdb
    ? { label: 'duckdb -c "select 1"', sample: async () => wall(duckdb, ['-c', 'select 1']) }
    : { label: 'node -e 0 (Node alone; no DuckDB CLI found)', sample: async () => wall(process.execPath, ['-e', '0']) };
}

function startRow(id: string, title: string, args: (env: BenchEnv) => string[]): BenchRow {
  return {
    id,
    title,
    unit: units.seconds,
    bar: valueBar('<', 0.3, units.seconds),
    async open(env) {
      if (!existsSync(join(ROOT, 'dist/.built')))
        env.log('  dist/ is not built (npm run build): finmesh runs from its TypeScript sources, slower');
      const a = args(env);
      const ref = reference();
      wall(process.execPath, [BIN, ...a]);
      await ref.sample();
      return {
        finmesh: { label: `finmesh ${a.slice(0, 2).join(' ')}`, sample: async () => wall(process.execPath, [BIN, ...a]) },
        reference: ref,
      };
    },
  };
}

export const cliHelp = startRow('cli', 'CLI start: `finmesh --help`', () => ['--help']);

export const cliQuery = startRow('cli-query', 'CLI start: `finmesh query "select 1"` on a demo project', (env) => {
  const demo = join(env.work, 'cli-demo');
  execFileSync(process.execPath, [BIN, 'demo', '--seconds', '4', '--dir', demo, '--port', '0', '--json'], { stdio: 'ignore' });
  return ['query', 'select 1', '--project', demo];
});
