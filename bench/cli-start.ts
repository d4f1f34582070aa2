// CLI start time: `finmesh --help` and `finmesh query "select 1"` on a demo project, against `duckdb -c "select 1"`
// (the DuckDB CLI, when on PATH or in .cache/duckdb-cli) or else Node's own start (`node -e 0`). Alternating pairs
// (A-B, B-A), wall time of the whole process on both sides; min, median and the median of pairwise ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface StartRow {
  benchmark: string;
  finmesh: string;
  reference: string;
  ratio: number;
  bar: string;
}

const BIN = resolve('bin/finmesh.js');
const BAR_MS = 300;

function wall(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function duckdbCli(): string | undefined {
  for (const c of [join('.cache', 'duckdb-cli', 'bin', 'duckdb'), 'duckdb']) {
    try {
      execFileSync(c, ['-c', 'select 1'], { stdio: 'ignore' });
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function benchCliStart(work: string, pairs = 7): Promise<StartRow[]> {
  if (!existsSync(resolve('dist/.built')))
    console.error('cli start: dist/ is not built (npm run build): finmesh runs from its TypeScript sources, slower');
  const demo = join(work, 'cli-demo');
  execFileSync(process.execPath, [BIN, 'demo', '--seconds', '4', '--dir', demo, '--port', '0', '--json'], { stdio: 'ignore' });
  const duckdb = duckdbCli();
  const reference = duckdb
    ? { label: 'duckdb -c "select 1"', run: () => wall(duckdb, ['-c', 'select 1']) }
    : { label: 'node -e 0 (Node alone; no DuckDB CLI found)', run: () => wall(process.execPath, ['-e', '0']) };
  const cases: [string, string[]][] = [
    ['finmesh --help', ['--help']],
    ['finmesh query "select 1" (demo project)', ['query', 'select 1', '--project', demo]],
  ];
  const rows: StartRow[] = [];
  for (const [label, args] of cases) {
    wall(process.execPath, [BIN, ...args]); // warm the page cache on both sides
    reference.run();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < pairs; i++) {
      if (i % 2 === 0) {
        a.push(wall(process.execPath, [BIN, ...args]));
        b.push(reference.run());
      } else {
        b.push(reference.run());
        a.push(wall(process.execPath, [BIN, ...args]));
      }
    }
    const ratios = a.map((x, i) => x / (b[i] as number));
    rows.push({
      benchmark: `CLI start: ${label} (wall ms, ${pairs} pairs)`,
      finmesh: `${Math.round(median(a))} median, ${Math.round(Math.min(...a))} min`,
      reference: `${Math.round(median(b))} median, ${Math.round(Math.min(...b))} min (${reference.label})`,
      ratio: median(ratios),
      bar: `< ${BAR_MS} ms`,
    });
  }
  return rows;
}

/** Whether a CLI-start row meets its bar (the median, in ms). */
export function startMeetsBar(r: { finmesh: string; bar: string }): boolean {
  return Number.parseFloat(r.finmesh) < Number(r.bar.replace(/[^0-9.]/g, ''));
}
