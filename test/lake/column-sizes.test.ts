import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadProject } from '../../src/config/load-project.js';
import { withUsage } from '../../src/core/usage.js';
import { openContext } from '../../src/jobs/context.js';
import { runModels } from '../../src/jobs/transform.js';
import { prepareSession } from '../../src/lake/session.js';
import { exampleApp } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const SILVER = 'payments/silver/transactions';

describe('a scan is metered from the column sizes the manifest keeps', () => {
  it('a model’s files carry their sizes; another process measures a scan from them, not from the files’ footers', async () => {
    const app = await exampleApp({
      sim: { customers: 20, merchants: 5, transactionsPerSecond: 40, start: new Date('2026-11-27T10:00:00Z') },
    });
    const root = app.project.root;
    try {
      await app.streamed(app.sim.referenceData());
      await app.streamed(app.sim.advance(5_000));
      const [built] = await runModels(app.ctx, { selector: 'transactions', checks: false });
      assert.equal(built?.status, 'succeeded', built?.error);
      const live = await app.ctx.meta.manifest.liveFiles(SILVER);
      assert.ok(live.length > 0);
      for (const f of live) assert.ok(Number((JSON.parse(f.columnBytes ?? '{}') as Record<string, number>).amount) > 0, f.key);
    } finally {
      await app.ctx.close();
    }

    /** `engine.bytes_scanned` of a sum over silver's amounts, from a context opened afresh (its own engine). */
    const scanned = async () => {
      const ctx = await openContext(loadProject(root), { secrets: true });
      try {
        await prepareSession(ctx);
        let bytes = 0;
        await withUsage({ add: (m, q) => (bytes += m === 'engine.bytes_scanned' ? q : 0) }, () =>
          ctx.engine.query('SELECT sum(amount) FROM payments_silver.transactions'),
        );
        const footers = await ctx.engine.query(
          `SELECT sum(total_compressed_size)::BIGINT AS b FROM parquet_metadata([${(await ctx.meta.manifest.liveFiles(SILVER)).map((f) => ctx.engine.dialect.quoteLiteral(ctx.storage.readPath(f.key))).join(', ')}]) WHERE path_in_schema = 'amount'`,
        );
        return { bytes, footers: Number(footers.rows[0]?.b) };
      } finally {
        await ctx.close();
      }
    };
    const before = await scanned();
    assert.equal(before.bytes, before.footers, 'the sizes the manifest keeps are the footers’');
    // Other sizes in the manifest: the scan is measured from them, so the engine was told them and read no footer.
    const db = new Database(join(root, '.finmesh/metadata.db'));
    const files = (db.prepare('SELECT count(*) AS n FROM files WHERE dataset = ? AND retired_at IS NULL').get(SILVER) as { n: number }).n;
    db.prepare(`UPDATE files SET column_bytes = '{"amount": 12345}' WHERE dataset = ?`).run(SILVER);
    db.close();
    assert.equal((await scanned()).bytes, 12345 * files);
  });
});
