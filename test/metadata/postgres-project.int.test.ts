import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';
import { type Launched, POSTGRES_BIN_DIR, skipUnless, startPostgres } from '../launchers.js';

const skip = skipUnless(POSTGRES_BIN_DIR !== undefined, 'PostgreSQL', 'Debian: apt-get install postgresql');
let server: (Launched & { connectionString: string }) | undefined;
after(async () => {
  await server?.stop();
});

describe('a project whose metadata lives in PostgreSQL', skip, () => {
  it('streams, builds, answers queries and keeps its runs in one store that separate processes share', async () => {
    server = await startPostgres();
    const dir = copyExample();
    const yaml = join(dir, 'finmesh.yaml');
    writeFileSync(
      yaml,
      readFileSync(yaml, 'utf8').replace(
        /metadata:\n(\s+.*\n)+?(?=\S)/,
        'metadata:\n  kind: postgres\n  connection: env:FINMESH_TEST_METADATA_URL\n',
      ),
    );
    assert.match(readFileSync(yaml, 'utf8'), /kind: postgres/);
    const env = { FINMESH_TEST_METADATA_URL: server.connectionString };
    assert.equal(cli(['validate', '--project', dir], { env }).status, 0);
    assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--rate', '50', '--json'], { env }).status, 0);
    const s = cli(['stream', '--project', dir, '--until-caught-up', '--json'], { env });
    assert.equal(s.status, 0, s.stderr);
    assert.ok(!existsSync(join(dir, '.finmesh/metadata.db')), 'no SQLite store on the side');
    const q = cli(
      ['query', 'select count(*) n, count(distinct transaction_id) d from payments_silver.transactions', '--project', dir, '--json'],
      {
        env,
      },
    );
    assert.equal(q.status, 0, q.stderr);
    const [row] = JSON.parse(q.stdout) as { n: number; d: number }[];
    assert.ok(row && row.n > 0 && row.n === row.d, JSON.stringify(row));
    const runs = cli(['runs', '--job', 'model:transactions', '--json', '--project', dir], { env });
    assert.equal(runs.status, 0, runs.stderr);
    assert.equal((JSON.parse(runs.stdout) as { jobs: { runs: { status: string }[] }[] }).jobs[0]?.runs[0]?.status, 'succeeded');
    // A second writer process on the same store: the incremental model picks up only what is new.
    assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '50'], { env }).status, 0);
    assert.equal(cli(['stream', '--project', dir, '--until-caught-up'], { env }).status, 0);
    const again = JSON.parse(
      cli(['query', 'select count(*) n, count(distinct transaction_id) d from payments_silver.transactions', '--project', dir, '--json'], {
        env,
      }).stdout,
    ) as { n: number; d: number }[];
    assert.ok((again[0]?.n ?? 0) > row.n && again[0]?.n === again[0]?.d);
  });

  it('names the secret when the connection reference cannot be resolved, and never prints a password', () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), '');
    const yaml = join(dir, 'finmesh.yaml');
    writeFileSync(
      yaml,
      readFileSync(yaml, 'utf8').replace(
        /metadata:\n(\s+.*\n)+?(?=\S)/,
        'metadata:\n  kind: postgres\n  connection: env:FINMESH_TEST_UNSET_URL\n',
      ),
    );
    const r = cli(['runs', '--project', dir], { env: { FINMESH_TEST_UNSET_URL: '' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /FINMESH_TEST_UNSET_URL/);
    const bad = cli(['runs', '--project', dir], { env: { FINMESH_TEST_UNSET_URL: 'postgres://finmesh:s3cr3t-pw@127.0.0.1:1/db' } });
    assert.notEqual(bad.status, 0);
    assert.doesNotMatch(bad.stderr, /s3cr3t-pw/);
  });
});
