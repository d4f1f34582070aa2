import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { cli, tempDir } from '../helpers.js';

/** `<domain>_<zone>.<dataset>` → its folder, for every Parquet dataset in the lake (landing holds files as received). */
function parquetDatasets(lake: string): Map<string, string> {
  const out = new Map<string, string>();
  const folders = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_'))
      .map((e) => e.name);
  for (const domain of folders(lake))
    for (const zone of folders(join(lake, domain)).filter((z) => z !== 'landing'))
      for (const dataset of folders(join(lake, domain, zone))) out.set(`${domain}_${zone}.${dataset}`, join(lake, domain, zone, dataset));
  return out;
}

/** What a reader that globs each dataset's folder sees (a BigQuery external table, DuckDB `read_parquet`). */
async function globCounts(datasets: Map<string, string>): Promise<Map<string, number>> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const counts = new Map<string, number>();
  try {
    for (const [name, folder] of datasets) {
      try {
        const r = await conn.runAndReadAll(
          `SELECT count(*)::BIGINT AS n FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true)`,
        );
        counts.set(name, Number(r.getRowObjectsJson()[0]?.n));
      } catch (e) {
        if (!/No files found/i.test((e as Error).message)) throw e;
        counts.set(name, 0);
      }
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  return counts;
}

function query(dir: string, sql: string): Record<string, unknown>[] {
  const r = cli(['query', sql, '--project', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('finmesh lake gc', () => {
  it('after a demo, deletes the replaced files: a glob over each dataset’s folder then counts what finmesh query counts', async (t) => {
    const dir = join(tempDir(), 'demo');
    const demo = cli(['demo', '--seconds', '20', '--dir', dir]);
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(
      demo.stdout,
      /transactions: [\d,]+ created by the app · [\d,]+ change events in bronze .* · [\d,]+ transactions in silver .* · [\d,]+ counted in gold/,
      'the demo summary',
    );
    assert.match(demo.stdout, /runs: [\d,]+ — [\d,]+ succeeded, 0 failed/);

    const lake = join(dir, '.finmesh', 'lake');
    const datasets = parquetDatasets(lake);
    assert.ok(datasets.size >= 10, [...datasets.keys()].join(' '));
    const before = await globCounts(datasets);
    // One statement for all of them here: the per-dataset queries below are the acceptance proper.
    const names = [...datasets.keys()];
    const live = new Map(
      query(dir, names.map((d) => `SELECT '${d}' AS d, count(*) AS n FROM ${d}`).join(' UNION ALL ')).map((r) => [
        String(r.d),
        Number(r.n),
      ]),
    );
    const inflated = names.filter((d) => (before.get(d) ?? 0) > (live.get(d) ?? 0));
    assert.ok(inflated.length > 0, 'before gc, a glob reads replaced files too (otherwise this test proves nothing)');

    const dry = cli(['lake', 'gc', '--dry-run', '--project', dir]);
    assert.equal(dry.status, 0, dry.stderr);
    const wouldDelete = Number(/would delete ([\d,]+) replaced files?, [\d.]+ MiB/.exec(dry.stdout)?.[1]?.replaceAll(',', ''));
    assert.ok(wouldDelete > 0, dry.stdout);
    assert.deepEqual(await globCounts(datasets), before, 'a dry run deletes nothing');

    const gc = cli(['lake', 'gc', '--project', dir, '--json']);
    assert.equal(gc.status, 0, gc.stderr);
    const report = JSON.parse(gc.stdout) as { deleted: unknown[]; bytesFreed: number; kept: unknown[]; orphans: unknown[] };
    assert.equal(report.deleted.length, wouldDelete, 'it deletes what the dry run announced');
    assert.ok(report.bytesFreed > 0);
    assert.deepEqual(report.kept, [], 'the demo closed its reader session: nothing holds a replaced file');
    assert.deepEqual(report.orphans, []);

    const after = await globCounts(datasets);
    const figures: string[] = [];
    for (const d of names) {
      const [row] = query(dir, `select count(*) n from ${d}`);
      assert.equal(after.get(d), Number(row?.n), `${d}: rows by glob after gc = rows by finmesh query`);
      figures.push(`${d} glob ${before.get(d)} → ${after.get(d)}, query ${row?.n}`);
    }
    t.diagnostic(`deleted ${report.deleted.length} files; ${figures.join('; ')}`);
    const again = cli(['lake', 'gc', '--project', dir]);
    assert.match(again.stdout, /deleted 0 replaced files/);

    // The demo's stream left a bronze file a micro-batch: `finmesh lake compact` merges them, the same rows stay.
    const bronze = 'payments_bronze.transactions';
    const rowsOf = () => query(dir, `SELECT count(*) AS n, sum(_offset) AS s, count(DISTINCT _offset) AS d FROM ${bronze}`)[0];
    const bronzeRows = rowsOf();
    const filesOf = () => readdirSync(datasets.get(bronze) as string, { recursive: true }).filter((f) => String(f).endsWith('.parquet'));
    const filesBefore = filesOf().length;
    assert.ok(filesBefore >= 4, `the demo's stream made a file a batch (${filesBefore})`);
    const young = cli(['lake', 'compact', '--project', dir]);
    assert.equal(young.status, 0, young.stderr);
    assert.match(young.stdout, /^lake compact: merged 0 files \(0 rows, 0\.0 MiB\) into 0\n/, 'files younger than minAge stay');
    assert.match(young.stdout, /\n {2}payments\/bronze\/transactions: ([\d,]+) live files → \1\n/);
    assert.match(young.stdout, /\n {2}payments\/bronze\/merchants: 1 live file → 1\n/);
    const unknown = cli(['lake', 'compact', 'no-such-source', '--project', dir]);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /no source named no-such-source \(sources: .*core-transactions/);
    const dryCompact = cli(['lake', 'compact', 'core-transactions', '--min-age', '0s', '--dry-run', '--project', dir]);
    assert.equal(dryCompact.status, 0, dryCompact.stderr);
    assert.match(dryCompact.stdout, new RegExp(`would merge ${filesBefore} files`));
    assert.equal(filesOf().length, filesBefore, 'a dry run writes nothing');
    const compact = cli(['lake', 'compact', 'core-transactions', '--min-age', '0s', '--project', dir]);
    assert.equal(compact.status, 0, compact.stderr);
    assert.match(
      compact.stdout,
      new RegExp(`merged ${filesBefore} files .* into 1\\n {2}payments/bronze/transactions: ${filesBefore} live files → 1`),
    );
    assert.deepEqual(rowsOf(), bronzeRows, 'the same rows, through one file');
    const collected = cli(['lake', 'gc', '--project', dir]);
    assert.match(collected.stdout, new RegExp(`deleted ${filesBefore} replaced files`));
    assert.equal(filesOf().length, 1);
    assert.deepEqual(rowsOf(), bronzeRows);
    t.diagnostic(`bronze: ${filesBefore} files → 1, ${bronzeRows?.n} rows`);
  });
});
