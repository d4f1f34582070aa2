// The servers around finmesh fail while data flows: NATS (the bus) and PostgreSQL (the app's database, read by
// logical replication) restarted mid-stream, the SFTP connection cut mid-file. finmesh rides through or stops and is
// started again, as a supervisor would; at the end every row is in the lake once.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { copyExample, tempDir } from '../helpers.js';
import { type Launched, NATS_BIN, POSTGRES_BIN_DIR, skipUnless, startNats, startPostgres } from '../launchers.js';
import { startTcpProxy } from '../tcp-proxy.js';
import {
  bronzeChanges,
  catchUp,
  exited,
  partnerFile,
  partnerProject,
  query,
  randomMs,
  report,
  run,
  scale,
  silverFigures,
  sleep,
  sqliteApp,
  start,
  superviseStream,
} from './chaos-kit.js';

const servers: Launched[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

describe('chaos: servers fail mid-stream', () => {
  it('NATS restarted while the stream publishes and consumes through it', {
    timeout: 900_000,
    ...skipUnless(NATS_BIN !== undefined, 'nats-server', 'Debian: apt-get install nats-server'),
  }, async () => {
    const nats = await startNats();
    servers.push(nats);
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), `bus:\n  kind: nats\n  servers: ${nats.url}\n`);
    const restarts = scale(6, 2);
    const gen = start(['generate', '--project', dir, '--seconds', String(restarts * 4 + 4), '--rate', '150']);
    const stream = superviseStream(dir);
    for (let i = 0; i < restarts; i++) {
      await sleep(randomMs(1500, 3500));
      await nats.restart();
    }
    assert.equal(await exited(gen.child), 0, gen.output());
    await stream.stop();
    await catchUp(dir);
    const app = sqliteApp(dir);
    assert.equal((await bronzeChanges(dir)).d, app.changes, 'bronze holds every change the app committed');
    report({ fault: 'NATS restarted mid-stream', injected: restarts, kills: 0, ...(await silverFigures(dir, app.transactions)) });
    process.stdout.write(`# chaos: the stream ended on its own ${stream.restarts.length} times and was started again\n`);
  });

  it('PostgreSQL restarted while the stream reads its replication slot', {
    timeout: 900_000,
    ...skipUnless(POSTGRES_BIN_DIR !== undefined, 'PostgreSQL', 'Debian: apt-get install postgresql'),
  }, async () => {
    const server = await startPostgres();
    servers.push(server);
    const dir = copyExample();
    const source = join(dir, 'domains/payments/sources/core-transactions.yaml');
    const yaml = readFileSync(source, 'utf8').replace(
      /kind: sqlite-outbox\n(#.*\n)?database: .*\naggregate: transactions\n/,
      'kind: postgres\nconnection: env:FINMESH_TEST_PG\ntable: public.transactions\nslot: finmesh_chaos\n',
    );
    assert.match(yaml, /kind: postgres/);
    writeFileSync(source, yaml);
    const env = { FINMESH_TEST_PG: server.connectionString };
    const restarts = scale(5, 2);
    // The app writes in bursts (it cannot write while its database is down); the stream reads all along.
    const burst = async (seed: number) => {
      const g = await run(['generate', '--project', dir, '--seconds', '3', '--rate', '150', '--seed', String(seed)], env);
      assert.equal(g.code, 0, g.output);
    };
    await burst(1);
    const stream = superviseStream(dir, env);
    for (let i = 0; i < restarts; i++) {
      await burst(100 + i);
      await server.restart();
    }
    await burst(999);
    await stream.stop();
    await catchUp(dir, env);
    const client = new pg.Client({ connectionString: server.connectionString });
    await client.connect();
    const app = Number((await client.query('SELECT count(*) AS n FROM public.transactions')).rows[0].n);
    await client.end();
    assert.ok(app > 500, `the app wrote ${app} transactions`);
    report({ fault: 'PostgreSQL restarted mid-stream', injected: restarts, kills: 0, ...(await silverFigures(dir, app, env)) });
    process.stdout.write(`# chaos: the stream ended on its own ${stream.restarts.length} times and was started again\n`);
  });

  it('the SFTP connection cut mid-file, again and again', { timeout: 900_000 }, async () => {
    const root = tempDir('chaos-cut-');
    mkdirSync(join(root, 'drop'), { recursive: true });
    const sftp = await EmbeddedSftpServer.start({ root, username: 'partner', password: 'pw-chaos', hostKeyFile: join(tempDir(), 'hk') });
    const proxy = await startTcpProxy(sftp.port);
    try {
      const dir = partnerProject(sftp, 'drop', proxy.port);
      const env = { CHAOS_SFTP_PASSWORD: 'pw-chaos' };
      let lines = 0;
      for (let n = 0; n < 8; n++) lines += partnerFile(root, 'drop', n, 4000);
      const cuts = scale(8, 3);
      let happened = 0;
      for (let i = 0; i < cuts; i++) {
        // Somewhere inside the next files' bytes (each is ~250 KB on the wire, two new ones each round).
        proxy.cutAfter(randomMs(10_000, 400_000));
        const r = await run(['ingest', 'acquirer-settlements', '--project', dir], env);
        assert.ok(r.code === 0 || r.code === 1, `ingest ended with ${r.code}: ${r.output}`);
        if (proxy.cut) happened++;
        lines += partnerFile(root, 'drop', 100 + 2 * i, 4000) + partnerFile(root, 'drop', 101 + 2 * i, 4000);
      }
      proxy.cutAfter(Number.MAX_SAFE_INTEGER);
      const last = await run(['ingest', 'acquirer-settlements', '--project', dir], env);
      assert.equal(last.code, 0, last.output);
      const [b] = await query<{ n: number; d: number }>(
        dir,
        'select count(*) n, count(distinct id) d from partners_bronze.settlements',
        env,
      );
      assert.ok(b);
      assert.ok(happened > 0, 'a connection was cut');
      report({
        fault: 'SFTP connection cut mid-file',
        injected: happened,
        kills: 0,
        expected: lines,
        lost: lines - b.d,
        duplicated: b.n - b.d,
      });
    } finally {
      await proxy.close();
      await sftp.close();
    }
  });
});
