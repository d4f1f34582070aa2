import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { buildDag, renderModel } from '../../src/engine/dag.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { EXAMPLE } from '../helpers.js';

describe('customers_gold.customer_360', () => {
  it('gives the same preferred_method for the same input, however the rows are ordered (ties go alphabetically)', async () => {
    const project = loadProject(EXAMPLE);
    const node = buildDag(project).dag.byName.get('customer_360');
    assert.ok(node);
    const sql = renderModel(node, project);
    // c1 used pix and card once each (a tie); c2 used boleto twice and pix once.
    const rows = [
      ['t1', 'c1', 'pix'],
      ['t2', 'c1', 'card'],
      ['t3', 'c2', 'boleto'],
      ['t4', 'c2', 'pix'],
      ['t5', 'c2', 'boleto'],
    ];
    const answers = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const engine = await DuckDbEngine.create({ threads: 1 });
      try {
        const order = round % 2 === 0 ? rows : [...rows].reverse();
        const values = order
          .map(
            ([id, customer, method]) =>
              `('${id}', '${customer}', '${method}', 'captured', 10.00::decimal(18,2), false, TIMESTAMPTZ '2026-11-27 12:00:00+00')`,
          )
          .join(', ');
        await engine.exec(`CREATE SCHEMA payments_silver; CREATE SCHEMA customers_silver;
          CREATE TABLE payments_silver.transactions AS SELECT * FROM (VALUES ${values})
            AS t(transaction_id, customer_id, payment_method, status, amount, is_deleted, created_at);
          CREATE TABLE customers_silver.customers AS SELECT * FROM (VALUES ('c1', 'tok1', 'retail', 'SP', 1990), ('c2', 'tok2', 'retail', 'RJ', 1985))
            AS c(customer_id, cpf_token, segment, state, birth_year);`);
        const r = await engine.query(`SELECT customer_id, preferred_method FROM (${sql}) ORDER BY customer_id`);
        answers.add(JSON.stringify(r.rows));
      } finally {
        await engine.close();
      }
    }
    assert.deepEqual(
      [...answers],
      [
        JSON.stringify([
          { customer_id: 'c1', preferred_method: 'card' },
          { customer_id: 'c2', preferred_method: 'boleto' },
        ]),
      ],
    );
  });
});
