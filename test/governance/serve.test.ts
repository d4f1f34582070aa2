import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { AccessPolicy } from '../../src/governance/access.js';
import { ROOT, waitFor } from '../helpers.js';
import { skipUnless } from '../launchers.js';
import { ranGovernedProject, type Served, serveWithSql, TOKENS } from './fixture.js';

const PSYCOPG = join(ROOT, '.cache/psycopg/bin/python');
const JDBC_DIR = join(ROOT, '.cache/jdbc');
const jdbcJar = () => (existsSync(JDBC_DIR) ? readdirSync(JDBC_DIR).find((f) => /^postgresql-.*\.jar$/.test(f)) : undefined);
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

let dir: string;
let served: Served;
let policy: AccessPolicy;
before(async () => {
  dir = await ranGovernedProject();
  served = await serveWithSql(dir);
  const project = loadProject(dir);
  policy = new AccessPolicy(project, project.access as NonNullable<typeof project.access>);
});
after(async () => {
  await served?.stop();
});

const http = async (path: string, persona?: string, init: RequestInit = {}): Promise<Response> => {
  const send = () =>
    fetch(`${served.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(persona ? { authorization: `Bearer ${TOKENS[persona]}` } : {}), ...init.headers },
    });
  try {
    return await send();
  } catch (e) {
    // The clients below run with spawnSync, which stops this process's event loop for a minute or more: fetch may then
    // reuse a kept-alive connection the server closed meanwhile (idle past its keep-alive timeout). The request never
    // reached the server; send it again on a new connection.
    if ((e as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw e;
    return send();
  }
};

/** Every route of `finmesh serve` but /healthz, with the permission it needs (several: any of them). */
const ROUTES: { method: string; path: string; permission: string | string[]; body?: unknown }[] = [
  { method: 'GET', path: '/readyz', permission: 'metrics' },
  { method: 'GET', path: '/metrics', permission: 'metrics' },
  { method: 'GET', path: '/api/v1/catalog', permission: 'catalog' },
  { method: 'GET', path: '/api/v1/access', permission: 'catalog' },
  { method: 'POST', path: '/api/v1/query', permission: 'query', body: { sql: 'SELECT * FROM payments_gold.daily_volume_by_method' } },
  { method: 'GET', path: '/api/v1/runs', permission: 'runs' },
  { method: 'GET', path: '/api/v1/events', permission: ['catalog', 'runs'] },
  { method: 'GET', path: '/api/v1/lineage?nodeId=x', permission: 'lineage:read' },
  { method: 'POST', path: '/api/v1/lineage', permission: 'lineage:write', body: {} },
  { method: 'GET', path: '/api/v1/audit', permission: 'audit' },
  { method: 'GET', path: '/api/v1/audit/verify', permission: 'audit' },
];

describe('finmesh serve: authentication and authorisation on every route', () => {
  it('answers /healthz to anyone and 401 without a valid token on every other route', async () => {
    assert.equal((await http('/healthz')).status, 200);
    for (const r of ROUTES) {
      const init = { method: r.method, ...(r.body ? { body: JSON.stringify(r.body) } : {}) };
      const none = await http(r.path, undefined, init);
      assert.equal(none.status, 401, `${r.method} ${r.path} without a token`);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const bad = await http(r.path, undefined, { ...init, headers: { authorization: 'Bearer not-a-token' } });
      assert.equal(bad.status, 401, `${r.method} ${r.path} with an unknown token`);
    }
  });

  it('answers 403 naming the permission to a persona that lacks it, on every route, and lets one that has it through', async () => {
    const personas = policy.personas();
    for (const r of ROUTES) {
      const init = { method: r.method, ...(r.body ? { body: JSON.stringify(r.body) } : {}) };
      const wanted = [r.permission].flat();
      const has = (p: string) => wanted.some((w) => policy.persona(p).api.includes(w as never));
      const lacking = personas.find((p) => !has(p));
      const holding = personas.find((p) => has(p) && policy.persona(p).grants.length > 0);
      assert.ok(lacking && holding, `the example has personas with and without ${wanted.join(' or ')}`);
      const denied = await http(r.path, lacking, init);
      assert.equal(denied.status, 403, `${r.method} ${r.path} as ${lacking}`);
      assert.match(((await denied.json()) as { message: string }).message, new RegExp(`missing the permission ${wanted.join(' or ')}`));
      const allowed = await http(r.path, holding, init);
      // The body is read only on a refusal: the events route streams until the client leaves.
      if (allowed.status === 401 || allowed.status === 403)
        assert.fail(`${r.method} ${r.path} as ${holding}: ${allowed.status} ${await allowed.text()}`);
      await allowed.body?.cancel();
    }
  });

  it('serves the catalog and queries with the persona’s grants, 403 for a dataset without one', async () => {
    const catalog = (await (await http('/api/v1/catalog', 'bi-service')).json()) as { products: { product: string; zone: string }[] };
    assert.ok(catalog.products.length > 0);
    assert.ok(
      catalog.products.every((p) => p.zone === 'gold'),
      'the BI service sees gold products only',
    );
    const ok = await http('/api/v1/query', 'bi-service', {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT day, total_amount FROM payments_gold.daily_volume_by_method' }),
    });
    assert.equal(ok.status, 200);
    assert.ok(((await ok.json()) as { rows: unknown[] }).rows.length > 0);
    const no = await http('/api/v1/query', 'bi-service', {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT * FROM payments_silver.transactions' }),
    });
    assert.equal(no.status, 403);
    assert.match(((await no.json()) as { message: string }).message, /missing a grant with domains: \[payments\] and zones: \[silver\]/);
  });
});

// ---------------------------------------------------------------- the SQL endpoint, with real clients

/** One statement's outcome, whichever client ran it. */
type Outcome = { columns: string[]; rows: (string | null)[][] } | { error: { sqlstate: string; message: string } };

interface Check {
  sql: string;
  expect: (o: Outcome) => void;
  what: string;
}

const rowsOf = (o: Outcome, what: string) => {
  assert.ok(!('error' in o), `${what}: ${'error' in o ? o.error.message : ''}`);
  return o.rows;
};
const refused = (o: Outcome, what: string, sqlstate: RegExp, message: RegExp) => {
  assert.ok('error' in o, `${what}: expected a refusal, found ${JSON.stringify(o)}`);
  assert.match(o.error.sqlstate ?? '', sqlstate, what);
  assert.match(o.error.message, message, what);
};

/** What a persona must see through the endpoint, from the access model: the same checks for every client. */
function checksFor(persona: string): Check[] {
  const decisions = policy.datasets().map((d) => policy.decide(persona, d.name));
  const readable = decisions.filter((d) => d.allowed);
  const checks: Check[] = [
    {
      what: 'lists exactly the readable datasets',
      sql: "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1",
      expect: (o) =>
        assert.deepEqual(
          rowsOf(o, 'catalog').map((r) => r[0]),
          readable.map((d) => d.dataset).sort(),
        ),
    },
  ];
  for (const d of readable) {
    checks.push({
      what: `reads ${d.dataset}`,
      sql: `SELECT count(*) FROM ${d.dataset}`,
      expect: (o) => assert.equal(rowsOf(o, d.dataset).length, 1),
    });
  }
  const denied = decisions.find((d) => !d.allowed);
  if (denied) {
    checks.push({
      what: `refuses ${denied.dataset}`,
      sql: `SELECT * FROM ${denied.dataset}`,
      expect: (o) =>
        refused(o, denied.dataset, /^42501$/, new RegExp(`may not read ${denied.dataset.replace('.', '\\.')}: .*missing a grant`)),
    });
  }
  for (const d of readable) {
    for (const c of d.columns) {
      const pattern =
        c.level === 'tokenised' || c.rule === 'hash'
          ? '[0-9a-f]{64}'
          : c.rule === 'last-four'
            ? 'X*[^X]{0,4}'
            : c.rule === 'null'
              ? null
              : undefined;
      if (pattern === undefined) continue;
      const q = `"${c.name}"`;
      checks.push({
        what: `${d.dataset}.${c.name} ${c.level}${c.rule ? ` (${c.rule})` : ''}`,
        // Every value that is set has the mask's shape (NULL-masked columns have none set).
        sql:
          pattern === null
            ? `SELECT count(${q}) FROM ${d.dataset}`
            : `SELECT count(${q}) - count(*) FILTER (WHERE regexp_full_match(CAST(${q} AS VARCHAR), '${pattern}')) FROM ${d.dataset}`,
        expect: (o) => assert.equal(Number(rowsOf(o, c.name)[0]?.[0]), 0, `${d.dataset}.${c.name}`),
      });
    }
    for (const f of d.rowFilters) {
      checks.push({
        what: `row filter on ${d.dataset}`,
        sql: `SELECT count(*) FILTER (WHERE NOT (${f.where})), count(*) FROM ${d.dataset}`,
        expect: (o) => {
          const [outside, all] = (rowsOf(o, d.dataset)[0] ?? []).map(Number);
          assert.equal(outside, 0, 'no row outside the filter');
          assert.ok((all ?? 0) > 0, 'the filter leaves rows');
        },
      });
    }
  }
  const target = readable[0]?.dataset ?? 'payments_gold.daily_volume_by_method';
  checks.push({
    what: 'refuses a write',
    sql: `DELETE FROM ${target}`,
    expect: (o) => refused(o, 'DELETE', /^42501$/, /may only read/),
  });
  return checks;
}

/** The personas that read data (the lineage publisher reads none: it is refused by the endpoint's first query). */
const readers = () => policy.personas().filter((p) => policy.datasets().some((d) => policy.decide(p, d.name).allowed));

function psql(persona: string, sql: string): Outcome {
  const r = spawnSync(
    'psql',
    [
      '-X',
      '-A',
      '-t',
      '-F',
      '\t',
      '-v',
      'VERBOSITY=verbose',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
      `host=127.0.0.1 port=${served.pgPort} dbname=finmesh user=${persona} sslmode=require`,
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, PGPASSWORD: TOKENS[persona], PGGSSENCMODE: 'disable', PGCONNECT_TIMEOUT: '10' },
      timeout: 60_000,
    },
  );
  if (r.status !== 0) {
    const m = /ERROR:\s+(\w{5}):\s+([^\n]*)/.exec(r.stderr);
    return { error: { sqlstate: m?.[1] ?? '', message: m?.[2] ?? r.stderr } };
  }
  const lines = r.stdout
    .replace(/\n$/, '')
    .split('\n')
    .filter((l) => l !== '');
  return { columns: [], rows: lines.map((l) => l.split('\t').map((v) => (v === '' ? null : v))) };
}

function batch(cmd: string, args: string[], what: string): Outcome[] {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Outcome & { connect_error?: string });
  assert.ok(!out[0]?.connect_error, `${what}: ${out[0]?.connect_error}`);
  return out;
}

describe('the governed SQL endpoint, per persona of the example, with real clients', () => {
  it('psql: each persona sees exactly its grants — listed, readable, masked, filtered, refused with the grant named, read-only', {
    ...skipUnless(has('psql', ['--version']), 'psql', 'Debian: apt-get install postgresql-client'),
  }, () => {
    for (const persona of readers()) for (const c of checksFor(persona)) c.expect(psql(persona, c.sql));
  });

  it('psql: a wrong token is refused at login, plain TCP is refused, and \\dv lists the persona’s products', {
    ...skipUnless(has('psql', ['--version']), 'psql', 'Debian: apt-get install postgresql-client'),
  }, () => {
    const bad = spawnSync('psql', ['-X', '-c', 'SELECT 1', `host=127.0.0.1 port=${served.pgPort} dbname=finmesh user=x sslmode=require`], {
      encoding: 'utf8',
      env: { ...process.env, PGPASSWORD: 'wrong', PGGSSENCMODE: 'disable' },
    });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /password authentication failed/);
    const plain = spawnSync(
      'psql',
      ['-X', '-c', 'SELECT 1', `host=127.0.0.1 port=${served.pgPort} dbname=finmesh user=x sslmode=disable`],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: TOKENS['bi-service'], PGGSSENCMODE: 'disable' },
      },
    );
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /requires TLS/);
    const dt = spawnSync(
      'psql',
      ['-X', '-A', '-t', '-c', '\\dv', `host=127.0.0.1 port=${served.pgPort} dbname=finmesh user=bi sslmode=require`],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: TOKENS['bi-service'], PGGSSENCMODE: 'disable' },
      },
    );
    assert.equal(dt.status, 0, dt.stderr);
    const listed = dt.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('|').slice(0, 2).join('.'));
    assert.deepEqual(listed.sort(), [
      'customers_gold.customer_360',
      'finance_gold.reconciliation',
      'payments_gold.daily_volume_by_method',
      'payments_gold.merchant_daily_summary',
      'payments_gold.volume_per_minute',
      'risk_gold.fraud_signals',
    ]);
  });

  it('psycopg 3 (extended protocol, with a parameter): each persona sees exactly its grants', {
    ...skipUnless(
      existsSync(PSYCOPG),
      'psycopg',
      'python3 -m venv .cache/psycopg && .cache/psycopg/bin/pip install "psycopg[binary]" (.ci/run does it)',
    ),
  }, () => {
    for (const persona of readers()) {
      const checks = checksFor(persona);
      const conninfo = `host=127.0.0.1 port=${served.pgPort} dbname=finmesh user=${persona} sslmode=require password=${TOKENS[persona]}`;
      const param = 'SELECT count(*) FROM payments_gold.daily_volume_by_method WHERE payment_method = %s';
      const out = batch(
        PSYCOPG,
        [join(ROOT, 'test/governance/clients/psycopg_client.py'), conninfo, ...checks.map((c) => c.sql), param],
        persona,
      );
      assert.equal(out.length, checks.length + 1);
      checks.forEach((c, i) => {
        c.expect(out[i] as Outcome);
      });
      const bound = out[checks.length] as Outcome;
      if (policy.decide(persona, 'payments_gold.daily_volume_by_method').allowed)
        assert.equal(rowsOf(bound, 'a bound parameter').length, 1);
      else refused(bound, 'a bound parameter', /^42501$/, /missing a grant/);
    }
  });

  it('PostgreSQL JDBC driver (prepared statements, DatabaseMetaData.getTables): each persona sees exactly its grants', {
    ...skipUnless(
      jdbcJar() !== undefined && has('java', ['-version']),
      'the PostgreSQL JDBC driver',
      'Java 17 and mvn -f test/governance/jdbc/pom.xml dependency:copy-dependencies -DoutputDirectory=../../../.cache/jdbc (.ci/run does it)',
    ),
  }, () => {
    const jar = join(JDBC_DIR, jdbcJar() as string);
    for (const persona of readers()) {
      const checks = checksFor(persona);
      const url = `jdbc:postgresql://127.0.0.1:${served.pgPort}/finmesh?sslmode=require`;
      const out = batch(
        'java',
        [
          '-cp',
          jar,
          join(ROOT, 'test/governance/clients/JdbcClient.java'),
          url,
          persona,
          TOKENS[persona] as string,
          '@tables',
          ...checks.map((c) => c.sql),
        ],
        persona,
      );
      const tables = out[0] as Outcome;
      assert.deepEqual(
        rowsOf(tables, 'getTables')
          .map((r) => r[0])
          .sort(),
        policy
          .datasets()
          .filter((d) => policy.decide(persona, d.name).allowed)
          .map((d) => d.name)
          .sort(),
        `${persona}: DatabaseMetaData.getTables`,
      );
      checks.forEach((c, i) => {
        c.expect(out[i + 1] as Outcome);
      });
    }
  });

  it('every read through the endpoint is in the audit log with the persona, its token and the client', async () => {
    const res = await http('/api/v1/audit?kind=read&limit=100000', 'auditor');
    const { records } = (await res.json()) as { records: { actor: string; principal: string; details: { via: string } }[] };
    const viaPg = records.filter((r) => r.details.via === 'pg');
    for (const persona of readers()) {
      const token = policy.model.tokens.find((t) => t.persona === persona)?.name;
      assert.ok(
        viaPg.some((r) => r.actor === persona && r.principal === `token:${token}`),
        `reads of ${persona} audited`,
      );
    }
    const verify = (await (await http('/api/v1/audit/verify', 'auditor')).json()) as { ok: boolean };
    assert.equal(verify.ok, true);
  });
});

describe('finmesh serve follows governance/access.yaml', () => {
  it('a token revoked in the file stops working on the next requests, and the change is in the audit log', async () => {
    assert.equal((await http('/api/v1/catalog', 'bi-service')).status, 200);
    const file = join(dir, 'governance/access.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'secret: env:FINMESH_TOKEN_POWERBI, expires: "2027-12-31" }',
        'secret: env:FINMESH_TOKEN_POWERBI, expires: "2027-12-31", revoked: true }',
      ),
    );
    await waitFor(async () => ((await http('/api/v1/catalog', 'bi-service')).status === 401 ? true : undefined), 15_000, 'the revocation');
    const res = await http('/api/v1/audit?kind=grant-change', 'auditor');
    const { records } = (await res.json()) as { records: { details: { changes: string[] } }[] };
    assert.deepEqual(records.at(-1)?.details.changes, ['token powerbi revoked']);
    assert.equal((await http('/api/v1/catalog', 'auditor')).status, 200, 'other tokens still work');
  });

  it('a persona allowed runs but not the catalog follows the console’s live updates', async () => {
    const file = join(dir, 'governance/access.yaml');
    const before = readFileSync(file, 'utf8');
    const auditorApi = 'api: [catalog, query, runs, lineage:read, audit]';
    assert.ok(before.includes(auditorApi), 'the example auditor’s permissions');
    writeFileSync(file, before.replace(auditorApi, 'api: [runs, audit]'));
    try {
      await waitFor(async () => ((await http('/api/v1/catalog', 'auditor')).status === 403 ? true : undefined), 15_000, 'the reload');
      const events = await http('/api/v1/events', 'auditor');
      if (events.status !== 200) assert.fail(`GET /api/v1/events as a runs-only auditor: ${events.status} ${await events.text()}`);
      assert.match(events.headers.get('content-type') ?? '', /^text\/event-stream/);
      await events.body?.cancel();
      assert.equal((await http('/api/v1/runs', 'auditor')).status, 200);
    } finally {
      writeFileSync(file, before);
    }
    await waitFor(async () => ((await http('/api/v1/catalog', 'auditor')).status === 200 ? true : undefined), 15_000, 'the restore');
  });
});
