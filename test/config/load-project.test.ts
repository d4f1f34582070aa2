import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { inspectProject, loadProject } from '../../src/config/load-project.js';
import { validateOdcs } from '../../src/config/odcs-validator.js';
import { isValidPhysicalType } from '../../src/config/schema.js';
import { ConfigError } from '../../src/core/errors.js';
import { freshnessSlo } from '../../src/mesh/sla.js';
import { cli, copyExample, EXAMPLE } from '../helpers.js';

describe('project model', () => {
  it('loads the example: five domains, their sources and products, each product with an owner', () => {
    const p = loadProject(EXAMPLE);
    assert.deepEqual(
      p.domains.map((d) => d.name),
      ['customers', 'finance', 'partners', 'payments', 'risk'],
    );
    assert.ok(p.sources.some((s) => s.config.kind === 'sftp'));
    assert.ok(p.products.length >= 8);
    for (const product of p.products) {
      assert.ok(product.owner, `${product.name} has an owner`);
      for (const prop of product.contract.schema[0]?.properties ?? []) {
        assert.ok(prop.classification, `${product.name}.${prop.name} has a classification`);
      }
    }
    const tx = p.products.find((x) => x.name === 'transactions');
    assert.equal(tx?.materialized, 'incremental');
    assert.deepEqual(tx?.settings.uniqueKey, ['transaction_id']);
  });

  it('every example contract is valid ODCS v3.1', () => {
    for (const product of loadProject(EXAMPLE).products) {
      const doc = parse(readFileSync(join(EXAMPLE, product.contractFile), 'utf8'));
      assert.deepEqual(validateOdcs(product.contractFile, doc), []);
    }
  });

  it('reads SLA units in words (hours are hours) and refuses a time unit it does not know', () => {
    const dir = copyExample();
    const file = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('{ property: latency, value: 5, unit: m }', '{ property: latency, value: 2, unit: hours }'),
    );
    const tx = loadProject(dir).products.find((p) => p.name === 'transactions');
    assert.ok(tx);
    assert.equal(freshnessSlo(tx)?.ms, 7_200_000);
    writeFileSync(file, readFileSync(file, 'utf8').replace('unit: hours', 'unit: fortnights'));
    const { issues } = inspectProject(dir);
    const issue = issues.find((i) => i.path === 'slaProperties[0].unit');
    assert.ok(issue, JSON.stringify(issues));
    assert.equal(issue.file, 'domains/payments/products/transactions/contract.odcs.yaml');
    assert.match(issue.found, /fortnights/);
  });

  it('reports every problem at once, each with file, YAML path, expected and found', () => {
    const dir = copyExample();
    const contract = join(dir, 'domains/payments/products/transactions/contract.odcs.yaml');
    writeFileSync(
      contract,
      readFileSync(contract, 'utf8').replace('{ name: status, logicalType: string', '{ name: status, logicalType: strnig'),
    );
    const domain = join(dir, 'domains/risk/domain.yaml');
    writeFileSync(domain, readFileSync(domain, 'utf8').replace(/owner:\n(\s+.*\n){2}/, ''));
    const { issues } = inspectProject(dir);
    const typo = issues.find((i) => i.file === 'domains/payments/products/transactions/contract.odcs.yaml');
    assert.ok(typo, 'the misspelled type is reported');
    assert.equal(typo.path, 'schema[0].properties[2].logicalType');
    assert.match(typo.expected, /"string"/);
    assert.equal(typo.found, '"strnig"');
    const owner = issues.find((i) => i.file === 'domains/risk/domain.yaml');
    assert.ok(owner, 'the missing owner is reported');
    assert.equal(owner.path, 'owner');
    assert.equal(owner.found, 'nothing');
    assert.throws(() => loadProject(dir), ConfigError);
  });

  it('finmesh validate exits 0 on the example and 2 naming both files on a broken copy', () => {
    const ok = cli(['validate', '--project', EXAMPLE]);
    assert.equal(ok.status, 0, ok.stderr);
    const dir = copyExample();
    const contract = join(dir, 'domains/payments/products/merchants/contract.odcs.yaml');
    writeFileSync(
      contract,
      readFileSync(contract, 'utf8').replace(
        'physicalType: VARCHAR, required: true, classification: confidential',
        'physicalType: VARCHR, required: true, classification: confidential',
      ),
    );
    const domain = join(dir, 'domains/finance/domain.yaml');
    writeFileSync(domain, readFileSync(domain, 'utf8').replace(/owner:\n(\s+.*\n){2}/, ''));
    const bad = cli(['validate', '--project', dir]);
    assert.equal(bad.status, 2);
    assert.match(
      bad.stdout,
      /domains\/payments\/products\/merchants\/contract\.odcs\.yaml: schema\[0\]\.properties\[1\]\.physicalType: expected a column type .* found "VARCHR"/,
    );
    assert.match(bad.stdout, /domains\/finance\/domain\.yaml: owner: expected an object \(required\), found nothing/);
    const json = cli(['validate', '--project', dir, '--json']);
    assert.equal(JSON.parse(json.stdout).issues.length, 2);
  });

  it('reports a model that reads an unknown product, with the line', () => {
    const dir = copyExample();
    const model = join(dir, 'domains/risk/products/fraud_signals/model.sql');
    writeFileSync(model, readFileSync(model, 'utf8').replace("ref('transactions')", "ref('transactionz')"));
    const r = cli(['validate', '--project', dir]);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /fraud_signals\/model\.sql: line \d+: ref\('transactionz'\): expected a product of the project/);
  });

  it('binds every model against its inputs: an unknown column or a syntax error names the model file and line, before any run', () => {
    const dir = copyExample();
    const model = join(dir, 'domains/customers/products/customers/model.sql');
    const sql = readFileSync(model, 'utf8');
    const lines = sql.split('\n');
    const segment = lines.findIndex((l) => l.trim() === 'segment,');
    assert.ok(segment > 0);
    lines[segment] = '  segmnt,';
    writeFileSync(model, lines.join('\n'));
    const fraud = join(dir, 'domains/risk/products/fraud_signals/model.sql');
    writeFileSync(fraud, `${readFileSync(fraud, 'utf8').replace(/;\s*$/, '')}\nwhere where`);
    const r = cli(['validate', '--project', dir, '--json']);
    assert.equal(r.status, 2, r.stderr);
    const issues = (JSON.parse(r.stdout) as { issues: { file: string; path: string; found: string }[] }).issues;
    const unknown = issues.find((i) => i.file === 'domains/customers/products/customers/model.sql');
    assert.equal(unknown?.path, `line ${segment + 1}`);
    assert.match(unknown?.found ?? '', /segmnt/);
    assert.match(unknown?.found ?? '', /did you mean .*segment/);
    const syntax = issues.find((i) => i.file === 'domains/risk/products/fraud_signals/model.sql');
    assert.match(syntax?.found ?? '', /syntax error/i);
    assert.equal(syntax?.path, `line ${readFileSync(fraud, 'utf8').split('\n').length}`);
    // customer_360 reads customers: it still binds, against the contract's columns.
    assert.equal(issues.filter((i) => i.file.includes('customer_360')).length, 0);
  });

  it('the simulator settings belong to the demo: the product schema carries them opaque, validate still checks them', () => {
    const dir = copyExample();
    const yaml = join(dir, 'finmesh.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('seed: ', 'seeed: '));
    const r = cli(['validate', '--project', dir, '--json']);
    assert.equal(r.status, 2, r.stderr);
    const issues = (JSON.parse(r.stdout) as { issues: { file: string; path: string }[] }).issues;
    assert.deepEqual(
      issues.map((i) => `${i.file}: ${i.path}`),
      ['finmesh.yaml: simulator.seeed'],
    );
    assert.ok(loadProject(dir), 'the project itself still loads: its schema does not know the simulator');
  });

  it('accepts DuckDB column types and rejects misspelled ones', () => {
    for (const t of ['VARCHAR', 'DECIMAL(18,2)', 'TIMESTAMPTZ', 'STRUCT(a VARCHAR, b STRUCT(c INTEGER))', 'VARCHAR[]'])
      assert.ok(isValidPhysicalType(t), t);
    for (const t of ['VARCHR', 'DECIMAL(18)', 'STRUCT(a VARCHR)', 'STRUCT()']) assert.ok(!isValidPhysicalType(t), t);
  });
});
