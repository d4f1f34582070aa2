import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { cli } from '../helpers.js';
import { PERSONA_TOKENS, ranGovernedProject } from './fixture.js';

let dir: string;
before(async () => {
  dir = await ranGovernedProject();
});

const query = (persona: string, sql: string) => cli(['query', '--project', dir, '--as', persona, '--json', sql]);
const rows = (r: ReturnType<typeof cli>) => {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};

describe('finmesh query --as: one enforcement point', () => {
  it('masks by classification in the engine: PAN last four, confidential NULL, CPF tokenised, clear where granted', () => {
    const sql =
      'SELECT card_pan_masked, amount FROM payments_silver.transactions WHERE card_pan_masked IS NOT NULL ORDER BY transaction_id LIMIT 5';
    const clear = rows(query('risk-analyst', sql));
    const masked = rows(query('payments-analyst', sql));
    const auditor = rows(query('auditor', sql));
    assert.ok(clear.length > 0);
    assert.match(String(clear[0]?.card_pan_masked), /^\d{6}\*+\d{4}$|^\d{6}X+\d{4}$|^[0-9*]+$/);
    masked.forEach((r, i) => {
      const pan = String(clear[i]?.card_pan_masked);
      assert.equal(r.card_pan_masked, `${'X'.repeat(pan.length - 4)}${pan.slice(-4)}`, 'pci masked: last four only');
      assert.equal(r.amount, clear[i]?.amount, 'confidential clear for the payments analyst');
    });
    for (const r of auditor) assert.equal(r.amount, null, 'confidential masked to NULL for the auditor');
    const bronze = rows(query('payments-engineer', 'SELECT payer FROM payments_bronze.transactions LIMIT 3'));
    const raw = rows(query('platform-engineer', 'SELECT payer FROM payments_bronze.transactions LIMIT 3'));
    assert.match(String(bronze[0]?.payer), /^[0-9a-f]{64}$/, 'raw PII tokenised (keyed HMAC) for the domain engineer');
    assert.match(JSON.stringify(raw[0]?.payer), /cpf/, 'raw PII in clear for the platform engineer');
  });

  it('refuses a dataset without a grant, naming the grant missing', () => {
    const denied = query('bi-service', 'SELECT * FROM payments_silver.transactions');
    assert.equal(denied.status, 2);
    assert.match(denied.stderr, /persona "bi-service" may not read payments_silver\.transactions/);
    assert.match(denied.stderr, /missing a grant with domains: \[payments\] and zones: \[silver\]/);
    const raw = query('risk-analyst', 'SELECT cpf FROM customers_bronze.customers');
    assert.equal(raw.status, 2);
    assert.match(raw.stderr, /personas\.risk-analyst\.grants/);
    const column = query('payments-analyst', 'SELECT count(*) FROM payments_bronze.transactions');
    assert.equal(column.status, 2, 'bronze is not granted to the analyst');
    const pii = query('payments-engineer', 'SELECT name FROM customers_bronze.customers');
    assert.equal(pii.status, 2);
    const star = rows(query('payments-engineer', 'SELECT * FROM payments_quarantine.transactions LIMIT 1'));
    assert.ok(star.every((r) => !('nope' in r)));
    // Landing lists the files as received, a row a file: for a persona granted the landing zone only.
    const files = rows(query('platform-engineer', 'SELECT file, bytes FROM partners_landing.chargebacks'));
    assert.deepEqual(
      files.map((f) => f.file),
      ['CHARGEBACKS_20261127.zip.pgp'],
    );
    const landing = query('partner-operator', 'SELECT file FROM partners_landing.settlements');
    assert.equal(landing.status, 2);
    assert.match(
      landing.stderr,
      /may not read partners_landing\.settlements.*missing a grant with domains: \[partners\] and zones: \[landing\]/,
    );
  });

  it('applies row filters: the partner operator sees only its card networks', () => {
    const all = rows(
      query('platform-engineer', 'SELECT brand, count(*) AS n FROM partners_silver.settlements GROUP BY brand ORDER BY brand'),
    );
    const mine = rows(
      query('partner-operator', 'SELECT brand, count(*) AS n FROM partners_silver.settlements GROUP BY brand ORDER BY brand'),
    );
    assert.deepEqual(
      all.map((r) => r.brand),
      ['ELO', 'HIPERCARD', 'MASTERCARD', 'VISA'],
    );
    assert.deepEqual(
      mine,
      all.filter((r) => r.brand === 'ELO' || r.brand === 'HIPERCARD'),
    );
  });

  it('lists in the engine catalog only what the persona may read', () => {
    const tables = rows(query('bi-service', "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1")).map(
      (r) => r.t,
    );
    assert.deepEqual(tables, [
      'customers_gold.customer_360',
      'finance_gold.reconciliation',
      'payments_gold.daily_volume_by_method',
      'payments_gold.merchant_daily_summary',
      'payments_gold.volume_per_minute',
      'risk_gold.fraud_signals',
    ]);
    const cols = rows(query('payments-analyst', "SELECT column_name FROM information_schema.columns WHERE table_name = 'transactions'"));
    assert.ok(cols.some((c) => c.column_name === 'card_pan_masked'));
  });

  it('reads only: writes, files and table functions are refused', () => {
    for (const sql of [
      'DELETE FROM payments_gold.daily_volume_by_method',
      'CREATE TABLE x AS SELECT 1',
      `SELECT * FROM read_parquet('${join(dir, '.finmesh/lake/payments/silver/transactions/**/*.parquet')}')`,
      `SELECT * FROM '${join(dir, '.finmesh/lake/payments/silver/transactions')}/x.parquet'`,
      "ATTACH 'x.db' AS x",
    ]) {
      const r = query('platform-engineer', sql);
      assert.equal(r.status, 2, `${sql}: ${r.stdout}`);
      assert.match(r.stderr, /may (only read|not call|not read)|only SELECT/, sql);
    }
  });

  it('cuts a result at the row limit, saying so, and cancels a query past the statement timeout', () => {
    const cut = cli([
      'query',
      '--project',
      dir,
      '--as',
      'risk-analyst',
      '--limit',
      '3',
      'SELECT transaction_id FROM payments_silver.transactions',
    ]);
    assert.equal(cut.status, 0, cut.stderr);
    assert.match(cut.stdout, /\(3 rows\)/);
    assert.match(cut.stderr, /cut at --limit 3: more rows matched/);
    const slow = cli([
      'query',
      '--project',
      dir,
      '--as',
      'risk-analyst',
      '--timeout',
      '300',
      // Five ways: DuckDB counts the four-way product of the demo's ~200 rows (1.6e9) in under 300 ms on a fast machine.
      'SELECT count(*) FROM payments_silver.transactions a, payments_silver.transactions b, payments_silver.transactions c, payments_silver.transactions d, payments_silver.transactions e',
    ]);
    assert.equal(slow.status, 1);
    assert.match(slow.stderr, /ran longer than the statement timeout \(300 ms\) and was cancelled/);
  });

  it('audits every read and denial in a hash chain that verifies; editing one byte of one record is found and named', () => {
    const before = rows(cli(['audit', 'list', '--project', dir, '--json']));
    rows(query('auditor', 'SELECT day, total_amount FROM payments_gold.daily_volume_by_method'));
    const after = rows(cli(['audit', 'list', '--project', dir, '--json']));
    const read = after.at(-1) as { kind: string; actor: string; details: Record<string, unknown> };
    assert.equal(after.length, before.length + 1);
    assert.equal(read.kind, 'read');
    assert.equal(read.actor, 'auditor');
    assert.deepEqual(read.details.columns, { 'payments_gold.daily_volume_by_method': ['day', 'total_amount'] });
    assert.match(String(read.details.queryHash), /^[0-9a-f]{64}$/);
    assert.ok(
      before.some((r) => r.kind === 'grant-change'),
      'the access model is recorded',
    );
    assert.ok(
      before.some((r) => r.kind === 'decision' && r.outcome === 'deny'),
      'denials are recorded',
    );
    const ok = cli(['audit', 'verify', '--project', dir]);
    assert.equal(ok.status, 0, ok.stderr);

    const victim = after[Math.floor(after.length / 2)] as { seq: number };
    const db = new Database(join(dir, '.finmesh/metadata.db'));
    try {
      const { details } = db.prepare('SELECT details FROM audit_log WHERE seq = ?').get(victim.seq) as { details: string };
      // One byte inside a value: the record still reads, only its hash tells.
      const i = details.indexOf('"via":"') + 7;
      const edited = details.slice(0, i) + (details[i] === 'c' ? 'k' : 'c') + details.slice(i + 1);
      db.prepare('UPDATE audit_log SET details = ? WHERE seq = ?').run(edited, victim.seq);
    } finally {
      db.close();
    }
    const bad = cli(['audit', 'verify', '--project', dir]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, new RegExp(`record ${victim.seq}: record ${victim.seq} was altered`));
    assert.doesNotMatch(bad.stderr, new RegExp(`record ${victim.seq + 1}:`), 'only the edited record is named');

    const exported = cli(['audit', 'export', '--project', dir, '--gcp-project', 'fintech-data']);
    assert.equal(exported.status, 0, exported.stderr);
    const entry = JSON.parse(exported.stdout.trim().split('\n').at(-1) as string) as {
      logName: string;
      protoPayload: Record<string, unknown>;
    };
    assert.equal(entry.logName, 'projects/fintech-data/logs/cloudaudit.googleapis.com%2Fdata_access');
    assert.equal(entry.protoPayload['@type'], 'type.googleapis.com/google.cloud.audit.AuditLog');
  });

  it('access matrix --format csv lists every persona × dataset; explain names the grant', () => {
    const r = cli(['access', 'matrix', '--project', dir, '--format', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'persona,dataset,access,clear,masked,tokenised,denied,rowFilter');
    const datasets = rows(cli(['access', 'matrix', '--project', dir, '--format', 'json'])).map((x) => x.dataset);
    const distinct = new Set(datasets);
    assert.equal(distinct.size, 23, 'bronze, quarantine, landing listings and products of the example');
    assert.ok(lines.includes('platform-engineer,partners_landing.settlements,clear,7,0,0,0,false'));
    assert.ok(lines.includes('partner-operator,partners_landing.settlements,denied,0,0,0,7,false'));
    assert.equal(lines.length - 1, Object.keys(PERSONA_TOKENS).length * distinct.size);
    assert.ok(lines.includes('partner-operator,partners_silver.settlements,clear,11,0,0,0,true'));
    assert.ok(lines.includes('bi-service,payments_silver.transactions,denied,0,0,0,26,false'));
    const e = cli(['access', 'explain', 'payments-analyst', 'payments_silver.transactions.card_pan_masked', '--project', dir]);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /masked \(last-four\)/);
    assert.match(e.stdout, /personas\.payments-analyst\.grants\[0\]/);
    assert.match(e.stdout, /personas\.payments-analyst\.classifications\.pci: masked/);
  });

  it('a break-glass grant in force widens the persona until it ends, and every use is audited with its reason', () => {
    const file = join(dir, 'governance/access.yaml');
    const until = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('from: "2026-10-01T00:00:00Z"', `from: "${new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z')}"`)
        .replace('until: "2026-10-02T00:00:00Z"', `until: "${until}"`)
        .replace(
          'classifications: { pii: clear }',
          'grants: [{ domains: [customers], zones: [silver] }]\n    classifications: { pii: clear }',
        ),
    );
    const r = rows(query('payments-analyst', 'SELECT count(*) AS n FROM customers_silver.customers'));
    assert.ok(Number(r[0]?.n) > 0);
    const records = rows(cli(['audit', 'list', '--project', dir, '--kind', 'break-glass', '--json']));
    const used = records.at(-1) as { actor: string; resource: string; details: { reason: string; approvedBy: string } };
    assert.equal(used.actor, 'payments-analyst');
    assert.equal(used.resource, 'customers_silver.customers');
    assert.match(used.details.reason, /INC-4711/);
    const changes = rows(cli(['audit', 'list', '--project', dir, '--kind', 'grant-change', '--json']));
    assert.deepEqual((changes.at(-1) as { details: { changes: string[] } }).details.changes, ['break-glass grants changed']);
  });

  it('leaves a denied column out of SELECT * and refuses it by name, naming why (raw PII without raw: true)', () => {
    const file = join(dir, 'governance/access.yaml');
    const yaml = readFileSync(file, 'utf8');
    const engineer = yaml.indexOf('  payments-engineer:');
    const raw = yaml.indexOf('raw: true', engineer);
    writeFileSync(file, `${yaml.slice(0, raw)}raw: false${yaml.slice(raw + 'raw: true'.length)}`);
    const star = rows(query('payments-engineer', 'SELECT * FROM payments_bronze.transactions LIMIT 1'));
    assert.ok(star.length > 0);
    assert.ok(!('payer' in (star[0] ?? {})), 'the raw PII column is not in the persona’s view');
    assert.ok('amount' in (star[0] ?? {}));
    const named = query('payments-engineer', 'SELECT payer.cpf FROM payments_bronze.transactions');
    assert.equal(named.status, 2);
    assert.match(
      named.stderr,
      /may not read payments_bronze\.transactions\.payer: pii in the bronze zone is raw data: missing raw: true at governance\/access\.yaml: personas\.payments-engineer\.raw/,
    );
  });
});
