import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { tempDir } from '../helpers.js';

/** The SQL of a view, as DuckDB keeps it. */
async function viewSql(engine: DuckDbEngine, schema: string, view: string): Promise<string> {
  const r = await engine.query(`SELECT sql FROM duckdb_views() WHERE schema_name = '${schema}' AND view_name = '${view}'`);
  return String(r.rows[0]?.sql ?? '');
}

describe('a view over many files of one schema', () => {
  it('binds from the first file when every file has the same columns, and by name once one differs: the same rows either way', async () => {
    const dir = tempDir('same-columns-');
    const engine = await DuckDbEngine.create({ threads: 1 });
    try {
      const files: string[] = [];
      const write = async (i: number, extra = false) => {
        const part = join(dir, `dt=2026-11-${27 + (i % 2)}`);
        mkdirSync(part, { recursive: true });
        const f = join(part, `part-${i}.parquet`);
        await engine.exec(
          `COPY (SELECT ${i} AS id, {'brand': 'visa', 'n': ${i}} AS card, ${i}.25::DECIMAL(18,2) AS amount${extra ? `, 'new' AS channel` : ''}) TO '${f}' (FORMAT parquet)`,
        );
        files.push(f);
      };
      for (let i = 0; i < 40; i++) await write(i);
      await engine.defineDataset('payments_bronze', 'transactions', files);
      assert.match(await viewSql(engine, 'payments_bronze', 'transactions'), /union_by_name/, 'a view defined once binds by name');
      await engine.defineDataset('payments_bronze', 'transactions', files);
      assert.doesNotMatch(
        await viewSql(engine, 'payments_bronze', 'transactions'),
        /union_by_name/,
        'defined again: 40 files of one schema',
      );
      const rows = async () =>
        (
          await engine.query(
            'SELECT id, card.n AS n, amount::VARCHAR AS amount, dt::VARCHAR AS dt FROM payments_bronze.transactions ORDER BY id',
          )
        ).rows;
      const same = await rows();
      assert.equal(same.length, 40);
      assert.deepEqual(same[3], { id: 3, n: 3, amount: '3.25', dt: '2026-11-28' }, 'values and the partition from the path');

      // A column added at the source: the new file has it, the view unites the files by name.
      await write(40, true);
      await engine.defineDataset('payments_bronze', 'transactions', files);
      assert.match(await viewSql(engine, 'payments_bronze', 'transactions'), /union_by_name/);
      const all = (await engine.query('SELECT count(*) AS n, count(channel) AS c FROM payments_bronze.transactions')).rows[0];
      assert.deepEqual(all, { n: 41, c: 1 }, 'the new column, NULL in the rows before it');

      // A file written again under its path with other columns (another process, after a schema change) is read again.
      files.pop();
      await engine.defineDataset('payments_bronze', 'transactions', files);
      assert.doesNotMatch(await viewSql(engine, 'payments_bronze', 'transactions'), /union_by_name/);
      await engine.exec(
        `COPY (SELECT 5 AS id, {'brand': 'visa', 'n': 5} AS card, 5.25::DECIMAL(18,2) AS amount, 'app' AS channel) TO '${files[5]}' (FORMAT parquet)`,
      );
      await engine.defineDataset('payments_bronze', 'transactions', files);
      assert.match(await viewSql(engine, 'payments_bronze', 'transactions'), /union_by_name/);
      assert.deepEqual((await engine.query('SELECT count(channel) AS c FROM payments_bronze.transactions')).rows[0], { c: 1 });

      // A short list binds by name (opening a few files costs little).
      await engine.defineDataset('payments_bronze', 'few', files.slice(0, 5));
      await engine.defineDataset('payments_bronze', 'few', files.slice(0, 5));
      assert.match(await viewSql(engine, 'payments_bronze', 'few'), /union_by_name/);
    } finally {
      await engine.close();
    }
  });
});
