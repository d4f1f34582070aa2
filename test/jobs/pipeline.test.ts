import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import type { FintechSimulator } from '../../src/demo/simulator/fintech-simulator.js';
import { runReadOnlyQuery } from '../../src/governance/query.js';
import { runModels } from '../../src/jobs/transform.js';
import { exampleApp } from '../example-app.js';
import { TEST_KEY } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

async function setup(start = new Date('2026-11-27T10:00:00Z')) {
  const { project, ctx, sim, streamed } = await exampleApp({ sim: { customers: 300, merchants: 40, transactionsPerSecond: 150, start } });
  await streamed(sim.referenceData());
  const feed = { step: async (ms: number) => streamed(sim.advance(ms)), commitEvents: streamed };
  return { project, ctx, sim, feed };
}

const one = async (ctx: Awaited<ReturnType<typeof setup>>['ctx'], sql: string) => (await ctx.engine.query(sql)).rows[0] ?? {};

describe('bronze → silver → gold on the embedded lake', () => {
  it('builds every model, and silver holds each transaction once at its latest version across incremental runs', async () => {
    const { ctx, sim, feed } = await setup();
    try {
      const statuses = new Map<string, { version: number; status: string }>();
      const track = (events: ReturnType<FintechSimulator['advance']>) => {
        for (const e of events)
          if (e.entity === 'transactions') statuses.set(e.doc.id, { version: e.doc.version, status: String(e.doc.status) });
      };
      // Drive the simulator by hand so the test knows every change the app made.
      const step = async (ms: number) => {
        const before = sim.transactionsCreated;
        const events = sim.advance(ms);
        track(events);
        await feed.commitEvents(events);
        return sim.transactionsCreated - before;
      };
      for (let i = 0; i < 5; i++) await step(1000);
      const first = await runModels(ctx);
      assert.deepEqual(
        first.filter((r) => r.status !== 'succeeded'),
        [],
        'every model succeeds',
      );
      for (let i = 0; i < 10; i++) await step(1000);
      const second = await runModels(ctx);
      assert.deepEqual(
        second.filter((r) => r.status !== 'succeeded'),
        [],
      );
      const silver = await one(ctx, 'SELECT count(*) AS n, count(DISTINCT transaction_id) AS d FROM payments_silver.transactions');
      assert.equal(silver.n, sim.transactionsCreated);
      assert.equal(silver.d, sim.transactionsCreated);
      const rows = (await ctx.engine.query('SELECT transaction_id, version, status FROM payments_silver.transactions')).rows;
      for (const r of rows) {
        const want = statuses.get(String(r.transaction_id));
        assert.deepEqual({ version: r.version, status: r.status }, want, `latest version of ${r.transaction_id}`);
      }
      const bronze = await one(ctx, 'SELECT count(*) AS n FROM payments_bronze.transactions');
      assert.ok(Number(bronze.n) > sim.transactionsCreated, 'bronze keeps every version');
      // A stream's batch lands in the partition of its arrival day (UTC): the day its rows say they were ingested.
      const misplaced = await one(
        ctx,
        'SELECT count(*) AS n FROM payments_bronze.transactions WHERE CAST(dt AS VARCHAR) <> CAST(CAST(_ingested_at AS DATE) AS VARCHAR)',
      );
      assert.equal(Number(misplaced.n), 0, 'every bronze row is in the partition of the day it was ingested');
      const gold = await one(ctx, 'SELECT sum(transactions)::BIGINT AS n FROM payments_gold.daily_volume_by_method');
      assert.equal(gold.n, sim.transactionsCreated);
      const c360 = await one(ctx, 'SELECT count(*) AS n, sum(transactions)::BIGINT AS t FROM customers_gold.customer_360');
      assert.equal(c360.n, 300);
      assert.equal(c360.t, sim.transactionsCreated);
    } finally {
      await ctx.close();
    }
  });

  it('gold refreshes incrementally: only the days with new transactions are rebuilt', async () => {
    // Start just before midnight UTC so the transactions fall on two days.
    const { ctx, feed } = await setup(new Date('2026-11-27T23:59:57Z'));
    try {
      await feed.step(6000);
      await runModels(ctx);
      // Payments created before midnight settle in the next seconds: their updates still touch the first day.
      await feed.step(20_000);
      await runModels(ctx);
      const files = async () => (await ctx.meta.manifest.liveFiles('payments/gold/volume_per_minute')).map((f) => [f.partition, f.key]);
      const before = await files();
      assert.deepEqual(before.map(([p]) => p).sort(), ['dt=2026-11-27', 'dt=2026-11-28']);
      await feed.step(3000);
      const results = await runModels(ctx);
      assert.equal(results.find((r) => r.model === 'volume_per_minute')?.status, 'succeeded');
      const after = await files();
      assert.deepEqual(
        after.find(([p]) => p === 'dt=2026-11-27'),
        before.find(([p]) => p === 'dt=2026-11-27'),
        'the finished day is untouched',
      );
      assert.notDeepEqual(
        after.find(([p]) => p === 'dt=2026-11-28'),
        before.find(([p]) => p === 'dt=2026-11-28'),
        'the current day is rebuilt',
      );
      const total = await one(ctx, 'SELECT sum(transactions)::BIGINT AS n FROM payments_gold.volume_per_minute');
      const silver = await one(ctx, 'SELECT count(*) AS n FROM payments_silver.transactions WHERE NOT is_deleted');
      assert.equal(total.n, silver.n);
    } finally {
      await ctx.close();
    }
  });

  it('tokenises CPF with HMAC-SHA256 under the project key, and no raw CPF reaches silver or gold', async () => {
    const { ctx, feed } = await setup();
    try {
      await feed.step(2000);
      await runModels(ctx);
      const pairs = (
        await ctx.engine.query(
          'SELECT b.cpf, s.cpf_token FROM customers_bronze.customers b JOIN customers_silver.customers s ON s.customer_id = b.id LIMIT 20',
        )
      ).rows;
      assert.equal(pairs.length, 20);
      for (const p of pairs) assert.equal(p.cpf_token, createHmac('sha256', TEST_KEY).update(String(p.cpf)).digest('hex'));
      for (const table of ['customers_silver.customers', 'customers_gold.customer_360', 'payments_silver.transactions']) {
        const cols = (await ctx.engine.describe(`SELECT * FROM ${table}`)).map((c) => c.name);
        assert.ok(
          !cols.includes('cpf') && !cols.includes('name') && !cols.includes('email') && !cols.includes('payer'),
          `${table}: ${cols}`,
        );
      }
      const masked = await one(
        ctx,
        "SELECT count(*) FILTER (WHERE NOT regexp_full_match(card_pan_masked, '[0-9]{6}[*]{6}[0-9]{4}')) AS bad, count(card_pan_masked) AS n FROM payments_silver.transactions",
      );
      assert.equal(masked.bad, 0);
      assert.ok(Number(masked.n) > 0);
    } finally {
      await ctx.close();
    }
  });

  it('a failed model fails alone: downstream is skipped, its previous output stays, other branches run', async () => {
    const { ctx, feed, project } = await setup();
    try {
      await feed.step(2000);
      await runModels(ctx);
      const before = await one(ctx, 'SELECT count(*) AS n FROM customers_gold.customer_360');
      const node = project.products.find((p) => p.name === 'customers');
      assert.ok(node);
      // Break the customers model in memory: the same effect as a bad deploy of its SQL.
      const { buildDag } = await import('../../src/engine/dag.js');
      const dag = buildDag(project).dag;
      const broken = dag.byName.get('customers');
      assert.ok(broken);
      const original = broken.sql;
      const fs = await import('node:fs');
      const path = `${project.root}/${node.modelFile}`;
      fs.writeFileSync(path, original.replace('segment,', 'segmnt,'));
      const results = await runModels(ctx);
      fs.writeFileSync(path, original);
      const status = Object.fromEntries(results.map((r) => [r.model, r.status]));
      assert.equal(status.customers, 'failed');
      assert.equal(status.customer_360, 'skipped');
      assert.equal(status.daily_volume_by_method, 'succeeded');
      assert.match(results.find((r) => r.model === 'customers')?.error ?? '', /segmnt/);
      const after = await one(ctx, 'SELECT count(*) AS n FROM customers_gold.customer_360');
      assert.equal(after.n, before.n, 'gold keeps its previous version');
      const runs = await ctx.meta.runs.list({ job: 'model:customers.customers', limit: 1 });
      assert.equal(runs[0]?.status, 'failed');
    } finally {
      await ctx.close();
    }
  });

  it('with onBuilt, every selected product is built before any product is checked, and each is checked once after', async () => {
    const { ctx, feed } = await setup();
    try {
      await feed.step(2000);
      let built: { model: string; status: string; runId: string }[] = [];
      let builtAt = 0;
      const reported: string[] = [];
      const selector = 'transactions daily_volume_by_method volume_per_minute';
      const results = await runModels(ctx, {
        selector,
        onBuilt: (rs) => {
          builtAt = Date.now();
          built = rs.map((r) => ({ model: r.model, status: r.status, runId: r.runId }));
        },
        onModel: (r) => reported.push(`${r.model}:${builtAt > 0 ? 'after' : 'before'}`),
      });
      assert.deepEqual(
        built.map((r) => [r.model, r.status]),
        [
          ['transactions', 'succeeded'],
          ['daily_volume_by_method', 'succeeded'],
          ['volume_per_minute', 'succeeded'],
        ],
        'onBuilt sees every build done',
      );
      assert.deepEqual(reported, ['transactions:after', 'daily_volume_by_method:after', 'volume_per_minute:after']);
      for (const r of results) {
        const model = (await ctx.meta.runs.list({ job: `model:payments.${r.model}`, limit: 1 }))[0];
        assert.ok(model?.endedAt && model.endedAt.getTime() <= builtAt, `${r.model} was built before onBuilt`);
        const checks = await ctx.meta.runs.list({ parentRunId: r.runId, limit: 10 });
        assert.equal(checks.length, 1, `one check run under the model run of ${r.model}`);
        assert.ok((checks[0]?.startedAt.getTime() ?? 0) >= builtAt, `${r.model} was checked after every build`);
        assert.ok((r.checks?.run ?? 0) > 0, `${r.model}'s results carry its checks`);
      }
      // The same checks as a run that checks each product right after its own build.
      await feed.step(1000);
      const inline = await runModels(ctx, { selector });
      assert.deepEqual(
        inline.map((r) => [r.model, r.checks?.run]),
        results.map((r) => [r.model, r.checks?.run]),
      );
    } finally {
      await ctx.close();
    }
  });

  it('query is read-only: writes and file access outside the lake are refused', async () => {
    const { ctx, feed } = await setup();
    try {
      await feed.step(1000);
      await runModels(ctx, { selector: 'transactions' });
      await assert.rejects(runReadOnlyQuery(ctx, 'DELETE FROM payments_silver.transactions'), /read-only.*found DELETE/);
      await assert.rejects(runReadOnlyQuery(ctx, 'SELECT 1; SELECT 2'), /exactly one statement/);
      await assert.rejects(runReadOnlyQuery(ctx, 'SELEC 1'), /does not parse/);
      await assert.rejects(runReadOnlyQuery(ctx, "SELECT * FROM read_csv('/etc/hostname')"), /Permission Error/);
    } finally {
      await ctx.close();
    }
  });
});
