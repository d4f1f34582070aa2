import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { type Launched, POSTGRES_BIN_DIR, skipUnless, startPostgres } from '../launchers.js';

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

/**
 * Generates app traffic while `finmesh stream` is killed with SIGKILL at random moments and restarted, then lets a
 * last stream catch up. Returns the silver counts and what the app wrote.
 */
async function killAndRestart(dir: string, env: NodeJS.ProcessEnv): Promise<{ generated: number; silver: { n: number; d: number } }> {
  const gen = cliAsync(['generate', '--project', dir, '--seconds', '14', '--rate', '250', '--json'], { env });
  let genOut = '';
  gen.stdout?.on('data', (d) => {
    genOut += d;
  });
  let genErr = '';
  gen.stderr?.on('data', (d) => {
    genErr += d;
  });
  const genDone = exited(gen);
  await waitFor(() => (genOut || genErr || gen.exitCode !== null ? undefined : true), 5000, 'generate to start');
  let kills = 0;
  for (let i = 0; i < 6; i++) {
    const stream = cliAsync(['stream', '--project', dir], { env });
    let err = '';
    stream.stderr?.on('data', (d) => {
      err += d;
    });
    // Kill at a random moment: sometimes during start-up, sometimes mid-batch or mid-model run.
    await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 2000)));
    if (stream.exitCode !== null) assert.fail(`stream exited on its own (${stream.exitCode}): ${err}`);
    stream.kill('SIGKILL');
    await exited(stream);
    kills++;
  }
  assert.equal(await genDone, 0, genErr);
  assert.ok(kills >= 5);
  const last = cli(['stream', '--project', dir, '--until-caught-up', '--json'], { env });
  assert.equal(last.status, 0, last.stderr);
  const generated = JSON.parse(genOut).transactions as number;
  const q = cli(
    ['query', 'select count(*) n, count(distinct transaction_id) d from payments_silver.transactions', '--project', dir, '--json'],
    { env },
  );
  assert.equal(q.status, 0, q.stderr);
  const [silver] = JSON.parse(q.stdout) as { n: number; d: number }[];
  assert.ok(silver);
  return { generated, silver };
}

describe('crash safety: SIGKILL the stream, restart, nothing lost, nothing duplicated', () => {
  it('sqlite outbox', { timeout: 180_000 }, async () => {
    const dir = copyExample();
    const { generated, silver } = await killAndRestart(dir, {});
    assert.ok(generated > 1000, `generated ${generated}`);
    assert.equal(silver.n, generated, 'silver holds every generated transaction');
    assert.equal(silver.d, generated, 'and each once');
    // Every change the app committed is in bronze, and silver holds each transaction's latest version.
    const app = new Database(join(dir, '.finmesh/app.db'), { readonly: true });
    const outbox = (app.prepare("SELECT count(*) AS n FROM outbox WHERE aggregate = 'transactions'").get() as { n: number }).n;
    const latest = new Map(
      (app.prepare('SELECT id, version FROM transactions').all() as { id: string; version: number }[]).map((r) => [r.id, r.version]),
    );
    app.close();
    const b = cli(['query', 'select count(distinct (id, version)) n from payments_bronze.transactions', '--project', dir, '--json']);
    assert.equal(JSON.parse(b.stdout)[0].n, outbox);
    const s = cli(['query', 'select transaction_id, version from payments_silver.transactions', '--project', dir, '--json']);
    const rows = JSON.parse(s.stdout) as { transaction_id: string; version: number }[];
    for (const r of rows) assert.equal(r.version, latest.get(r.transaction_id), r.transaction_id);
  });

  const skip = skipUnless(POSTGRES_BIN_DIR !== undefined, 'PostgreSQL', 'Debian: apt-get install postgresql');
  let server: (Launched & { connectionString: string }) | undefined;
  after(async () => {
    await server?.stop();
  });
  it('postgres logical replication', { timeout: 180_000, ...skip }, async () => {
    server = await startPostgres();
    const dir = copyExample();
    const source = join(dir, 'domains/payments/sources/core-transactions.yaml');
    const yaml = readFileSync(source, 'utf8').replace(
      /kind: sqlite-outbox\n(#.*\n)?database: .*\naggregate: transactions\n/,
      'kind: postgres\nconnection: env:FINMESH_TEST_PG\ntable: public.transactions\nslot: finmesh_crash_test\n',
    );
    assert.match(yaml, /kind: postgres/);
    writeFileSync(source, yaml);
    const env = { FINMESH_TEST_PG: server.connectionString };
    const { generated, silver } = await killAndRestart(dir, env);
    assert.ok(generated > 1000, `generated ${generated}`);
    assert.equal(silver.n, generated);
    assert.equal(silver.d, generated);
    const client = new pg.Client({ connectionString: server.connectionString });
    await client.connect();
    const slot = await client.query(
      "SELECT confirmed_flush_lsn IS NOT NULL AS ok FROM pg_replication_slots WHERE slot_name = 'finmesh_crash_test'",
    );
    await client.end();
    assert.equal(slot.rows[0]?.ok, true, 'the slot was acknowledged');
  });
});
