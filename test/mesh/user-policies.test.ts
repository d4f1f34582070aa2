import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

const policy = (dir: string, name: string, body: string) => writeFileSync(join(dir, 'policies', name), body);

describe('policies users write (policies/*.yaml, CEL)', () => {
  it('the example’s own policies hold: policy check and validate pass', () => {
    const dir = copyExample();
    const r = cli(['policy', 'check', '--project', dir, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { violations: unknown[] }).violations, []);
    assert.equal(cli(['validate', '--project', dir]).status, 0);
  });

  it('a policy the example violates fails policy check, validate and run, naming the file and path to fix and the policy', () => {
    const dir = copyExample();
    policy(
      dir,
      'gold-two-owners.yaml',
      `apiVersion: finmesh/v1
kind: Policy
id: gold-two-owners
for: products
when: "product.zone == 'gold'"
assert: "size(product.owners) >= 2"
message: "two owners (team.members with role owner)"
found: "string(size(product.owners)) + ' owner(s)'"
`,
    );
    const r = cli(['policy', 'check', '--project', dir]);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /error {3}gold-two-owners \(policies\/gold-two-owners\.yaml\): domains\/risk\/products\/fraud_signals\/contract\.odcs\.yaml: team\.members: expected two owners \(team\.members with role owner\), found 1 owner\(s\)/,
    );
    assert.doesNotMatch(r.stdout, /payments\/products\/transactions\//, 'silver products are not in its scope');
    const v = cli(['validate', '--project', dir]);
    assert.equal(v.status, 2);
    assert.match(v.stderr + v.stdout, /fraud_signals\/contract\.odcs\.yaml: team\.members: expected two owners/);
    const run = cli(['run', '--project', dir]);
    assert.equal(run.status, 2, 'a run does not start while an error-level policy fails');
    assert.match(run.stderr, /policy gold-two-owners/);
  });

  it('rules over the access model: no persona outside risk sees pci in clear', () => {
    const dir = copyExample();
    const file = join(dir, 'governance/access.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'classifications: { confidential: clear, pci: masked }',
        'classifications: { confidential: clear, pci: clear }',
      ),
    );
    const r = cli(['policy', 'check', '--project', dir]);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /pci-in-clear-only-for-risk \(policies\/pci-in-clear\.yaml\): governance\/access\.yaml: personas\.payments-analyst: expected pci masked, tokenised or denied .*found classifications\.pci: clear/,
    );
  });

  it('an expression that does not parse, or fails on an element, names the policy file and field', () => {
    const dir = copyExample();
    policy(dir, 'broken.yaml', 'apiVersion: finmesh/v1\nkind: Policy\nid: broken\nfor: products\nassert: "product.zone =="\nmessage: x\n');
    const r = cli(['policy', 'check', '--project', dir]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /policies\/broken\.yaml: assert: expected a CEL expression, found .*Unexpected token/);
    policy(
      dir,
      'broken.yaml',
      'apiVersion: finmesh/v1\nkind: Policy\nid: broken\nfor: products\nassert: "product.nope == 1"\nmessage: x\n',
    );
    const e = cli(['policy', 'check', '--project', dir]);
    assert.equal(e.status, 1);
    assert.match(
      e.stdout,
      /broken \(policies\/broken\.yaml\): policies\/broken\.yaml: assert: expected an expression that evaluates on .*, found No such key: nope/,
    );
  });
});
