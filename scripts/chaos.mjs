#!/usr/bin/env node
// The fault-injection suite: runs test/chaos/*.chaos.ts (on the real servers the tests start) and sums what each
// scenario reports — faults injected, kills survived, rows lost, rows duplicated. `--bounded` is CI's form: every
// fault, fewer kills. Exit 1 when a scenario fails, or when the full suite killed fewer than 50 times.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bounded = process.argv.includes('--bounded');
const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = readdirSync('test/chaos')
  .filter((f) => f.endsWith('.chaos.ts') && (filter.length === 0 || filter.some((x) => f.includes(x))))
  .sort()
  .map((f) => join('test/chaos', f));
const work = mkdtempSync(join(tmpdir(), 'finmesh-chaos-'));
const reportFile = join(work, 'figures.ndjson');
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, FINMESH_CHAOS: bounded ? 'bounded' : 'full', FINMESH_CHAOS_REPORT: reportFile },
});
const figures = existsSync(reportFile)
  ? readFileSync(reportFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
rmSync(work, { recursive: true, force: true });
const sum = (k) => figures.reduce((a, f) => a + f[k], 0);
const width = Math.max(5, ...figures.map((f) => f.fault.length));
console.log(`\nfinmesh chaos (${bounded ? 'bounded' : 'full'})`);
console.log(`${'fault'.padEnd(width)}  injected  kills  expected rows  lost  duplicated`);
for (const f of figures)
  console.log(
    `${f.fault.padEnd(width)}  ${String(f.injected).padStart(8)}  ${String(f.kills).padStart(5)}  ${String(f.expected).padStart(13)}  ${String(f.lost).padStart(4)}  ${String(f.duplicated).padStart(10)}`,
  );
const kills = sum('kills');
console.log(`${figures.length} faults survived; ${kills} kills; ${sum('lost')} rows lost; ${sum('duplicated')} duplicated`);
let status = r.status ?? 1;
if (!bounded && filter.length === 0 && kills < 50) {
  console.log(`fewer than 50 kills (${kills}): the full suite must kill at least 50 times`);
  status = 1;
}
if (sum('lost') > 0 || sum('duplicated') > 0) status = 1;
process.exit(status);
