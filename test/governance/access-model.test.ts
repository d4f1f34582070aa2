import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

/** A copy of the example whose access model is edited by `edit`, validated. */
function validateWith(edit: (yaml: string) => string) {
  const dir = copyExample();
  const file = join(dir, 'governance/access.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return cli(['validate', '--project', dir]);
}

describe('the access model is validated like the rest of the project', () => {
  it('names the file, the YAML path, what was expected and what was found', () => {
    const r = validateWith((y) =>
      y
        .replace('- { domains: [payments], zones: [silver, gold] }', '- { domains: [paymnts], zones: [silver, platinum] }')
        .replace('persona: bi-service, secret: env:FINMESH_TOKEN_POWERBI', 'persona: bi-servic, secret: env:FINMESH_TOKEN_POWERBI')
        .replace('classifications: { confidential: clear, pci: masked }', 'classifications: { confidential: clear, pci: hidden }')
        .replace("where: \"brand IN ('ELO', 'HIPERCARD')\"", 'where: "bandeira = \'ELO\'"'),
    );
    assert.equal(r.status, 2);
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /governance\/access\.yaml: personas\.payments-analyst\.grants\[0\]\.zones\[1\]: expected one of "landing", "bronze", "silver", "gold", "quarantine", found "platinum"/,
    );
    assert.match(
      out,
      /personas\.payments-analyst\.classifications\.pci: expected one of "clear", "masked", "tokenised", "denied", found "hidden"/,
    );
  });

  it('checks references the schema cannot: personas, domains, datasets and row filters that bind', () => {
    const refs = validateWith((y) =>
      y
        .replace('- { domains: [payments], zones: [silver, gold] }', '- { domains: [paymnts], zones: [silver, gold] }')
        .replace('persona: bi-service, secret: env:FINMESH_TOKEN_POWERBI', 'persona: bi-servic, secret: env:FINMESH_TOKEN_POWERBI')
        .replace('- { datasets: [finance_gold.reconciliation] }', '- { datasets: [finance_gold.reconcile] }'),
    );
    assert.equal(refs.status, 2);
    const out = refs.stdout + refs.stderr;
    assert.match(
      out,
      /personas\.payments-analyst\.grants\[0\]\.domains\[0\]: expected a domain of the project \(customers, finance, partners, payments, risk\) or \*, found "paymnts"/,
    );
    assert.match(out, /tokens\[6\]\.persona: expected a persona of this file \(.*bi-service.*\), found "bi-servic"/);
    assert.match(out, /personas\.payments-analyst\.grants\[1\]\.datasets\[0\]: expected a dataset of the project/);
    const filter = validateWith((y) => y.replace("where: \"brand IN ('ELO', 'HIPERCARD')\" }", 'where: "bandeira = \'ELO\'" }'));
    assert.equal(filter.status, 2);
    assert.match(
      filter.stdout + filter.stderr,
      /personas\.partner-operator\.rowFilters\[0\]\.where: expected a SQL condition over the columns of partners_silver\.settlements, found .*"bandeira" not found/,
    );
  });
});
