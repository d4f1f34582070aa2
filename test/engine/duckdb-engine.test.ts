import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withUsage } from '../../src/core/usage.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import type { WrittenFile } from '../../src/engine/engine.js';
import { describeEngineContract } from '../contracts/engine-contract.js';
import { tempDir } from '../helpers.js';

describeEngineContract('duckdb', () => DuckDbEngine.create());

describe('DuckDB measures what a statement read', () => {
  it('adds the compressed bytes of the Parquet columns each scan needed, and the files it opened, to the caller’s usage', async () => {
    const engine = await DuckDbEngine.create();
    const dir = tempDir();
    try {
      const files: string[] = [];
      // Eight files: more than the five a profile names, so the engine must resolve the list the view was built on.
      for (let i = 0; i < 8; i++) {
        const written = await engine.writeParquet(
          `SELECT range AS a, 'text ' || (range * 7919 % 1000) AS s FROM range(${i * 20_000}, ${(i + 1) * 20_000})`,
          join(dir, `p${i}`),
        );
        files.push(...written.map((f) => f.path));
      }
      await engine.defineDataset('main', 't', files);
      const measure = async (sql: string) => {
        const usage: Record<string, number> = {};
        await withUsage(
          {
            add: (meter, q) => {
              usage[meter] = (usage[meter] ?? 0) + q;
            },
          },
          () => engine.query(sql),
        );
        return usage;
      };
      const a = await measure('SELECT sum(a) FROM main.t');
      const s = await measure('SELECT max(s) FROM main.t');
      const both = await measure('SELECT sum(a), max(s) FROM main.t');
      const filtered = await measure("SELECT sum(a) FROM main.t WHERE s = 'text 1'");
      assert.equal(a['storage.objects_read'], 8, 'every file of the view was opened');
      assert.ok((a['engine.bytes_scanned'] ?? 0) > 0 && (s['engine.bytes_scanned'] ?? 0) > 0);
      assert.equal(both['engine.bytes_scanned'], (a['engine.bytes_scanned'] ?? 0) + (s['engine.bytes_scanned'] ?? 0), 'columns add up');
      assert.equal(filtered['engine.bytes_scanned'], both['engine.bytes_scanned'], 'a column filtered on is read too');
      const onDisk = files.reduce((n, f) => n + statSync(f).size, 0);
      assert.ok((both['engine.bytes_scanned'] ?? 0) <= onDisk, 'never more than the files hold');
      const count = await measure('SELECT count(*) FROM main.t');
      assert.equal(count['engine.bytes_scanned'] ?? 0, 0, 'a count reads only footers');
    } finally {
      await engine.close();
    }
  });
});

describe('DuckDB measures a scan from the column sizes the files’ writer gave', () => {
  it('gives each written file’s compressed bytes per top-level column, as its footer holds them (structs and lists summed)', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const written = await engine.writeParquet(
        `SELECT range AS a, {'cpf': 'x' || range, 'n': range} AS payer, [range, 1] AS l, 'q' AS "we""ird.name", (DATE '2026-11-01' + (range % 3)::INT) AS dt FROM range(30000)`,
        join(tempDir('engine-sizes-'), 'out'),
        { partitionBy: 'dt' },
      );
      assert.equal(written.length, 3);
      const files = `[${written.map((f) => engine.dialect.quoteLiteral(f.path)).join(', ')}]`;
      const footers = await engine.query(
        `SELECT file_name AS f, split_part(path_in_schema, ', ', 1) AS c, sum(total_compressed_size)::BIGINT AS b FROM parquet_metadata(${files}) GROUP BY ALL`,
      );
      for (const w of written) {
        const expected = Object.fromEntries(footers.rows.filter((r) => r.f === w.path).map((r) => [String(r.c), Number(r.b)]));
        assert.deepEqual(JSON.parse(w.columnBytes ?? '{}'), expected, w.path);
        assert.deepEqual(Object.keys(expected).sort(), ['a', 'l', 'payer', 'we"ird.name']);
      }
    } finally {
      await engine.close();
    }
  });

  it('gives no sizes for a file with a column DuckDB reports no size of (INTERVAL, TIME WITH TIME ZONE): its footer is read', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const dir = tempDir('engine-interval-');
      const [plain] = await engine.writeParquet(`SELECT range AS id FROM range(1000)`, join(dir, 'plain'));
      const [interval] = await engine.writeParquet(
        `SELECT range AS id, TIMESTAMP '2026-11-27 10:00:00' - TIMESTAMP '2026-11-26 09:00:00' + to_seconds(range) AS settle_delay FROM range(1000)`,
        join(dir, 'interval'),
      );
      const [timetz] = await engine.writeParquet(`SELECT range AS id, '10:00:00+02'::TIMETZ AS t FROM range(1000)`, join(dir, 'timetz'));
      assert.ok(plain?.columnBytes, 'a file of plain columns has its sizes');
      assert.equal(interval?.columnBytes, undefined);
      assert.equal(timetz?.columnBytes, undefined);
      await engine.defineDataset('main', 'i', [interval?.path as string]);
      const usage: Record<string, number> = {};
      await withUsage({ add: (m, q) => (usage[m] = (usage[m] ?? 0) + q) }, () => engine.query('SELECT max(settle_delay) FROM main.i'));
      const footer = await engine.query(
        `SELECT sum(total_compressed_size)::BIGINT AS b FROM parquet_metadata(${engine.dialect.quoteLiteral(interval?.path as string)}) WHERE path_in_schema = 'settle_delay'`,
      );
      assert.ok(Number(footer.rows[0]?.b) > 0);
      assert.equal(usage['engine.bytes_scanned'], Number(footer.rows[0]?.b), 'the interval column is metered as its footer holds it');
    } finally {
      await engine.close();
    }
  });

  it('takes the sizes it is told (from the manifest) over reading the files’ footers, and reads footers for the others', async () => {
    const dir = tempDir('engine-known-');
    const writer = await DuckDbEngine.create();
    const files: WrittenFile[] = [];
    try {
      for (let i = 0; i < 2; i++)
        files.push(...(await writer.writeParquet(`SELECT range AS a, 'text ' || range AS s FROM range(1000)`, join(dir, `p${i}`))));
    } finally {
      await writer.close();
    }
    const scanned = async (engine: DuckDbEngine) => {
      await engine.defineDataset(
        'main',
        't',
        files.map((f) => f.path),
      );
      const usage: Record<string, number> = {};
      await withUsage({ add: (m, q) => (usage[m] = (usage[m] ?? 0) + q) }, () => engine.query('SELECT sum(a), max(s) FROM main.t'));
      return usage['engine.bytes_scanned'];
    };
    const fromFooters = await DuckDbEngine.create();
    const told = await DuckDbEngine.create();
    try {
      const real = await scanned(fromFooters);
      const sizes = files.map((f) => JSON.parse(f.columnBytes ?? '{}') as Record<string, number>);
      assert.equal(
        real,
        sizes.reduce((n, s) => n + (s.a ?? 0) + (s.s ?? 0), 0),
        'the writer’s sizes are what the footers say',
      );
      // Told other sizes for the first file only: a scan counts those, so it read no footer of that file.
      told.knowColumnBytes([{ path: files[0]?.path as string, columnBytes: JSON.stringify({ a: 1_000_000, s: 7 }) }]);
      assert.equal(await scanned(told), 1_000_007 + (sizes[1]?.a ?? 0) + (sizes[1]?.s ?? 0));
    } finally {
      await fromFooters.close();
      await told.close();
    }
  });
});

describe('duckdb Parquet writes for a partner file (unordered, capped row groups)', () => {
  let engine: DuckDbEngine | undefined;
  after(() => engine?.close());

  it('writes every row exactly once, in row groups of about the size asked (one group without it)', async () => {
    engine = await DuckDbEngine.create();
    const digits = '(VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9))';
    const select = `SELECT a.x * 1000 + b.x * 100 + c.x * 10 + d.x AS id FROM ${digits} a(x), ${digits} b(x), ${digits} c(x), ${digits} d(x)`;
    const written = await engine.writeParquet(select, join(tempDir('engine-rowgroups-'), 'out'), { ordered: false, rowGroupRows: 2048 });
    assert.equal(
      written.reduce((s, f) => s + f.rows, 0),
      10_000,
    );
    const files = `[${written.map((f) => engine?.dialect.quoteLiteral(f.path)).join(', ')}]`;
    const rows = await engine.query(`SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(id) AS total FROM read_parquet(${files})`);
    assert.deepEqual(rows.rows[0], { n: 10_000, ids: 10_000, total: 49_995_000 });
    const groups = await engine.query(
      `SELECT count(DISTINCT row_group_id) AS n, max(row_group_num_rows) AS largest FROM parquet_metadata(${files})`,
    );
    // DuckDB closes a row group at the first vector past the size asked: about 2048, never twice that.
    assert.ok(Number(groups.rows[0]?.largest) < 4096, `largest row group ${groups.rows[0]?.largest} rows`);
    assert.ok(Number(groups.rows[0]?.n) >= 3, `${groups.rows[0]?.n} row groups for 10,000 rows`);
  });
});

describe('duckdb Parquet writes for a stream batch (unordered, its size known)', () => {
  const groupsOf = async (engine: DuckDbEngine, count: number, options: { rows?: number; ordered?: boolean }) => {
    const written = await engine.writeParquet(
      `SELECT range AS id, 'customer ' || (range % 997) AS name FROM range(${count})`,
      join(tempDir('engine-batch-'), 'out'),
      options,
    );
    assert.equal(
      written.reduce((s, f) => s + f.rows, 0),
      count,
    );
    const files = `[${written.map((f) => engine.dialect.quoteLiteral(f.path)).join(', ')}]`;
    const check = await engine.query(`SELECT count(DISTINCT id) AS ids, sum(id) AS total FROM read_parquet(${files})`);
    assert.deepEqual(check.rows[0], { ids: count, total: (count * (count - 1)) / 2 }, 'every row once');
    const meta = await engine.query(
      `SELECT count(DISTINCT row_group_id) AS n, max(row_group_num_rows) AS largest FROM parquet_metadata(${files})`,
    );
    return { n: Number(meta.rows[0]?.n), largest: Number(meta.rows[0]?.largest) };
  };

  it('shares a batch out as a row group per thread, and leaves a small batch, or one of unknown size, whole', async () => {
    for (const threads of [2, 4]) {
      const engine = await DuckDbEngine.create({ threads, profile: false });
      try {
        const shared = await groupsOf(engine, 50_000, { ordered: false, rows: 50_000 });
        // A row group closes at the first vector (2,048 rows) past its share of the batch.
        assert.ok(shared.n >= 2, `${threads} threads: ${shared.n} row groups for 50,000 rows`);
        assert.ok(
          shared.largest < Math.max(8_192, 50_000 / threads) + 2_048,
          `${threads} threads: largest row group ${shared.largest} rows`,
        );
        assert.equal((await groupsOf(engine, 50_000, { ordered: false })).n, 1, 'size unknown: one row group, as DuckDB writes it');
        assert.equal((await groupsOf(engine, 50_000, { rows: 50_000 })).n, 1, 'ordered: one row group, as DuckDB writes it');
        assert.equal((await groupsOf(engine, 5_000, { ordered: false, rows: 5_000 })).n, 1, 'a small batch stays one row group');
      } finally {
        await engine.close();
      }
    }
  });
});

describe('the default mask', () => {
  it('puts a value of the column’s own type in place of each value: empty text, the epoch, false, 0, else NULL', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const cases: [type: string, literal: string, expected: unknown][] = [
        ['VARCHAR', "'4111111111111111'", ''],
        ['DATE', "DATE '1990-05-17'", '1970-01-01'],
        ['BOOLEAN', 'true', false],
        ['INTEGER', '42', 0],
        ['DECIMAL(18,2)', '12.34', 0],
        ['INTEGER[]', '[1, 2]', null],
      ];
      for (const [type, literal, expected] of cases) {
        const masked = engine.dialect.mask(`CAST(${literal} AS ${type})`, type, 'default');
        const r = await engine.query(`SELECT ${masked} AS v, typeof(${masked}) AS t`);
        assert.deepEqual(r.rows[0], { v: expected, t: type }, type);
      }
    } finally {
      await engine.close();
    }
  });
});

describe('a statement run under a lower memory limit', () => {
  const limit = async (engine: DuckDbEngine) => String((await engine.query(`SELECT current_setting('memory_limit') AS m`)).rows[0]?.m);
  /** The limit the statement itself ran under, as DuckDB shows it. */
  const during = async (engine: DuckDbEngine, name: string) => {
    await engine.execUnderMemoryLimit(`CREATE TABLE ${name} AS SELECT current_setting('memory_limit') AS m`, 48 * 2 ** 20);
    return String((await engine.query(`SELECT m FROM ${name}`)).rows[0]?.m);
  };

  it('runs under it, then has the engine’s own limit back: DuckDB’s default, or the one it was created with', async () => {
    for (const memoryLimit of [undefined, '1GB', '2000MiB']) {
      const engine = await DuckDbEngine.create({ memoryLimit });
      try {
        const own = await limit(engine);
        assert.equal(await during(engine, 't1'), '48.0 MiB', `${memoryLimit}: lowered for the statement`);
        assert.equal(await limit(engine), own, `${memoryLimit}: set back`);
        // Again: the limit set back is the engine's own, not its shown text read back (which would drift).
        assert.equal(await during(engine, 't2'), '48.0 MiB');
        assert.equal(await limit(engine), own);
        // And in effect, not only as shown: a sort of ~100 MB runs (DuckDB's RESET shows the default but keeps 48 MiB).
        const sorted = await engine.query(
          `SELECT count(*) AS n FROM (SELECT range, repeat('x', 100) AS s FROM range(1000000) ORDER BY s, range DESC)`,
        );
        assert.equal(Number(sorted.rows[0]?.n), 1_000_000, `${memoryLimit}: the limit in effect is the engine's own`);
      } finally {
        await engine.close();
      }
    }
  });

  it('is never raised (an engine whose own limit is lower), and a sandboxed engine keeps its settings', async () => {
    const low = await DuckDbEngine.create({ memoryLimit: '32MiB' });
    const locked = await DuckDbEngine.create();
    try {
      assert.equal(await during(low, 't'), '32.0 MiB');
      await locked.sandbox([tempDir()]);
      const own = await limit(locked);
      assert.equal(await during(locked, 't'), own);
    } finally {
      await low.close();
      await locked.close();
    }
  });

  it('a statement that fails there: its error is thrown and the limit set back', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const own = await limit(engine);
      await assert.rejects(engine.execUnderMemoryLimit('SELECT * FROM no_such_table', 48 * 2 ** 20), /no_such_table/);
      assert.equal(await limit(engine), own);
    } finally {
      await engine.close();
    }
  });
});

describe('an engine that leaves a core to a stream’s reader', () => {
  const threads = async (engine: DuckDbEngine) => Number((await engine.query(`SELECT current_setting('threads') AS t`)).rows[0]?.t);

  it('runs on one thread fewer until the last caller releases it, then has its own back', async () => {
    const engine = await DuckDbEngine.create({ threads: 3 });
    try {
      const first = await engine.leaveCore();
      assert.equal(await threads(engine), 2);
      const second = await engine.leaveCore();
      assert.equal(await threads(engine), 2, 'one core left, however many callers');
      await Promise.all([first(), first()]);
      await first();
      assert.equal(await threads(engine), 2, 'a release counts once, called twice at once or after; the second caller still holds it');
      // Its bronze writes share their row groups among the threads it has meanwhile: 50k rows, 2 threads.
      const dir = tempDir();
      const written = await engine.writeParquet('SELECT range AS a FROM range(50000)', dir, { ordered: false, rows: 50_000 });
      const groups = await engine.query(
        `SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(${engine.dialect.quoteLiteral(written[0]?.path ?? '')})`,
      );
      assert.equal(Number(groups.rows[0]?.n), 2);
      await second();
      assert.equal(await threads(engine), 3);
    } finally {
      await engine.close();
    }
  });

  it('keeps one thread on a one-thread engine, and a sandboxed engine’s settings', async () => {
    const one = await DuckDbEngine.create({ threads: 1 });
    const locked = await DuckDbEngine.create({ threads: 2 });
    try {
      await (await one.leaveCore())();
      assert.equal(await threads(one), 1);
      await locked.sandbox([tempDir()]);
      const release = await locked.leaveCore();
      assert.equal(await threads(locked), 2);
      await release();
      assert.equal(await threads(locked), 2);
    } finally {
      await one.close();
      await locked.close();
    }
  });
});
