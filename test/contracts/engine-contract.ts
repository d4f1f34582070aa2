import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FinmeshError } from '../../src/core/errors.js';
import type { Engine } from '../../src/engine/engine.js';
import { tempDir } from '../helpers.js';

/**
 * The behaviour every engine adapter must show: the jobs only ever use these members and the dialect's SQL, so an
 * engine that passes runs finmesh. `make` returns a fresh engine whose local files it can read and write.
 */
export function describeEngineContract(name: string, make: () => Promise<Engine>, options: { skip?: string } = {}): void {
  describe(`engine contract: ${name}`, { skip: options.skip }, () => {
    let engine: Engine;
    let dir: string;
    before(async () => {
      engine = await make();
      dir = tempDir('engine-');
    });
    after(async () => {
      await engine?.close();
    });

    const one = async (sql: string) => (await engine.query(sql)).rows[0] ?? {};

    it('returns rows with JSON-safe values: safe integers as numbers, larger ones as strings', async () => {
      const d = engine.dialect;
      const row = await one(
        `SELECT 42 AS small, ${d.cast("'9007199254740993'", 'BIGINT')} AS big, ${d.cast('12.5', 'DECIMAL(18,2)')} AS amount, 'ção' AS text`,
      );
      assert.deepEqual(row, { small: 42, big: '9007199254740993', amount: 12.5, text: 'ção' });
    });

    it('describes a SELECT without running it, and refuses one that does not bind', async () => {
      const cols = await engine.describe(`SELECT 1 AS a, 'x' AS b`);
      assert.deepEqual(
        cols.map((c) => c.name),
        ['a', 'b'],
      );
      await assert.rejects(
        engine.describe('SELECT nope FROM (SELECT 1 AS a) t'),
        (e: unknown) => e instanceof FinmeshError && e.code === 'QUERY_INVALID' && /nope/.test(e.message),
      );
    });

    it('parses SQL into statements: a SELECT with its tree, a syntax error and a non-SELECT as values', async () => {
      const ok = await engine.parse('with x as (select 1 as a) select a from x');
      assert.equal(ok.error, undefined);
      assert.equal(ok.statements.length, 1);
      assert.equal(ok.statements[0]?.type, 'SELECT');
      assert.ok(ok.statements[0]?.ast && typeof ok.statements[0].ast === 'object');
      const two = await engine.parse('select 1; select 2');
      assert.equal(two.statements.length, 2);
      assert.equal((await engine.parse('select from where')).error?.kind, 'syntax');
      assert.equal((await engine.parse('create table t (a int)')).error?.kind, 'unsupported');
    });

    it('writes Parquet partitioned by a column and reads it back as a dataset view, partitions from the paths', async () => {
      const d = engine.dialect;
      const out = join(dir, 'write');
      const written = await engine.writeParquet(
        `SELECT * FROM (VALUES (1, DATE '2026-11-26'), (2, DATE '2026-11-27'), (3, DATE '2026-11-27')) v(id, dt)`,
        out,
        { partitionBy: 'dt' },
      );
      assert.deepEqual(written.map((f) => [f.partition, f.rows]).sort(), [
        ['dt=2026-11-26', 1],
        ['dt=2026-11-27', 2],
      ]);
      await engine.defineDataset(
        'payments_silver',
        'contract_t',
        written.map((f) => f.path),
      );
      const r = await one(`SELECT count(*) AS n, ${d.cast('max(dt)', 'VARCHAR')} AS last FROM payments_silver.contract_t`);
      assert.deepEqual(r, { n: 3, last: '2026-11-27' });
      await engine.defineDataset(
        'payments_silver',
        'contract_empty',
        [],
        [
          { name: 'id', type: 'BIGINT' },
          { name: 'note', type: 'VARCHAR' },
        ],
      );
      assert.deepEqual(await one('SELECT count(*) AS n FROM payments_silver.contract_empty'), { n: 0 });
      assert.deepEqual(
        (await engine.describe('SELECT * FROM payments_silver.contract_empty')).map((c) => c.name),
        ['id', 'note'],
      );
      await engine.defineView('payments_gold', 'contract_v', 'SELECT count(*) AS n FROM payments_silver.contract_t');
      assert.deepEqual(await one('SELECT n FROM payments_gold.contract_v'), { n: 3 });
    });

    it('reads newline-delimited JSON typed by a schema, unions by name and keeps the latest row per key', async () => {
      const d = engine.dialect;
      const file = join(dir, 'rows.ndjson');
      writeFileSync(
        file,
        ['{"id":"a","v":1,"x":"old"}', '{"id":"a","v":3,"x":"new"}', '{"id":"b","v":2}', '{"id":"a","v":2,"extra":true}'].join('\n'),
      );
      const cols = [
        { name: 'id', type: 'VARCHAR' },
        { name: 'v', type: 'INTEGER' },
        { name: 'x', type: 'VARCHAR' },
      ];
      await engine.createTempTable('contract_rows', `SELECT * FROM ${d.readNdjson(file, cols)}`);
      const latest = (await engine.query(`${d.latestPerKey('contract_rows', ['id'], 'v')} ORDER BY id`)).rows;
      assert.deepEqual(latest, [
        { id: 'a', v: 3, x: 'new' },
        { id: 'b', v: 2, x: null },
      ]);
      const union = await one(
        `SELECT count(*) AS n FROM (${d.unionAllByName('SELECT id, v FROM contract_rows', 'SELECT v, id FROM contract_rows')}) u`,
      );
      assert.deepEqual(union, { n: 8 });
      const counted = await one(
        `SELECT ${d.countIf(`${d.regexpFullMatch('id', '[a]')}`)} AS n, ${d.countIf('x IS NULL')} AS missing FROM contract_rows`,
      );
      assert.deepEqual(counted, { n: 3, missing: 2 });
      assert.deepEqual(await one(`SELECT ${d.daysAgo(0)} = ${d.currentDate()} AS same`), { same: true });
      await engine.dropTempTable('contract_rows');
      await assert.rejects(
        engine.query('SELECT * FROM contract_rows'),
        (e: unknown) => e instanceof FinmeshError && e.code === 'QUERY_INVALID',
      );
      mkdirSync(join(dir, 'p'), { recursive: true });
      const files = await engine.writeParquet(`SELECT 1 AS a`, join(dir, 'p'));
      assert.deepEqual(await one(`SELECT sum(a) AS s FROM ${d.readParquet(files.map((f) => f.path))}`), { s: 1 });
    });

    it('tokenises with a keyed HMAC-SHA256 (the same as any HMAC library), masks card numbers and finds them in text', async () => {
      const key = 'contract-test-key';
      await engine.installMacros({ tokenizationKey: key });
      const expected = createHmac('sha256', key).update('123.456.789-09').digest('hex');
      const d = engine.dialect;
      const row = await one(
        `SELECT tokenize('123.456.789-09') AS token, tokenize(NULL) AS none, mask_pan('4111 1111 1111 1111') AS masked,
           ${d.cardNumbersIn("'paid with 4111111111111111, not 4111111111111112 nor 411111******1111'")} AS cards`,
      );
      assert.deepEqual(row, { token: expected, none: null, masked: '411111******1111', cards: 1 });
      await engine.installMacros({});
      await assert.rejects(engine.query(`SELECT tokenize('x') AS t`), /tokenization\.key/);
    });

    it('once sandboxed, reads only the folders it was given and refuses to change its settings', async () => {
      const sandboxed = await make();
      try {
        const inside = join(tempDir('engine-sandbox-'), 'lake');
        const written = await sandboxed.writeParquet('SELECT 7 AS a', inside);
        const outside = join(dir, 'outside');
        await sandboxed.writeParquet('SELECT 8 AS a', outside);
        await sandboxed.sandbox([inside]);
        const d = sandboxed.dialect;
        assert.deepEqual((await sandboxed.query(`SELECT a FROM ${d.readParquet(written.map((f) => f.path))}`)).rows, [{ a: 7 }]);
        await assert.rejects(sandboxed.query(`SELECT a FROM ${d.readParquet([join(outside, 'part-0.parquet')])}`));
        await assert.rejects(sandboxed.exec(`SET threads = 1`));
      } finally {
        await sandboxed.close();
      }
    });
  });
}
