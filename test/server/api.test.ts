import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { loadProject } from '../../src/config/load-project.js';
import { type CostBenefitReport, costBenefitOf } from '../../src/cost/benefit.js';
import { type Context, openContext } from '../../src/jobs/context.js';
import { Metrics } from '../../src/observability/metrics.js';
import { type ApiAccess, registerApi } from '../../src/server/api.js';
import { registerConsole } from '../../src/server/console-assets.js';
import { type StartedServer, startServer } from '../../src/server/server.js';
import { copyExample, TEST_KEY, tempDir } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

describe('the /api/v1 routes the console reads', () => {
  let ctx: Context;
  let server: StartedServer;
  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    ctx = await openContext(loadProject(copyExample()));
    server = await startServer({ host: '127.0.0.1', port: 0, metrics: new Metrics(), api: (app) => registerApi(app, ctx) });
  });
  after(async () => {
    await server?.close();
    await ctx?.close();
  });

  it('documents every route in /api/v1/openapi.json, and every documented GET answers on a project that has not run', async () => {
    const { status, body } = await get('/api/v1/openapi.json');
    assert.equal(status, 200);
    assert.equal(body.openapi, '3.1.0');
    const paths = body.paths as Record<
      string,
      Record<
        string,
        {
          parameters: { name: string; in: string; required: boolean }[];
          'x-finmesh-permission': string;
          responses: Record<string, { content?: Record<string, unknown> }>;
        }
      >
    >;
    for (const p of [
      '/api/v1/overview',
      '/api/v1/catalog',
      '/api/v1/products/{product}',
      '/api/v1/products/{product}/contract-history',
      '/api/v1/runs',
      '/api/v1/runs/{runId}',
      '/api/v1/slos',
      '/api/v1/alerts',
      '/api/v1/partner-files',
      '/api/v1/lineage/graph',
      '/api/v1/lineage/explore',
      '/api/v1/architecture',
      '/api/v1/costs',
      '/api/v1/costs/benefit',
      '/api/v1/events',
    ])
      assert.ok(paths[p]?.get, `${p} is documented`);
    assert.ok(paths['/api/v1/lineage']?.post, 'the OpenLineage endpoint is documented');
    for (const [path, ops] of Object.entries(paths))
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(op['x-finmesh-permission'], `${method} ${path} names its permission`);
        if (method !== 'get' || op.parameters.some((x) => x.required)) continue;
        // A stream of events answers with its headers and stays open: the live-events test reads it.
        if (op.responses['200']?.content?.['text/event-stream']) continue;
        const res = await get(path);
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
      }
  });

  it('overview: every product of the project, with no rows and no run before anything ran', async () => {
    const { body } = await get('/api/v1/overview');
    const products = body.products as { product: string; rows: number | null; lastRun: unknown }[];
    assert.deepEqual(products.map((p) => p.product).sort(), ctx.project.products.map((p) => `${p.domain}.${p.name}`).sort());
    assert.ok(products.every((p) => p.rows === null && p.lastRun === null));
    assert.deepEqual((body.totals as Record<string, number>).runs, 0);
    assert.deepEqual(
      (body.domains as { name: string }[]).map((d) => d.name),
      ctx.project.domains.map((d) => d.name),
    );
  });

  it('answers bad requests with the finmesh error code and a message that says what was expected', async () => {
    const missing = await get('/api/v1/products/payments.nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'NOT_FOUND');
    assert.match(String(missing.body.message), /no product "payments\.nope" \(products: .*payments\.transactions/);
    const noTarget = await get('/api/v1/lineage/explore');
    assert.equal(noTarget.status, 400);
    assert.match(String(noTarget.body.message), /target is required/);
    const badDirection = await get('/api/v1/lineage/explore?target=payments_silver.transactions&direction=sideways');
    assert.match(String(badDirection.body.message), /direction: expected upstream or downstream, found "sideways"/);
    const badLimit = await get('/api/v1/runs?limit=-3');
    assert.equal(badLimit.status, 400);
    assert.match(String(badLimit.body.message), /limit: expected a positive integer, found "-3"/);
    const noRun = await get('/api/v1/runs/0000');
    assert.equal(noRun.status, 404);
  });

  it('costs: the month’s cost per dimension from the metered usage, and a dimension or month it does not know refused by name', async () => {
    const at = new Date(ctx.clock.now());
    const month = at.toISOString().slice(0, 7);
    // An hour of CPU for one product's runs: priced from the shipped sheet, it lands on its product and its domain.
    await ctx.meta.usage.record([
      { at, meter: 'compute.cpu_seconds', quantity: 3600, component: 'transform', domain: 'payments', product: 'transactions' },
    ]);
    const byDomain = await get(`/api/v1/costs?by=domain&month=${month}`);
    assert.equal(byDomain.status, 200);
    assert.equal(byDomain.body.by, 'domain');
    assert.equal(byDomain.body.month, month);
    const rows = byDomain.body.rows as { name: string; monthToDate: number }[];
    assert.ok((rows.find((r) => r.name === 'payments')?.monthToDate ?? 0) > 0, JSON.stringify(rows));
    const byProduct = (await get('/api/v1/costs')).body.rows as { name: string; monthToDate: number }[];
    assert.ok((byProduct.find((r) => r.name === 'transactions')?.monthToDate ?? 0) > 0, JSON.stringify(byProduct));
    const badBy = await get('/api/v1/costs?by=colour');
    assert.equal(badBy.status, 400);
    assert.match(String(badBy.body.message), /by: expected one of product, domain, component, source, cost-center, found "colour"/);
    const badMonth = await get('/api/v1/costs?month=2026-13');
    assert.equal(badMonth.status, 400);
    assert.match(String(badMonth.body.message), /month: expected a month such as 2026-11, found "2026-13"/);
    // Cost against use: the ranking `finmesh cost benefit --json` prints, the metered product among it with its cost.
    const benefit = await get(`/api/v1/costs/benefit?month=${month}`);
    assert.equal(benefit.status, 200);
    const expected = await costBenefitOf(ctx, month);
    const ranked = (r: { products: { rank: number; product: string; verdict: string; cost: { monthToDate: number } }[] }) =>
      r.products.map((x) => [x.rank, x.product, x.verdict, x.cost.monthToDate]);
    assert.deepEqual(ranked(benefit.body as unknown as CostBenefitReport), ranked(expected));
    assert.ok(
      (expected.products.find((x) => x.product === 'payments.transactions')?.cost.monthToDate ?? 0) > 0,
      JSON.stringify(expected.products),
    );
    const badBenefitMonth = await get('/api/v1/costs/benefit?month=26-11');
    assert.equal(badBenefitMonth.status, 400);
    assert.match(String(badBenefitMonth.body.message), /month: expected a month such as 2026-11, found "26-11"/);
  });

  it('events: a stream of server-sent events that says `runs` when a run starts and again when it ends', async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/events`, { signal: abort.signal });
    try {
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      const events = () => [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      const until = async (n: number) => {
        while (events().filter((e) => e === 'runs').length < n) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended after: ${text}`);
          text += value;
        }
      };
      const { value } = await reader.read();
      text += value;
      assert.deepEqual(events(), ['ready']);
      // Another writer of the same store (as `finmesh run` beside `finmesh serve`): a run starts, then ends.
      const runId = '019a0000-0000-7000-8000-00000000e7e7';
      await ctx.meta.runs.start({ runId, job: 'ingest:live-events-test', kind: 'ingest', startedAt: new Date(ctx.clock.now()) });
      await until(1);
      await ctx.meta.runs.finish(runId, { status: 'succeeded', endedAt: new Date(ctx.clock.now()) });
      await until(2);
      assert.deepEqual(events(), ['ready', 'runs', 'runs']);
      assert.doesNotMatch(text, new RegExp(runId), 'the events name no run: a persona without the runs permission listens too');
    } finally {
      abort.abort();
    }
  });

  it('the product page’s answer: contract, schema with classifications, SLOs, and empty histories before any run', async () => {
    const { status, body } = await get('/api/v1/products/payments_silver.transactions');
    assert.equal(status, 200);
    const catalog = body.catalog as { product: string; schema: { name: string; classification?: string }[] };
    assert.equal(catalog.product, 'payments.transactions');
    assert.ok(
      catalog.schema.some((s) => s.classification),
      'classifications come with the schema',
    );
    assert.ok((body.slos as unknown[]).length > 0, 'the contract’s SLOs');
    assert.deepEqual([body.quality, body.freshnessHistory, body.runs], [[], [], []]);
  });
});

describe('the /api/v1 routes for a caller who may read some products only', () => {
  let ctx: Context;
  let server: StartedServer;
  // The server's access decision for the caller, as finmesh serve takes it from the access model: here, one product
  // readable with one column masked (the access model's own tests are in test/governance).
  const access: ApiAccess = {
    readable: async () =>
      new Map([
        [
          'payments_gold.daily_volume_by_method',
          new Map([
            ['day', 'clear'],
            ['total_amount', 'masked (hash)'],
          ]),
        ],
      ]),
  };
  before(async () => {
    ctx = await openContext(loadProject(copyExample()));
    server = await startServer({ host: '127.0.0.1', port: 0, metrics: new Metrics(), api: (app) => registerApi(app, ctx, { access }) });
  });
  after(async () => {
    await server?.close();
    await ctx?.close();
  });

  it('lists only what the caller may read, says what it sees of each column, and refuses the rest', async () => {
    const overview = (await (await fetch(`${server.url}/api/v1/overview`)).json()) as {
      products: { product: string }[];
      totals: { products: number };
    };
    assert.deepEqual(
      overview.products.map((p) => p.product),
      ['payments.daily_volume_by_method'],
    );
    assert.equal(overview.totals.products, 1);
    const catalog = (await (await fetch(`${server.url}/api/v1/catalog`)).json()) as {
      products: { product: string; schema: { name: string; access: string }[] }[];
    };
    assert.deepEqual(
      catalog.products.map((p) => p.product),
      ['payments.daily_volume_by_method'],
    );
    const schema = new Map(catalog.products[0]?.schema.map((c) => [c.name, c.access]));
    assert.deepEqual([schema.get('day'), schema.get('total_amount'), schema.get('approved')], ['clear', 'masked (hash)', 'denied']);
    const hidden = await fetch(`${server.url}/api/v1/products/payments.transactions`);
    assert.equal(hidden.status, 403);
    assert.match(((await hidden.json()) as { message: string }).message, /may not read payments_silver\.transactions/);
    const shown = (await (await fetch(`${server.url}/api/v1/products/payments.daily_volume_by_method`)).json()) as {
      catalog: { schema: { name: string; access: string }[] };
    };
    assert.equal(shown.catalog.schema.find((c) => c.name === 'total_amount')?.access, 'masked (hash)');
  });
});

describe('the console’s files', () => {
  it('serves index.html at / and at every deep link, hashed assets from their folder only, JSON 404s elsewhere', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not an asset');
    const app = Fastify();
    await registerConsole(app, dir);
    const home = await app.inject({ url: '/' });
    assert.equal(home.statusCode, 200);
    assert.match(home.body, /<title>console/);
    const deep = await app.inject({ url: '/products/payments.transactions', headers: { accept: 'text/html' } });
    assert.equal(deep.statusCode, 200);
    assert.match(deep.body, /<title>console/);
    const js = await app.inject({ url: '/assets/index-abc.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    for (const url of ['/assets/..%2Fsecret.txt', '/assets/../secret.txt', '/assets/nope.js']) {
      const r = await app.inject({ url });
      assert.equal(r.statusCode, 404, url);
      assert.doesNotMatch(r.body, /not an asset/);
    }
    const api = await app.inject({ url: '/api/v1/nope', headers: { accept: 'text/html' } });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json().error, 'NOT_FOUND');
    await app.close();
  });

  it('says how to build the console when it is not built, and the API still answers', async () => {
    const app = Fastify();
    await registerConsole(app, join(tempDir(), 'absent'));
    const r = await app.inject({ url: '/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /not built: run `npm run build`/);
    await app.close();
  });
});
