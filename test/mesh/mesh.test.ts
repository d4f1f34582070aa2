import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { duckDbDialect } from '../../src/engine/duckdb/duckdb-dialect.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { checkNames, compileChecks, judge, panLeakSql } from '../../src/mesh/checks.js';
import { cli, copyExample, EXAMPLE, tempDir } from '../helpers.js';

const edit = (file: string, from: string | RegExp, to: string) => {
  const s = readFileSync(file, 'utf8');
  const next = s.replace(from, to);
  assert.notEqual(next, s, `edit of ${file} changed nothing`);
  writeFileSync(file, next);
};

/** Runs `fn` with `file` edited (`from` → `to`), and puts the file back as it was whatever happens. */
const withEdit = <T>(file: string, from: string | RegExp, to: string, fn: () => T): T => {
  const original = readFileSync(file, 'utf8');
  edit(file, from, to);
  try {
    return fn();
  } finally {
    writeFileSync(file, original);
  }
};

describe('quality checks compiled from contracts', () => {
  it('compiles every ODCS rule of the example to SQL with its operator and severity', () => {
    const project = loadProject(EXAMPLE);
    const tx = project.products.find((p) => p.name === 'transactions');
    assert.ok(tx);
    const compiled = compileChecks(tx, duckDbDialect);
    for (const c of compiled) assert.match(c.sql, /^SELECT .* AS v/, c.id);
    const ids = compiled.map((c) => `${c.id}:${c.severity}`);
    assert.deepEqual(ids.sort(), [
      'transactions.currency.invalidValues:warning',
      'transactions.dataset.rowCount:error',
      'transactions.payment_method.invalidValues:error',
      'transactions.transaction_id.duplicateValues:error',
      'transactions.transaction_id.nullValues:error',
    ]);
    assert.ok(judge(0, { op: 'mustBe', value: 0 }) && !judge(1, { op: 'mustBe', value: 0 }));
    assert.ok(judge(5, { op: 'mustBeBetween', value: [1, 9] }) && judge(10, { op: 'mustNotBeBetween', value: [1, 9] }));
  });

  it('finds a full card number in any text column, and not boleto barcodes, PIX ids or exempt columns', async () => {
    const engine = await DuckDbEngine.create();
    try {
      await engine.installMacros({});
      await engine.exec(`CREATE TABLE t AS SELECT * FROM (VALUES
        ('paid with 4111111111111111 yesterday', '23793381286000782713695000063305975520000370000', 'E0000000020261127120000123abcde', '11222333000181'),
        ('masked 411111******1111', '34191790010104351004791020150008291070026000', 'E6070119020261127120015Rt3xQ9pZkLm', '11444777000161')
      ) v(note, barcode, e2e, cnpj)`);
      const cols = ['note', 'barcode', 'e2e', 'cnpj'].map((name) => ({ name, type: 'VARCHAR' }));
      const sql = (panLeakSql(cols, engine.dialect, new Set(['cnpj'])) as string).replaceAll('{object}', 't');
      assert.equal((await engine.query(sql)).rows[0]?.v, 1);
    } finally {
      await engine.close();
    }
  });

  it('counts a card number in a row whose other text columns are NULL, and one that is the whole value', async () => {
    // A card payment has no PIX id and no barcode: a NULL beside a leaked number must not hide it.
    const engine = await DuckDbEngine.create();
    try {
      await engine.installMacros({});
      await engine.exec(`CREATE TABLE t AS SELECT * FROM (VALUES
        ('4111111111111111', NULL, NULL),
        (NULL, 'card 5555555555554444 used', NULL),
        (NULL, NULL, '4222222222222'),
        (NULL, NULL, NULL),
        ('pix', '123456789012', 'short')
      ) v(a, b, c)`);
      const cols = ['a', 'b', 'c'].map((name) => ({ name, type: 'VARCHAR' }));
      const sql = (panLeakSql(cols, engine.dialect) as string).replaceAll('{object}', 't');
      assert.equal(Number((await engine.query(sql)).rows[0]?.v), 3);
    } finally {
      await engine.close();
    }
  });
});

describe('data products after a run', () => {
  let dir: string;
  before(() => {
    dir = copyExample();
    // A visible defect rate, so the injected bad rows surely appear in a short run.
    edit(join(dir, 'finmesh.yaml'), 'lowercaseCurrency: 0.005', 'lowercaseCurrency: 0.05');
    assert.equal(cli(['generate', '--project', dir, '--seconds', '3', '--rate', '150']).status, 0);
    const s = cli(['stream', '--project', dir, '--until-caught-up']);
    assert.equal(s.status, 0, s.stderr);
  });

  it('finmesh test returns a result for every rule of every contract, and the injected bad rows fail their check', () => {
    const r = cli(['test', '--project', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const { results } = JSON.parse(r.stdout) as { results: { checkId: string; status: string; value?: number; severity: string }[] };
    const ids = new Set(results.map((x) => x.checkId));
    for (const p of loadProject(dir).products) for (const id of checkNames(p)) assert.ok(ids.has(id), `a result for ${id}`);
    const currency = results.find((x) => x.checkId === 'transactions.currency.invalidValues');
    assert.equal(currency?.status, 'fail');
    assert.ok((currency?.value ?? 0) > 0);
    assert.ok(
      results.filter((x) => x.severity === 'error').every((x) => x.status !== 'fail'),
      'no error-level failure in a healthy run',
    );
  });

  it('two rules of one metric on one column are two checks, each judged by its own threshold', () => {
    const contract = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    withEdit(
      contract,
      '{ metric: rowCount, mustBeGreaterThan: 0, severity: error }',
      '{ metric: rowCount, mustBeGreaterThan: 0, severity: error }\n      - { metric: rowCount, mustBeLessThan: 2, severity: warning }',
      () => {
        const r = cli(['test', 'transactions', '--project', dir, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const { results } = JSON.parse(r.stdout) as { results: { checkId: string; status: string; value?: number }[] };
        const floor = results.filter((x) => x.checkId === 'transactions.dataset.rowCount');
        const ceiling = results.filter((x) => x.checkId === 'transactions.dataset.rowCount.2');
        assert.equal(floor.length, 1, JSON.stringify(results.map((x) => x.checkId)));
        assert.equal(ceiling.length, 1, JSON.stringify(results.map((x) => x.checkId)));
        assert.equal(floor[0]?.status, 'pass');
        assert.equal(ceiling[0]?.status, 'fail', 'more than 2 rows: the ceiling fails while the floor passes');
        assert.equal(ceiling[0]?.value, floor[0]?.value);
      },
    );
  });

  it('an error-level rule that fails keeps the batch out of gold, and the previous gold stays', () => {
    const before = cli(['query', 'select sum(transactions)::int n from payments_gold.daily_volume_by_method', '--project', dir, '--json']);
    edit(
      join(dir, 'domains/payments/products/daily_volume_by_method/contract.odcs.yaml'),
      '{ metric: rowCount, mustBeGreaterThan: 0, severity: error }',
      '{ metric: rowCount, mustBeGreaterThan: 1000000000, severity: error }',
    );
    assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--rate', '150']).status, 0);
    const s = cli(['stream', '--project', dir, '--until-caught-up', '--json']);
    assert.equal(s.status, 1, 'a failed model is reported');
    const after = cli(['query', 'select sum(transactions)::int n from payments_gold.daily_volume_by_method', '--project', dir, '--json']);
    assert.deepEqual(JSON.parse(after.stdout), JSON.parse(before.stdout), 'gold is the previous version');
    const silver = cli(['query', 'select count(*)::int n from payments_silver.transactions', '--project', dir, '--json']);
    assert.ok(JSON.parse(silver.stdout)[0].n > JSON.parse(before.stdout)[0].n, 'silver moved on');
  });

  it('duplicates are counted exactly: none found by distinct hashes in the shared scan, a repeated column counted again', () => {
    const contract = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    // payment_method repeats on nearly every row: its hashed bound is above 0, so the exact count is asked for.
    withEdit(
      contract,
      'validValues: [pix, card, boleto] }, mustBe: 0, severity: error }',
      'validValues: [pix, card, boleto] }, mustBe: 0, severity: error }, { metric: duplicateValues, mustBe: 0, severity: warning }',
      () => {
        const r = cli(['test', 'transactions', '--project', dir, '--json']);
        const { results } = JSON.parse(r.stdout) as { results: { checkId: string; status: string; value?: number }[] };
        const by = (id: string) => results.find((x) => x.checkId === id);
        const q = cli([
          'query',
          'SELECT count(payment_method) - count(DISTINCT payment_method) AS d, count(transaction_id) - count(DISTINCT transaction_id) AS t FROM payments_silver.transactions',
          '--project',
          dir,
          '--json',
        ]);
        assert.equal(q.status, 0, q.stderr);
        const exact = (JSON.parse(q.stdout) as { d: number; t: number }[])[0];
        assert.ok((exact?.d ?? 0) > 0);
        assert.deepEqual(
          {
            status: by('transactions.payment_method.duplicateValues')?.status,
            value: by('transactions.payment_method.duplicateValues')?.value,
          },
          { status: 'fail', value: exact?.d },
        );
        assert.deepEqual(
          {
            status: by('transactions.transaction_id.duplicateValues')?.status,
            value: by('transactions.transaction_id.duplicateValues')?.value,
          },
          { status: 'pass', value: 0 },
        );
        assert.equal(exact?.t, 0);
      },
    );
  });

  it('a rule that cannot run is an error naming why, and the other rules, the PAN scan and the profile still judge', () => {
    const contract = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    withEdit(
      contract,
      '      - { name: dt,',
      '      - { name: ghost, logicalType: string, physicalType: VARCHAR, quality: [ { metric: nullValues, mustBe: 0, severity: warning } ] }\n      - { name: dt,',
      () => {
        const r = cli(['test', 'transactions', '--project', dir, '--json']);
        const { results } = JSON.parse(r.stdout) as { results: { checkId: string; status: string; value?: number; message: string }[] };
        const by = (id: string) => results.find((x) => x.checkId === id);
        assert.equal(by('transactions.ghost.nullValues')?.status, 'error');
        assert.match(by('transactions.ghost.nullValues')?.message ?? '', /could not run.*ghost/s);
        for (const id of ['transactions.dataset.rowCount', 'transactions.transaction_id.duplicateValues', 'transactions.dataset.pan_leak'])
          assert.equal(by(id)?.status, 'pass', id);
        assert.ok((by('transactions.dataset.rowCount')?.value ?? 0) > 0);
      },
    );
  });

  it('finmesh catalog lists every product with owner, classifications and freshness', () => {
    const r = cli(['catalog', '--project', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const { products } = JSON.parse(r.stdout) as {
      products: {
        product: string;
        owner: string;
        schema: { classification: string }[];
        freshness: { ageSeconds: number | null };
        quality: { score: number | null };
      }[];
    };
    assert.equal(products.length, loadProject(dir).products.length);
    for (const p of products) {
      assert.ok(p.owner, `${p.product} owner`);
      assert.ok(
        p.schema.every((c) => c.classification),
        `${p.product} classifications`,
      );
      assert.ok(p.freshness.ageSeconds !== null && p.freshness.ageSeconds >= 0, `${p.product} freshness`);
    }
    assert.ok(products.some((p) => p.quality.score !== null && p.quality.score > 0));
  });
});

describe('governance and gaps', () => {
  it('policy check passes on the example, and exits 1 naming the file and policy when a product loses its owner', () => {
    assert.equal(cli(['policy', 'check', '--project', EXAMPLE]).status, 0);
    const dir = copyExample();
    edit(
      join(dir, 'domains/finance/products/reconciliation/contract.odcs.yaml'),
      / {2}members:\n {4}- \{ username: elisa\.prado@fintech\.example, role: owner \}\n/,
      '',
    );
    const r = cli(['policy', 'check', '--project', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /product-has-owner: domains\/finance\/products\/reconciliation\/contract\.odcs\.yaml: team\.members/);
  });

  it('flags a silver model that copies a PII column without tokenising it', () => {
    const dir = copyExample();
    edit(join(dir, 'domains/customers/products/customers/model.sql'), 'tokenize(cpf) as cpf_token', 'cpf as cpf_token');
    const r = cli(['policy', 'check', '--project', dir, '--json']);
    assert.equal(r.status, 1);
    const { violations } = JSON.parse(r.stdout) as { violations: { policy: string; found: string }[] };
    assert.ok(
      violations.some(
        (v) => v.policy === 'pii-protected-before-silver' && /cpf_token copies customers_bronze\.customers\.cpf/.test(v.found),
      ),
    );
  });

  it('finmesh gaps lists the example’s deliberate gaps and nothing else, and exits 1 for them', () => {
    const r = cli(['gaps', '--project', 'examples/fintech', '--json']);
    assert.equal(r.status, 1, r.stderr);
    const { gaps } = JSON.parse(r.stdout) as { gaps: { kind: string; subject: string }[] };
    assert.deepEqual(gaps.map((g) => `${g.kind} ${g.subject}`).sort(), [
      'no-checks customers.customer_360',
      'no-on-call risk.fraud_signals',
    ]);
  });

  it('contract diff: a removed column is breaking and named; a widened type and a new optional column are not', () => {
    const dir = tempDir();
    const original = join(EXAMPLE, 'domains/payments/products/merchants/contract.odcs.yaml');
    const removed = join(dir, 'removed.yaml');
    writeFileSync(removed, readFileSync(original, 'utf8').replace(/ {6}- \{ name: trade_name.*\n/, ''));
    const r = cli(['contract', 'diff', original, removed]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /BREAKING column-removed: column trade_name was removed/);
    const widened = join(dir, 'widened.yaml');
    writeFileSync(
      widened,
      readFileSync(original, 'utf8')
        .replace(
          '{ name: version, logicalType: integer, physicalType: INTEGER',
          '{ name: version, logicalType: integer, physicalType: BIGINT',
        )
        .replace(
          '    quality:',
          '      - { name: website, logicalType: string, physicalType: VARCHAR, classification: public }\n    quality:',
        ),
    );
    const w = cli(['contract', 'diff', original, widened, '--json']);
    assert.equal(w.status, 0, w.stdout);
    const kinds = (JSON.parse(w.stdout) as { changes: { kind: string; breaking: boolean }[] }).changes.map(
      (c) => `${c.kind}:${c.breaking}`,
    );
    assert.ok(kinds.includes('type-widened:false'));
  });
});
