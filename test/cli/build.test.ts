import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

interface Models {
  models: { model: string; status: string; checks?: { run: number; failed: number; errors: number } }[];
}

describe('finmesh run --no-checks and finmesh build', () => {
  let dir: string;
  before(() => {
    dir = copyExample();
    assert.equal(cli(['generate', '--project', dir, '--seconds', '3', '--rate', '100']).status, 0);
    const s = cli(['stream', '--project', dir, '--until-caught-up']);
    assert.equal(s.status, 0, s.stderr);
  });

  it('run --no-checks builds the models without testing them; run and build test each product after its build', () => {
    const plain = cli(['run', 'transactions+', '--no-checks', '--project', dir, '--json']);
    assert.equal(plain.status, 0, plain.stderr);
    const skipped = (JSON.parse(plain.stdout) as Models).models;
    assert.ok(skipped.length >= 2 && skipped.every((m) => m.status === 'succeeded' && m.checks === undefined));
    for (const command of ['run', 'build']) {
      const r = cli([command, 'transactions+', '--project', dir, '--json']);
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      const models = (JSON.parse(r.stdout) as Models).models;
      assert.ok(
        models.every((m) => (m.checks?.run ?? 0) > 0 && m.checks?.errors === 0),
        `${command}: every product tested`,
      );
    }
  });

  it('build exits 1 when an error-level check fails after a build that run accepts (a card number in a gold product)', () => {
    const model = join(dir, 'domains/payments/products/daily_volume_by_method/model.sql');
    const original = readFileSync(model, 'utf8');
    try {
      writeFileSync(model, original.replace('  payment_method,', "  payment_method,\n  'paid with 4111111111111111' as note,"));
      const run = cli(['run', 'daily_volume_by_method', '--project', dir, '--json']);
      assert.equal(run.status, 0, 'run reports the checks but fails only on a failed model');
      const build = cli(['build', 'daily_volume_by_method', '--project', dir, '--json']);
      assert.equal(build.status, 1, build.stderr);
      const [m] = (JSON.parse(build.stdout) as Models).models;
      assert.equal(m?.status, 'succeeded');
      assert.ok((m?.checks?.errors ?? 0) >= 1, 'the PAN leak check failed at error level');
      const test = cli(['test', 'daily_volume_by_method', '--project', dir, '--json']);
      const pan = (JSON.parse(test.stdout) as { results: { checkId: string; status: string }[] }).results.find(
        (x) => x.checkId === 'daily_volume_by_method.dataset.pan_leak',
      );
      assert.equal(pan?.status, 'fail');
    } finally {
      writeFileSync(model, original);
    }
  });
});
