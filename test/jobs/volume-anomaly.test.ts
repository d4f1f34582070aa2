import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import {
  type CheckResult,
  type CheckSource,
  engineCheckSource,
  prepareForChecks,
  rowsPerDayPartition,
  runChecks,
} from '../../src/jobs/check.js';
import { runModels } from '../../src/jobs/transform.js';
import { exampleApp } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const SILVER = 'payments/silver/transactions';
const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('rows per day from the manifest', () => {
  const file = (partition: string | undefined, rows: number) => ({ partition, rows });

  it('sums each day’s files from the first day asked for, oldest first, and leaves out days without rows', () => {
    assert.deepEqual(
      rowsPerDayPartition(
        [
          file('dt=2026-11-27', 10),
          file('dt=2026-11-20', 7),
          file('dt=2026-11-27', 5),
          file('dt=2026-11-13', 4),
          file('dt=2026-11-06', 9),
          file('dt=2026-11-21', 0),
        ],
        '2026-11-13',
      ),
      [
        { day: '2026-11-13', n: 4 },
        { day: '2026-11-20', n: 7 },
        { day: '2026-11-27', n: 15 },
      ],
    );
  });

  it('cannot tell when a file is not partitioned by day: the check then counts with a query', () => {
    assert.equal(rowsPerDayPartition([file('dt=2026-11-27', 1), file(undefined, 1)], '2026-11-01'), undefined);
    assert.equal(rowsPerDayPartition([file('month=2026-11', 1)], '2026-11-01'), undefined);
    assert.equal(rowsPerDayPartition([file('dt=2026-11-27 10:00:00', 1)], '2026-11-01'), undefined);
  });
});

describe('volume anomaly check', () => {
  /**
   * Silver transactions built from a stream of today's changes, and a file of history for each of the four same
   * weekdays before (`history[i]` rows, at most today's, `i + 1` weeks ago, or `weeks[i]` weeks ago), committed to the
   * lake as a model's output is.
   */
  async function lakeWithHistory(history: (today: number) => number[], weeks?: number[]) {
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    const app = await exampleApp({ sim: { customers: 20, merchants: 5, transactionsPerSecond: 40, start: new Date(today + 3_600_000) } });
    const { ctx, project } = app;
    await app.streamed(app.sim.referenceData());
    await app.streamed(app.sim.advance(5_000));
    const [built] = await runModels(ctx, { selector: 'transactions', checks: false });
    assert.equal(built?.status, 'succeeded', built?.error);
    const product = project.products.find((p) => p.name === 'transactions');
    assert.ok(product);
    const rowsToday = Number((await ctx.engine.query('SELECT count(*) AS n FROM payments_silver.transactions')).rows[0]?.n);
    assert.ok(rowsToday > 20, `the stream built silver (${rowsToday} rows)`);
    for (const [i, rows] of history(rowsToday).entries()) {
      const day = isoDay(today - (weeks?.[i] ?? i + 1) * 7 * DAY);
      const key = `${SILVER}/dt=${day}/part-history-${i}.parquet`;
      const path = ctx.storage.readPath(key);
      mkdirSync(dirname(path), { recursive: true });
      await ctx.engine.exec(
        `COPY (SELECT * EXCLUDE (dt) REPLACE (transaction_id || '-${i}' AS transaction_id) FROM payments_silver.transactions LIMIT ${rows}) TO '${path}' (FORMAT parquet)`,
      );
      await ctx.meta.manifest.commit({
        dataset: SILVER,
        runId: `history-${i}`,
        add: [{ key, partition: `dt=${day}`, rows, bytes: statSync(path).size }],
        replace: [],
      });
    }
    await prepareForChecks(ctx, [product]);
    /** The volume check's result, and the queries the checks ran that counted rows per day. */
    const volume = async (source?: CheckSource) => {
      const queries: string[] = [];
      const engine = ctx.engine as { query: (sql: string) => Promise<unknown> };
      const query = engine.query.bind(engine);
      engine.query = (sql: string) => {
        queries.push(sql);
        return query(sql);
      };
      try {
        const results = await runChecks(ctx, product, { source });
        const r = results.find((x) => x.checkId === 'transactions.dataset.volume_anomaly') as CheckResult;
        return {
          result: { status: r.status, value: r.value, expected: r.expected, message: r.message },
          perDayQueries: queries.filter((q) => /GROUP BY 1/.test(q)).length,
        };
      } finally {
        engine.query = query;
      }
    };
    /** The same check when the source cannot count rows per day without a query (as a warehouse's). */
    const byQuery = () => volume({ ...engineCheckSource(ctx, product), rowsPerDay: undefined });
    return { ctx, rowsToday, volume, byQuery };
  }

  it('passes a day like the same weekdays before it, counted from the manifest without reading the data', async () => {
    const { ctx, rowsToday, volume, byQuery } = await lakeWithHistory((n) => [n - 4, n, n - 4, n]);
    try {
      const fromManifest = await volume();
      assert.equal(fromManifest.result.status, 'pass', fromManifest.result.message);
      assert.match(fromManifest.result.message, new RegExp(`^${rowsToday} rows today vs ${rowsToday - 2} ± 2 \\(day-of-week\\)$`));
      assert.equal(fromManifest.perDayQueries, 0, 'no query counts rows per day');
      const queried = await byQuery();
      assert.equal(queried.perDayQueries, 1);
      assert.deepEqual(fromManifest.result, queried.result, 'the manifest and a query count the same days');
    } finally {
      await ctx.close();
    }
  });

  it('counts the day trainingDays (56) ago and not the week before it, from the manifest as by query', async () => {
    // Weeks 1–4 as today, week 8 (56 days ago) 40 rows fewer, week 9 (63 days) 80 fewer: only week 9 is left out.
    const { ctx, rowsToday, volume, byQuery } = await lakeWithHistory((n) => [n, n, n, n, n - 40, n - 80], [1, 2, 3, 4, 8, 9]);
    try {
      const fromManifest = await volume();
      assert.match(fromManifest.result.message, new RegExp(`^${rowsToday} rows today vs ${rowsToday - 8} ± 16 \\(day-of-week\\)$`));
      assert.deepEqual(fromManifest.result, (await byQuery()).result);
    } finally {
      await ctx.close();
    }
  });

  it('fails a day far from the same weekdays before it, with its z-score, counted either way', async () => {
    const { ctx, rowsToday, volume, byQuery } = await lakeWithHistory((n) => [
      Math.round(n / 4),
      Math.round(n / 4) + 1,
      Math.round(n / 4) - 1,
      Math.round(n / 4),
    ]);
    try {
      const fromManifest = await volume();
      assert.equal(fromManifest.result.status, 'fail', fromManifest.result.message);
      assert.ok((fromManifest.result.value ?? 0) > 3, `z ${fromManifest.result.value}`);
      assert.match(fromManifest.result.message, new RegExp(`^${rowsToday} rows today vs `));
      assert.deepEqual(fromManifest.result, (await byQuery()).result);
    } finally {
      await ctx.close();
    }
  });
});
