import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import pg from 'pg';
import { FinmeshError } from '../../src/core/errors.js';
import { PostgresMetadataStore } from '../../src/metadata/postgres/postgres-metadata-store.js';
import { MIGRATIONS } from '../../src/metadata/postgres/postgres-migrations.js';
import { locationOf } from '../../src/metadata/postgres/postgres-pool.js';
import { createMetadataStore } from '../../src/metadata/registry.js';
import { describeMetadataContract } from '../contracts/metadata-contract.js';
import { waitFor } from '../helpers.js';
import { freePort, POSTGRES_BIN_DIR, skipUnless, startPostgres } from '../launchers.js';

const skip = skipUnless(POSTGRES_BIN_DIR !== undefined, 'PostgreSQL', 'Debian: apt-get install postgresql');

// One server for the file, started by the first test that needs it; every store gets a fresh schema of its own.
let server: ReturnType<typeof startPostgres> | undefined;
const postgres = () => {
  server ??= startPostgres();
  return server;
};
after(async () => {
  await server?.then(
    (s) => s.stop(),
    () => undefined,
  );
});
const freshSchema = () => `finmesh_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

/** Runs SQL as the cluster's superuser. */
async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: (await postgres()).connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Asserts `e` is a FinmeshError with `code` whose message and whole printed form (causes included) lack `secret`. */
function assertSafeError(e: unknown, code: string, location: string, secret: string): true {
  assert.ok(e instanceof FinmeshError, `expected a FinmeshError, found ${inspect(e)}`);
  assert.equal(e.code, code, e.message);
  assert.ok(e.message.includes(location), `the message names ${location}: ${e.message}`);
  assert.ok(!inspect(e, { depth: 10 }).includes(secret), `the password leaked: ${inspect(e, { depth: 10 })}`);
  return true;
}

describeMetadataContract(
  'postgres',
  async (clock) => {
    const { connectionString } = await postgres();
    const schema = freshSchema();
    return {
      store: await PostgresMetadataStore.create({ connectionString, schema, clock }),
      openAnother: (c) => PostgresMetadataStore.create({ connectionString, schema, clock: c }),
    };
  },
  skip,
);

describe('PostgresMetadataStore', () => {
  it('names its location without user, password or parameters', () => {
    assert.equal(locationOf('postgres://app:s3cret@db.internal:6432/meta?sslmode=require'), 'postgres://db.internal:6432/meta');
    assert.equal(locationOf('postgresql://app:s3cret@/meta?host=/cloudsql/p:r:i'), 'postgres:///cloudsql/p:r:i:5432/meta');
    assert.throws(
      () => locationOf('postgres://app:s3cret@db internal/meta'),
      (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && !inspect(e, { depth: 10 }).includes('s3cret'),
    );
  });

  it('refuses a schema name it would have to quote', async () => {
    await assert.rejects(
      PostgresMetadataStore.create({ connectionString: 'postgres://127.0.0.1:1/x', schema: 'Finmesh; DROP' }),
      (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID',
    );
  });

  it('is UNAVAILABLE, naming the store but not the password, when nothing listens', async () => {
    const port = await freePort();
    const password = `pw-${randomUUID()}`;
    await assert.rejects(
      PostgresMetadataStore.create({ connectionString: `postgres://finmesh:${password}@127.0.0.1:${port}/meta` }),
      (e: unknown) => assertSafeError(e, 'UNAVAILABLE', `postgres://127.0.0.1:${port}/meta`, password),
    );
  });

  it('gives up on a server that accepts the connection and never answers, after the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      await assert.rejects(
        PostgresMetadataStore.create({ connectionString: `postgres://finmesh:pw@127.0.0.1:${port}/meta`, connectTimeoutMs: 300 }),
        (e: unknown) => assertSafeError(e, 'UNAVAILABLE', `postgres://127.0.0.1:${port}/meta`, ':pw@'),
      );
      assert.ok(Date.now() - t0 < 5000, `gave up after ${Date.now() - t0} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('PostgresMetadataStore against a real PostgreSQL', skip, () => {
  it('migrates a fresh schema once when several processes open it at the same moment', async () => {
    const { connectionString } = await postgres();
    const schema = freshSchema();
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresMetadataStore.create({ connectionString, schema })));
    try {
      const versions = await admin((c) => c.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`));
      assert.deepEqual(
        versions.rows.map((r) => r.version),
        MIGRATIONS.map((_, i) => i + 1),
      );
      const runId = randomUUID();
      await stores[0]?.runs.start({ runId, job: 'model:x', kind: 'model', startedAt: new Date() });
      assert.deepEqual(
        (await stores[5]?.runs.list({ job: 'model:x' }))?.map((r) => r.runId),
        [runId],
        'every instance sees one store',
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('reopens a migrated schema, and with mustExist refuses (and does not create) a schema that never ran', async () => {
    const { connectionString } = await postgres();
    const schema = freshSchema();
    await (await PostgresMetadataStore.create({ connectionString, schema })).close();
    const again = await PostgresMetadataStore.create({ connectionString, schema, mustExist: true });
    await again.close();
    await again.close();
    const never = freshSchema();
    await assert.rejects(
      PostgresMetadataStore.create({ connectionString, schema: never, mustExist: true }),
      (e: unknown) => e instanceof FinmeshError && e.code === 'NOT_FOUND' && /has the project run yet/.test(e.message),
    );
    const created = await admin((c) => c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [never]));
    assert.equal(created.rowCount, 0);
  });

  it('fails a commit stuck behind another session’s lock with TIMEOUT, and keeps working after', async () => {
    const { connectionString } = await postgres();
    const schema = freshSchema();
    const meta = await PostgresMetadataStore.create({ connectionString, schema, statementTimeoutMs: 300 });
    const commit = (key: string) => meta.manifest.commit({ dataset: 'd', runId: 'r', add: [{ key, rows: 1, bytes: 1 }], replace: [] });
    try {
      await admin(async (c) => {
        await c.query('BEGIN');
        await c.query(`LOCK TABLE ${schema}.files IN ACCESS EXCLUSIVE MODE`);
        await assert.rejects(commit('d/1'), (e: unknown) => e instanceof FinmeshError && e.code === 'TIMEOUT');
        await c.query('ROLLBACK');
      });
      assert.ok((await commit('d/2')) > 0);
      assert.deepEqual(
        (await meta.manifest.liveFiles('d')).map((f) => f.key),
        ['d/2'],
        'the timed-out commit left nothing behind',
      );
    } finally {
      await meta.close();
    }
  });

  it('is opened by the registry from finmesh.yaml, the connection resolved from its secret reference', async () => {
    const { connectionString } = await postgres();
    const schema = freshSchema();
    const config = { kind: 'postgres', connection: 'env:FINMESH_TEST_METADATA_URL', schema } as const;
    await assert.rejects(
      createMetadataStore(config, '/nowhere'),
      (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && /metadata\.connection/.test(e.message),
    );
    process.env.FINMESH_TEST_METADATA_URL = connectionString;
    try {
      const meta = await createMetadataStore(config, '/nowhere');
      try {
        assert.equal(meta.kind, 'postgres');
        assert.ok(!meta.location.includes('@'), meta.location);
      } finally {
        await meta.close();
      }
    } finally {
      delete process.env.FINMESH_TEST_METADATA_URL;
    }
  });

  // Last: it turns on password authentication for every role but the superuser the other tests connect as.
  it('refuses a wrong password with PERMISSION, naming the store but never the password', async () => {
    const { port } = await postgres();
    const right = `right-${randomUUID()}`;
    const wrong = `wrong-${randomUUID()}`;
    // The launcher's cluster trusts every local connection; require SCRAM from the application role.
    await admin(async (c) => {
      await c.query(`CREATE ROLE finmesh_app LOGIN PASSWORD '${right}'`);
      await c.query('GRANT CREATE ON DATABASE postgres TO finmesh_app');
      const hba = (await c.query<{ hba_file: string }>('SHOW hba_file')).rows[0]?.hba_file;
      const rules = ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256'];
      await c.query(`COPY (SELECT unnest(ARRAY[${rules.map((r) => `'${r}'`).join(', ')}])) TO '${hba}'`);
      await c.query('SELECT pg_reload_conf()');
    });
    const as = (password: string, schema = freshSchema()) =>
      PostgresMetadataStore.create({ connectionString: `postgres://finmesh_app:${password}@127.0.0.1:${port}/postgres`, schema });
    // The reload reaches new connections shortly after pg_reload_conf() returns.
    const refused = await waitFor(
      async () => {
        try {
          await (await as(wrong)).close();
          return undefined;
        } catch (e) {
          return e;
        }
      },
      10_000,
      'pg_hba.conf to be reloaded',
    );
    assertSafeError(refused, 'PERMISSION', `postgres://127.0.0.1:${port}/postgres`, wrong);
    await (await as(right)).close();
  });
});
