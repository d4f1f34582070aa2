import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { buildDag, parseCalls, renderModel, selectModels } from '../../src/engine/dag.js';
import { copyExample, EXAMPLE } from '../helpers.js';

describe('model DAG', () => {
  const project = loadProject(EXAMPLE);
  const { dag, issues } = buildDag(project);
  const order = dag.nodes.map((n) => n.product.name);

  it('parses ref() and source(), bare or inside {{ }}', () => {
    const calls = parseCalls("select * from {{ ref('a') }} join ref('dom', 'b') using (id) join source('s-1')");
    assert.deepEqual(
      calls.map((c) => [c.fn, c.args]),
      [
        ['ref', ['a']],
        ['ref', ['dom', 'b']],
        ['source', ['s-1']],
      ],
    );
  });

  it('orders every model after what it reads', () => {
    assert.deepEqual(issues, []);
    for (const node of dag.nodes) {
      for (const up of node.refs)
        assert.ok(order.indexOf(up.name) < order.indexOf(node.product.name), `${up.name} before ${node.product.name}`);
    }
  });

  it('selects by name, +upstream, downstream+, domain: and zone:', () => {
    const names = (s: string) =>
      selectModels(dag, s)
        .map((n) => n.product.name)
        .sort();
    assert.deepEqual(names('customer_360'), ['customer_360']);
    assert.deepEqual(names('+customer_360'), ['customer_360', 'customers', 'transactions']);
    assert.deepEqual(names('transactions+'), [
      'customer_360',
      'daily_volume_by_method',
      'fraud_signals',
      'merchant_daily_summary',
      'reconciliation',
      'transactions',
      'volume_per_minute',
    ]);
    assert.deepEqual(names('domain:finance'), ['reconciliation']);
    assert.ok(names('zone:gold').every((n) => project.products.find((p) => p.name === n)?.dataset.zone === 'gold'));
    assert.deepEqual(names('nothing_like_this'), []);
  });

  it('renders refs and sources to <domain>_<zone>.<dataset>', () => {
    const node = dag.byName.get('merchant_daily_summary');
    assert.ok(node);
    const sql = renderModel(node, project);
    assert.match(sql, /from payments_silver\.transactions t/);
    assert.match(sql, /left join payments_silver\.merchants m/);
    assert.doesNotMatch(sql, /ref\(/);
  });

  it('reports a cycle', () => {
    const dir = copyExample();
    const model = join(dir, 'domains/payments/products/transactions/model.sql');
    writeFileSync(
      model,
      readFileSync(model, 'utf8').replace(
        "from source('core-transactions')",
        "from source('core-transactions') join ref('fraud_signals') using (customer_id)",
      ),
    );
    const { issues: cyc } = buildDag(loadProject(dir));
    assert.equal(cyc.length, 1);
    assert.match(
      cyc[0]?.found ?? '',
      /the cycle .*transactions → fraud_signals → transactions|the cycle .*fraud_signals → transactions → fraud_signals/,
    );
  });
});
