// Model SQL stays in finmesh's (DuckDB's) dialect; on a BigQuery target it is translated to GoogleSQL from DuckDB's
// parse tree. What has no translation is refused with the model's file, the line and the construct, by `validate`.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { translateSelect } from '../../src/engine/bigquery/googlesql.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { cli, copyExample, EXAMPLE_SECRETS } from '../helpers.js';

const GCP_TARGET = ['targets:', '  gcp:', '    engine: { kind: bigquery, projectId: fintech-test, location: US }', ''].join('\n');

describe('GoogleSQL translation', () => {
  let duck: DuckDbEngine;
  before(async () => {
    duck = await DuckDbEngine.create({});
  });
  after(() => duck.close());

  async function translate(sql: string) {
    const parsed = await duck.parse(sql);
    return translateSelect(sql, parsed.statements[0]?.ast, { table: (s, t) => `\`p.${s}.${t}\``, tokenizationKey: 'k' });
  }

  it('keeps DuckDB meaning where GoogleSQL differs: FILTER, a reused alias, GROUP BY ALL, NULL order, qualify', async () => {
    const t = await translate(
      [
        'select dt as day, count(*) filter (where ok) as approved, approved / count(*) as rate',
        'from payments_silver.transactions',
        'group by all',
        'qualify row_number() over (partition by dt order by day) = 1',
      ].join('\n'),
    );
    assert.ok('sql' in t, JSON.stringify(t));
    assert.match(t.sql, /COUNTIF\(`ok`\) AS `approved`/);
    assert.match(t.sql, /\(\(COUNTIF\(`ok`\)\) \/ COUNT\(\*\)\) AS `rate`/, 'the alias approved is inlined');
    assert.match(t.sql, /FROM `p\.payments_silver\.transactions`/);
    assert.match(t.sql, /GROUP BY 1\n/, 'only the non-aggregate item is grouped');
    assert.match(t.sql, /ORDER BY `day` ASC NULLS LAST/);
    assert.match(t.sql, /WHERE TRUE\nGROUP BY 1\nQUALIFY/, 'BigQuery wants a WHERE beside QUALIFY');
  });

  it('refuses a construct with no translation, with its line', async () => {
    const t = await translate('select a,\n  list_transform(xs, x -> x + 1) as ys\nfrom payments_silver.transactions');
    assert.deepEqual(t, { line: 2, construct: 'the function list_transform()' });
  });
});

describe('finmesh validate --target gcp', () => {
  it('passes the example: every model has a GoogleSQL translation', () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), GCP_TARGET);
    const r = cli(['validate', '--project', dir, '--target', 'gcp', '--json'], { env: EXAMPLE_SECRETS });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('fails a model with an untranslatable construct naming model, line and construct; model.bigquery.sql fixes it', () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), GCP_TARGET);
    const model = 'domains/payments/products/merchants/model.sql';
    const text = readFileSync(join(dir, model), 'utf8');
    writeFileSync(join(dir, model), text.replace('  mcc,\n', '  mcc,\n  list_value(mcc, category)[1] as mcc_first,\n'));
    const line = text.slice(0, text.indexOf('  mcc,\n')).split('\n').length + 1;
    // The local target keeps DuckDB: the model is valid there.
    assert.equal(cli(['validate', '--project', dir, '--json'], { env: EXAMPLE_SECRETS }).status, 0);
    const r = cli(['validate', '--project', dir, '--target', 'gcp', '--json'], { env: EXAMPLE_SECRETS });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    const issues = JSON.parse(r.stdout).issues as { file: string; path: string; found: string }[];
    assert.deepEqual(
      issues.map((i) => [i.file, i.path, i.found]),
      [[model, `line ${line}`, 'the operator array extract']],
    );
    const human = cli(['validate', '--project', dir, '--target', 'gcp'], { env: EXAMPLE_SECRETS });
    assert.match(
      human.stdout,
      /merchants\/model\.sql: line \d+: expected SQL with a GoogleSQL translation.*found the operator array extract/,
    );
    writeFileSync(
      join(dir, 'domains/payments/products/merchants/model.bigquery.sql'),
      "select id as merchant_id, cnpj, legal_name, trade_name, mcc, [mcc, category][OFFSET(0)] as mcc_first, category, city_state as state, created_at, version from source('merchant-registry') where true qualify row_number() over (partition by id order by version desc, _ingested_at desc) = 1\n",
    );
    assert.equal(cli(['validate', '--project', dir, '--target', 'gcp', '--json'], { env: EXAMPLE_SECRETS }).status, 0);
  });
});
