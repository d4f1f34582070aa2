import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { columnLineage } from '../../src/lineage/column-lineage.js';

async function lineageOf(sql: string, outputColumns: string[]) {
  const engine = await DuckDbEngine.create();
  const r = await engine.query(`SELECT json_serialize_sql('${sql.replace(/'/g, "''")}') AS j`);
  await engine.close();
  const node = JSON.parse(String(r.rows[0]?.j)).statements[0].node;
  const columns: Record<string, string[]> = {
    's.tx': ['id', 'customer_id', 'amount', 'status', 'cpf', 'created_at', 'kind'],
    's.cust': ['id', 'segment', 'state'],
  };
  return columnLineage({ node, columnsOf: (d) => columns[d] ?? [], outputColumns, datasetId: (d) => ({ namespace: 'test', name: d }) });
}

const kinds = (l: Awaited<ReturnType<typeof lineageOf>>, field: string) =>
  (l.fields[field]?.inputFields ?? [])
    .flatMap((f) => f.transformations.map((t) => `${f.name}.${f.field}:${t.type}/${t.subtype}${t.masking ? '/masked' : ''}`))
    .sort();

describe('column lineage from SQL', () => {
  it('classifies identity, transformation, aggregation, masking, and the indirect inputs', async () => {
    const l = await lineageOf(
      `with per_customer as (
         select customer_id, sum(amount) as total, count(*) as n from s.tx where status = 'paid' group by customer_id
       )
       select t.id, tokenize(t.cpf) as cpf_token, t.amount * 100 as cents, p.total,
              case when t.amount > 3 then 'busy' else c.segment end as label,
              row_number() over (partition by c.state order by t.created_at) as rank
       from s.tx t join per_customer p on p.customer_id = t.customer_id left join s.cust c on c.id = t.customer_id
       order by t.created_at`,
      ['id', 'cpf_token', 'cents', 'total', 'label', 'rank'],
    );
    assert.deepEqual(kinds(l, 'id'), ['s.tx.id:DIRECT/IDENTITY']);
    assert.deepEqual(kinds(l, 'cpf_token'), ['s.tx.cpf:DIRECT/TRANSFORMATION/masked']);
    assert.deepEqual(kinds(l, 'cents'), ['s.tx.amount:DIRECT/TRANSFORMATION']);
    assert.deepEqual(kinds(l, 'total'), ['s.tx.amount:DIRECT/AGGREGATION']);
    assert.deepEqual(kinds(l, 'label'), ['s.cust.segment:DIRECT/TRANSFORMATION', 's.tx.amount:INDIRECT/CONDITIONAL']);
    assert.deepEqual(kinds(l, 'rank'), ['s.cust.state:INDIRECT/WINDOW', 's.tx.created_at:INDIRECT/WINDOW']);
    const ds = l.dataset.flatMap((f) => f.transformations.map((t) => `${f.name}.${f.field}:${t.subtype}`)).sort();
    for (const want of [
      's.tx.status:FILTER',
      's.tx.customer_id:GROUP_BY',
      's.tx.customer_id:JOIN',
      's.cust.id:JOIN',
      's.tx.created_at:SORT',
    ]) {
      assert.ok(ds.includes(want), `${want} in ${ds.join(', ')}`);
    }
  });

  it('expands * and GROUP BY ALL', async () => {
    const star = await lineageOf('select * from s.cust', ['id', 'segment', 'state']);
    assert.deepEqual(Object.keys(star.fields), ['id', 'segment', 'state']);
    const all = await lineageOf("select kind, sum(amount) filter (where status = 'paid') as paid from s.tx group by all", ['kind', 'paid']);
    assert.deepEqual(kinds(all, 'paid'), ['s.tx.amount:DIRECT/AGGREGATION', 's.tx.status:INDIRECT/FILTER']);
    assert.ok(all.dataset.some((f) => f.field === 'kind' && f.transformations[0]?.subtype === 'GROUP_BY'));
  });
});
