import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withUsage } from '../../src/core/usage.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
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
