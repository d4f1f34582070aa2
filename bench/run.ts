// npm run bench [-- --only ROW[,ROW] --pairs N --rows N --json --set key=value --list --help]
// Every row runs finmesh and its reference in alternating pairs (A-B, B-A) and prints each side's median [min–max],
// the median of pairwise ratios, its bar and BELOW BAR where missed (exit code 1 then). See bench/README.md.
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchEnv, formatReport, report, runRow } from './harness.js';
import { ROWS } from './rows/index.js';

const USAGE = `usage: npm run bench [-- options]
  --only ROW[,ROW]   run these rows only (--list names them)
  --pairs N          alternating finmesh/reference pairs per row (default 5)
  --rows N           rows of the generated inputs (default 1000000)
  --set key=value    a row's setting (bench/README.md)
  --json             the report as JSON on standard output
  --fresh-fixtures   make the shared inputs again
  --list             the rows and their bars
  --help             this text`;

let values: ReturnType<typeof parse>['values'];
try {
  ({ values } = parse());
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}

function parse() {
  return parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      pairs: { type: 'string', default: '5' },
      rows: { type: 'string', default: '1000000' },
      json: { type: 'boolean', default: false },
      set: { type: 'string', multiple: true },
      list: { type: 'boolean', default: false },
      'fresh-fixtures': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.list) {
  for (const r of ROWS) console.log(`${r.id.padEnd(16)} ${r.title}${r.bar ? ` (bar ${r.bar.text})` : ''}`);
  process.exit(0);
}
const pairs = Number(values.pairs);
const rows = Number(values.rows);
if (!Number.isInteger(pairs) || pairs < 1 || !Number.isInteger(rows) || rows < 1000) {
  console.error('--pairs must be a positive integer and --rows an integer of at least 1000');
  process.exit(2);
}
const only = values.only?.flatMap((o) => o.split(',')).filter(Boolean);
const unknown = only?.filter((o) => !ROWS.some((r) => r.id === o));
if (unknown && unknown.length > 0) {
  console.error(`unknown row ${unknown.join(', ')}; rows: ${ROWS.map((r) => r.id).join(', ')}`);
  process.exit(2);
}
const settings = Object.fromEntries((values.set ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const log = (m: string) => process.stderr.write(`${m}\n`);
if (pairs < 5) log(`note: ${pairs} pairs per row; the bench's figures take at least 5`);

const work = resolve('bench/.work');
const fixtures = join(work, 'fixtures');
if (values['fresh-fixtures']) rmSync(fixtures, { recursive: true, force: true });
const loadBefore = loadavg()[0] ?? 0;
const results = [];
for (const row of ROWS.filter((r) => !only || only.includes(r.id))) {
  const dir = join(work, 'rows', row.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env: BenchEnv = { work: dir, fixtures, rows, pairs, settings, log };
  log(`${row.id}: ${row.title}`);
  const r = await runRow(row, env);
  if (r.skipped) log(`  skipped: ${r.skipped}`);
  if (r.error) log(`  failed: ${r.error}`);
  results.push(r);
  rmSync(dir, { recursive: true, force: true });
}
const out = report(results, { pairs, rows, loadBefore });
if (values.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
else console.log(`\n${formatReport(out, new Map(ROWS.map((r) => [r.id, r])))}`);
if (results.some((r) => r.met === false || r.error)) process.exitCode = 1;
