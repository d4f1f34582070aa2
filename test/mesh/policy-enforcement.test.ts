import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

describe('error-level policies are enforced before a model writes', () => {
  let dir: string;
  before(() => {
    dir = copyExample();
    assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--rate', '50']).status, 0);
    const s = cli(['stream', '--project', dir, '--until-caught-up', '--no-models']);
    assert.equal(s.status, 0, s.stderr);
  });

  it('a silver model that copies CPF raw fails its run, naming the policy and the column, and writes nothing', () => {
    const model = join(dir, 'domains/customers/products/customers/model.sql');
    const sql = readFileSync(model, 'utf8');
    writeFileSync(model, sql.replace('tokenize(cpf) as cpf_token', 'cpf as cpf_token'));
    const r = cli(['run', '--project', dir, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const models = (JSON.parse(r.stdout) as { models: { model: string; status: string; error?: string }[] }).models;
    const customers = models.find((m) => m.model === 'customers');
    assert.equal(customers?.status, 'failed');
    assert.match(customers?.error ?? '', /pii-protected-before-silver/);
    assert.match(customers?.error ?? '', /cpf_token copies customers_bronze\.customers\.cpf/);
    assert.equal(models.find((m) => m.model === 'customer_360')?.status, 'skipped', 'what reads it waits for a fix');
    assert.equal(models.find((m) => m.model === 'transactions')?.status, 'succeeded', 'other branches still run');
    const q = cli(['query', 'select count(*) n from customers_silver.customers', '--project', dir, '--json']);
    assert.equal(q.status, 0, q.stderr);
    assert.deepEqual(JSON.parse(q.stdout), [{ n: 0 }], 'no raw CPF reached silver');
    // Fixed, the same model builds.
    writeFileSync(model, sql);
    const again = cli(['run', 'customers', '--project', dir, '--json']);
    assert.equal(again.status, 0, again.stderr);
  });

  it('a policy set to warning level is reported, not enforced', () => {
    const model = join(dir, 'domains/customers/products/customers/model.sql');
    const sql = readFileSync(model, 'utf8');
    writeFileSync(model, sql.replace('tokenize(cpf) as cpf_token', 'cpf as cpf_token'));
    const yaml = join(dir, 'finmesh.yaml');
    writeFileSync(yaml, `${readFileSync(yaml, 'utf8')}\npolicies:\n  - { id: pii-protected-before-silver, severity: warning }\n`);
    const r = cli(['run', 'customers', '--project', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const p = cli(['policy', 'check', '--project', dir, '--json']);
    const violations = (JSON.parse(p.stdout) as { violations: { policy: string; severity: string }[] }).violations;
    assert.ok(violations.some((v) => v.policy === 'pii-protected-before-silver' && v.severity === 'warning'));
  });
});
