import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { type OdpsDocument, odpsSchema } from '../../src/mesh/odps.js';
import { cli, EXAMPLE, tempDir } from '../helpers.js';

describe('finmesh odps', () => {
  it('exports every product as an ODPS v1.0.0 data product whose ports point at real contracts', () => {
    const out = tempDir('odps-');
    const r = cli(['odps', '--project', EXAMPLE, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const files = readdirSync(out).sort();
    assert.equal(files.length, loadProject(EXAMPLE).products.length);
    const docs = files.map((f) => {
      const doc = parse(readFileSync(join(out, f), 'utf8'));
      const checked = odpsSchema.safeParse(doc);
      assert.ok(checked.success, `${f}: ${JSON.stringify(checked.error?.issues)}`);
      return checked.data as OdpsDocument;
    });
    // Every input port names a contract some product promises on its output port, at that version.
    const promised = new Map(docs.flatMap((d) => (d.outputPorts ?? []).map((o) => [o.contractId, o.version])));
    for (const d of docs)
      for (const i of d.inputPorts ?? []) assert.equal(promised.get(i.contractId), i.version, `${d.id} reads ${i.contractId}`);
    const rec = docs.find((d) => d.id === 'fintech.finance.reconciliation.product');
    assert.deepEqual(rec?.inputPorts?.map((i) => i.contractId).sort(), ['fintech.partners.settlements', 'fintech.payments.transactions']);
    assert.equal(rec?.outputPorts?.[0]?.contractId, 'fintech.finance.reconciliation');
    const chargebacks = docs.find((d) => d.name === 'chargebacks');
    assert.deepEqual(chargebacks?.customProperties?.find((c) => c.property === 'sources')?.value, ['acquirer-chargebacks']);
    assert.ok(chargebacks?.support?.[0]?.url.startsWith('mailto:'));
  });

  it('prints one product, and names the products when asked for one that does not exist', () => {
    const one = cli(['odps', 'payments.transactions', '--project', EXAMPLE]);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(parse(one.stdout).id, 'fintech.payments.transactions.product');
    const missing = cli(['odps', 'nope', '--project', EXAMPLE]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no product "nope" \(products: .*payments\.transactions/);
  });
});
