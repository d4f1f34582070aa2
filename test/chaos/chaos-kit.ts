// What the fault-injection suite (`npm run chaos`, test/chaos/*.chaos.ts) shares: how hard it goes, how a scenario
// reports its figures (kills survived, rows lost, rows duplicated), and how it kills a finmesh command at a random
// moment. Every figure comes from the data itself: what the app (or the partner) wrote against what the lake holds.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { cliAsync, copyExample } from '../helpers.js';

/** `full` (`npm run chaos`) or `bounded` (the form `.ci/run` runs: every fault, fewer kills). */
export const MODE: 'full' | 'bounded' = process.env.FINMESH_CHAOS === 'full' ? 'full' : 'bounded';

/** `full` in the full suite, `bounded` in CI's. */
export function scale(full: number, bounded: number): number {
  return MODE === 'full' ? full : bounded;
}

export interface Figure {
  /** What was done to finmesh. */
  fault: string;
  /** How many times it was done (kills, restarts, cuts, lock periods, jumps). */
  injected: number;
  /** SIGKILLs among them. */
  kills: number;
  /** Rows the source held, which the lake must hold once each. */
  expected: number;
  lost: number;
  duplicated: number;
}

/** Prints a scenario's figures and adds them to the run's report (`FINMESH_CHAOS_REPORT`), then asserts them. */
export function report(f: Figure): void {
  process.stdout.write(
    `# chaos: ${f.fault}: ${f.injected} injected (${f.kills} kills survived); ${f.expected} rows expected, ${f.lost} lost, ${f.duplicated} duplicated\n`,
  );
  if (process.env.FINMESH_CHAOS_REPORT) appendFileSync(process.env.FINMESH_CHAOS_REPORT, `${JSON.stringify(f)}\n`);
  assert.equal(f.lost, 0, `${f.fault}: rows lost`);
  assert.equal(f.duplicated, 0, `${f.fault}: rows duplicated`);
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));
}

export function randomMs(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}

export interface Started {
  child: ChildProcess;
  /** The end of its stdout and stderr together. */
  output(): string;
  stdout(): string;
}

/** A finmesh command in the background, its stdout and stderr kept (for the message of a failed assertion). */
export function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = cliAsync(args, { env });
  let out = '';
  let stdout = '';
  child.stdout?.on('data', (d) => {
    out += d;
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return { child, output: () => out.slice(-4000), stdout: () => stdout };
}

/**
 * Runs a command and SIGKILLs it after a random `minMs`–`maxMs`. Returns whether it was killed (true) or had ended
 * on its own first, with its exit code; a command that ended on its own with a failure fails the scenario.
 */
export async function killAtRandom(args: string[], env: NodeJS.ProcessEnv, minMs: number, maxMs: number): Promise<boolean> {
  const s = start(args, env);
  const ended = exited(s.child);
  const outcome = await Promise.race([ended.then(() => 'ended' as const), sleep(randomMs(minMs, maxMs)).then(() => 'kill' as const)]);
  if (outcome === 'ended') {
    assert.equal(s.child.exitCode, 0, `${args.join(' ')} ended on its own with ${s.child.exitCode}: ${s.output()}`);
    return false;
  }
  s.child.kill('SIGKILL');
  await ended;
  return true;
}

/** Runs a command to its end without blocking this process (which may be serving it: the embedded SFTP server). */
export async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string; stdout: string }> {
  const s = start(args, env);
  const code = await exited(s.child);
  return { code, output: s.output(), stdout: s.stdout() };
}

/** The fault's own duration (a kill's random moment, a lock held, a server down): never a wait for work. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `finmesh query … --json`, parsed. */
export async function query<R>(dir: string, sql: string, env: NodeJS.ProcessEnv = {}): Promise<R[]> {
  const r = await run(['query', sql, '--project', dir, '--json'], env);
  assert.equal(r.code, 0, r.output);
  return JSON.parse(r.stdout) as R[];
}

/** A last `stream --until-caught-up`, which must succeed. */
export async function catchUp(dir: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): Promise<void> {
  const r = await run(['stream', '--project', dir, '--until-caught-up', '--json', ...extra], env);
  assert.equal(r.code, 0, `the last stream: ${r.output}`);
}

/** Silver transactions against what the app holds: lost and duplicated rows. */
export async function silverFigures(dir: string, appTransactions: number, env: NodeJS.ProcessEnv = {}) {
  const [s] = await query<{ n: number; d: number }>(
    dir,
    'select count(*) n, count(distinct transaction_id) d from payments_silver.transactions',
    env,
  );
  assert.ok(s);
  return { expected: appTransactions, lost: appTransactions - s.d, duplicated: s.n - s.d };
}

/** Transactions and outbox changes the example app (SQLite) committed. */
export function sqliteApp(dir: string): { transactions: number; changes: number } {
  const app = new Database(join(dir, '.finmesh/app.db'), { readonly: true });
  try {
    const transactions = (app.prepare('SELECT count(*) AS n FROM transactions').get() as { n: number }).n;
    const changes = (app.prepare("SELECT count(*) AS n FROM outbox WHERE aggregate = 'transactions'").get() as { n: number }).n;
    return { transactions, changes };
  } finally {
    app.close();
  }
}

/** Bronze changes of transactions: held, and distinct by (id, version). */
export async function bronzeChanges(dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ n: number; d: number }> {
  const [b] = await query<{ n: number; d: number }>(
    dir,
    'select count(*) n, count(distinct (id, version)) d from payments_bronze.transactions',
    env,
  );
  assert.ok(b);
  return b;
}

export interface Supervised {
  /** Times the stream ended on its own (the fault stopped it) and was started again, with why it ended. */
  readonly restarts: { code: number | null; output: string }[];
  /** SIGTERM: the stream commits what it read and ends; it is not started again. */
  stop(): Promise<void>;
  /** What every stream it started printed (stdout and stderr), the ended ones first. */
  output(): string;
}

/** Supervisors a failed scenario left running: stopped when the file's tests end, or they would restart forever. */
const supervisors = new Set<() => void>();
after(() => {
  for (const abandon of supervisors) abandon();
});

/** Keeps a `finmesh stream` running, as a process supervisor would: started again whenever it ends. */
export function superviseStream(dir: string, env: NodeJS.ProcessEnv = {}): Supervised {
  const restarts: { code: number | null; output: string }[] = [];
  let stopping = false;
  let current = start(['stream', '--project', dir], env);
  const abandon = () => {
    stopping = true;
    current.child.kill('SIGKILL');
  };
  supervisors.add(abandon);
  const watch = (s: Started): void => {
    s.child.once('exit', (code) => {
      if (stopping) return;
      restarts.push({ code, output: s.output() });
      current = start(['stream', '--project', dir], env);
      watch(current);
    });
  };
  watch(current);
  return {
    restarts,
    output: () => [...restarts.map((r) => r.output), current.output()].join('\n'),
    async stop() {
      stopping = true;
      supervisors.delete(abandon);
      const ended = exited(current.child);
      current.child.kill('SIGTERM');
      const code = await ended;
      // Ended by the signal itself: it came while the stream was still starting (nothing read yet, nothing to commit).
      const bySignal = current.child.signalCode === 'SIGTERM';
      assert.ok(code === 0 || code === 1 || bySignal, `the stream ended with ${code} on SIGTERM: ${current.output()}`);
    },
  };
}

/** The example project with its settlements source reading NDJSON files from `/<folder>` on the embedded server. */
export function partnerProject(server: { port: number; fingerprint: string }, folder: string, port = server.port): string {
  const dir = copyExample();
  writeFileSync(
    join(dir, 'domains/partners/sources/acquirer-settlements.yaml'),
    stringify({
      name: 'acquirer-settlements',
      kind: 'sftp',
      host: '127.0.0.1',
      port,
      username: 'partner',
      password: 'env:CHAOS_SFTP_PASSWORD',
      hostKeyFingerprint: server.fingerprint,
      path: `/${folder}`,
      pattern: '*.ndjson',
      format: 'ndjson',
      dataset: 'settlements',
      key: ['id'],
      schema: [
        { name: 'id', type: 'BIGINT' },
        { name: 'amount', type: 'DECIMAL(18,2)' },
        { name: 'merchant', type: 'VARCHAR' },
        { name: '_source_file', type: 'VARCHAR' },
        { name: '_line', type: 'BIGINT' },
      ],
    }),
  );
  return dir;
}

/** Writes partner file number `n` (`lines` rows, ids unique across files), complete: its writer long done. Returns its lines. */
export function partnerFile(root: string, folder: string, n: number, lines: number): number {
  const path = join(root, folder, `SETTLE_${String(n).padStart(4, '0')}.ndjson`);
  const body = Array.from({ length: lines }, (_, k) => {
    const id = n * 100_000 + k;
    return `${JSON.stringify({ id, amount: ((id % 9973) * 1.25).toFixed(2), merchant: `Loja ${id % 300}` })}\n`;
  }).join('');
  writeFileSync(path, body);
  const quiet = new Date(Date.now() - 120_000);
  utimesSync(path, quiet, quiet);
  return lines;
}

/** Files of a lake: the staging folders' contents, and every data file of a derived zone (bronze, silver, gold, quarantine). */
function lakeFiles(lake: string): { staging: string[]; derived: string[] } {
  const all = readdirSync(lake, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(lake, join(e.parentPath, e.name)).split(sep).join('/'));
  return {
    staging: all.filter((k) => k.startsWith('.staging/')),
    derived: all.filter((k) => {
      const parts = k.split('/');
      return (
        ['bronze', 'silver', 'gold', 'quarantine'].includes(parts[1] ?? '') && !parts.some((p) => p.startsWith('.') || p.startsWith('_'))
      );
    }),
  };
}

/**
 * After kills: what the killed writers left in the lake (staging folders, files the metadata never recorded), then
 * `finmesh lake gc` run as if the lake had sat idle past its sweep ages (every file's time set two hours back):
 * afterwards no staging folder is left, and every data file of a derived zone is one the metadata store records.
 */
export async function assertLakeSwept(dir: string): Promise<{ staging: number; orphans: number }> {
  const lake = join(dir, '.finmesh/lake');
  const recorded = (): Set<string> => {
    const db = new Database(join(dir, '.finmesh/metadata.db'), { readonly: true });
    try {
      return new Set((db.prepare('SELECT key FROM files').all() as { key: string }[]).map((r) => r.key));
    } finally {
      db.close();
    }
  };
  const before = lakeFiles(lake);
  const known = recorded();
  const left = {
    staging: new Set(before.staging.map((k) => k.split('/').slice(0, 2).join('/'))).size,
    orphans: before.derived.filter((k) => !known.has(k)).length,
  };
  const past = new Date(Date.now() - 2 * 3_600_000);
  for (const e of readdirSync(lake, { recursive: true, withFileTypes: true }))
    if (e.isFile()) utimesSync(join(e.parentPath, e.name), past, past);
  const gc = await run(['lake', 'gc', '--project', dir, '--json']);
  assert.equal(gc.code, 0, `lake gc: ${gc.output}`);
  const after = lakeFiles(lake);
  assert.deepEqual(after.staging, [], 'no staging folder is left after the sweep');
  const live = recorded();
  assert.deepEqual(
    after.derived.filter((k) => !live.has(k)),
    [],
    'every data file of a derived zone is recorded in the metadata store',
  );
  process.stdout.write(
    `# chaos: the kills left ${left.staging} staging folders and ${left.orphans} unrecorded files; lake gc swept them all\n`,
  );
  return left;
}
