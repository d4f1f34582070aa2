import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { launchChromium } from '../../src/docs/site/chromium.js';
import { ranGovernedProject, TOKEN_ENV, TOKENS } from '../governance/fixture.js';
import { cli, cliAsync, ROOT, tempDir, waitFor } from '../helpers.js';
import { skipUnless } from '../launchers.js';

// The web console in a real browser (Debian's Chromium, driven by playwright-core) over a finished demo: every page
// loads without a console error, shows the API's figures, passes axe-core, and the lineage explorer leads from a gold
// product to its bronze source and a column's origin. FINMESH_SCREENSHOTS=<dir> also saves each page as a PNG (the
// README's pictures: `FINMESH_SCREENSHOTS=docs/console node scripts/test.mjs console/console`).

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = process.env.FINMESH_SCREENSHOTS ? resolve(process.env.FINMESH_SCREENSHOTS) : undefined;
const BUILT = existsSync(join(ROOT, 'dist/console/index.html'));
const nf = new Intl.NumberFormat('en-US');
const count = (n: number | null) => (n === null ? '–' : nf.format(n));
const percent = (v: number | null, digits = 1) => (v === null ? '–' : `${(v * 100).toFixed(digits)}%`);

describe('web console', skipUnless(existsSync(CHROMIUM), `Chromium (${CHROMIUM})`, 'apt-get install chromium'), () => {
  let dir: string;
  let url: string;
  let serve: ChildProcess;
  let browser: Browser;
  let live: { first: string; later: string } | undefined;
  const api = async <T>(path: string, persona = 'platform-engineer'): Promise<T> => {
    const res = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${TOKENS[persona]}` } });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };

  before(async () => {
    assert.ok(BUILT, 'dist/console/index.html is missing: run `npm run build` (it builds the console with Vite)');
    dir = join(tempDir(), 'demo');
    browser = await launchChromium(CHROMIUM);
    // While the demo runs, the console it prints updates by itself: the overview's run count grows without a reload.
    const demo = cliAsync(['demo', '--seconds', '15', '--dir', dir, '--port', '0']);
    let demoErr = '';
    demo.stderr?.on('data', (d) => {
      demoErr += d;
    });
    const exited = new Promise<number | null>((done) => demo.on('exit', (code) => done(code)));
    const demoUrl = await waitFor(() => /console (http:\/\/[^ ]+)\//.exec(demoErr)?.[1], 60_000, 'the demo to print the console URL');
    const page = await browser.newPage();
    await page.goto(`${demoUrl}/`);
    const first = await waitFor(
      async () =>
        (await page.locator('[data-testid=total-runs]').count()) > 0 ? await page.textContent('[data-testid=total-runs]') : undefined,
      30_000,
      'the overview during the demo',
    );
    live = {
      first: first ?? '',
      later: await waitFor(
        async () => {
          const now = await page.textContent('[data-testid=total-runs]');
          return now !== first ? (now ?? '') : undefined;
        },
        30_000,
        'the overview to show new runs without a reload',
      ),
    };
    await page.close();
    const code = await exited;
    // Exit 1 means some run failed, which the runs page must show as well.
    assert.ok(code === 0 || code === 1, `demo exited ${code}: ${demoErr}`);
    // A model that fails, run once after the demo: its run keeps the tail of its log (restored after, so the rest is the demo's).
    const model = join(dir, 'domains/payments/products/merchant_daily_summary/model.sql');
    const sql = readFileSync(model, 'utf8');
    writeFileSync(model, sql.replace('sum(t.amount)', 'sum(t.amount_typo)'));
    const broken = cli(['run', 'merchant_daily_summary', '--no-checks', '--project', dir]);
    writeFileSync(model, sql);
    assert.equal(broken.status, 1, `a failing model exits 1: ${broken.stderr}`);
    // The contract changes under a new major version (a column removed from the contract and the model), and the
    // product runs again: finmesh met version 1.0.0 during the demo and 2.0.0 now.
    const product = join(dir, 'domains/payments/products/merchant_daily_summary');
    const contract = readFileSync(join(product, 'contract.odcs.yaml'), 'utf8');
    assert.match(contract, /^version: 1\.0\.0$/m);
    writeFileSync(
      join(product, 'contract.odcs.yaml'),
      contract.replace(/^version: 1\.0\.0$/m, 'version: 2.0.0').replace(/^ {6}- \{ name: mcc,.*\n/m, ''),
    );
    writeFileSync(join(product, 'model.sql'), sql.replace(/^ {2}m\.mcc,\n/m, ''));
    const rerun = cli(['run', 'merchant_daily_summary', '--no-checks', '--project', dir]);
    assert.equal(rerun.status, 0, `the product runs under its new contract: ${rerun.stderr}`);
    // finmesh serve checks its callers: the console signs in with the platform engineer's token (and, below, an analyst's).
    serve = cliAsync(['serve', '--project', dir, '--port', '0'], { env: TOKEN_ENV });
    let stderr = '';
    serve.stderr?.on('data', (d) => {
      stderr += d;
    });
    url = await waitFor(() => /console (http:\/\/[^ /]+)\//.exec(stderr)?.[1], 60_000, `finmesh serve to print its URL (${stderr})`);
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    serve?.kill('SIGTERM');
  });

  /** Opens a page of the console, recording every console error, uncaught exception and failed request. */
  async function open(
    path: string,
    options: { dark?: boolean; persona?: string } = {},
  ): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const context = await browser.newContext({ colorScheme: options.dark ? 'dark' : 'light', viewport: { width: 1400, height: 1000 } });
    // Signed in, as the token form would leave it.
    await context.addInitScript(`localStorage.setItem('finmesh.token', ${JSON.stringify(TOKENS[options.persona ?? 'platform-engineer'])})`);
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // A request cancelled because the test (or the page) moved on is not a failure; any other is.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(`${url}${path}`);
    await page.waitForSelector('main h1');
    return { page, errors, requests };
  }

  async function axe(page: Page): Promise<string[]> {
    const source = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
    await page.addScriptTag({ content: source });
    // Runs in the page: `axe` is the global the script just added.
    const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as {
      violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
    };
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.impact} ${v.id}: ${v.help} (${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join('; ')})`,
      );
  }

  async function shot(page: Page, name: string): Promise<void> {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
  }

  it('live: while the demo runs, the overview shows new runs without a reload', () => {
    assert.ok(live, 'observed during the demo');
    assert.ok(Number(live.later.replace(/,/g, '')) > Number(live.first.replace(/,/g, '')), `${live.first} → ${live.later}`);
  });

  it('overview: the products, rows, runs and SLO budgets the API reports', async () => {
    const o = await api<{
      totals: { products: number; datasets: number; rows: number; runs: number; failedRuns: number; openAlerts: number };
      products: { product: string; rows: number | null; slo: { errorBudgetRemaining: number | null } | null }[];
    }>('/overview');
    const { page, errors } = await open('/');
    await page.waitForSelector('[data-testid=total-products]');
    assert.equal(await page.textContent('[data-testid=total-products]'), count(o.totals.products));
    assert.equal(await page.textContent('[data-testid=total-datasets]'), count(o.totals.datasets));
    // Runs and rows are read again: the overview refreshes live, and the figures it shows equal one API answer.
    assert.equal(await page.locator('tr[data-product]').count(), o.products.length);
    for (const p of o.products) {
      const row = page.locator(`tr[data-product="${p.product}"]`);
      assert.equal(await row.locator('[data-testid=rows]').textContent(), count(p.rows), `${p.product} rows`);
      if (p.slo)
        assert.match(
          (await row.locator('[data-testid=budget]').textContent()) ?? '',
          new RegExp(`^${escapeRegExp(percent(p.slo.errorBudgetRemaining))}`),
        );
    }
    assert.equal(await page.textContent('[data-testid=total-runs]'), count(o.totals.runs));
    await shot(page, 'overview');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('from a gold product through lineage to its bronze source and a column’s origin, by clicking', async () => {
    const { page, errors } = await open('/');
    await page.getByRole('link', { name: 'payments.daily_volume_by_method', exact: true }).click();
    await page.waitForSelector('[data-testid=schema]');
    assert.match((await page.textContent('main h1')) ?? '', /payments\.daily_volume_by_method/);
    await shot(page, 'product');
    // The dataset graph: the API's datasets upstream and downstream of the product, and the edges between them.
    await page.getByRole('link', { name: /Open payments_gold\.daily_volume_by_method in the lineage explorer/ }).click();
    await page.waitForSelector('svg.graph');
    const g = await api<{ datasets: { name: string }[]; edges: { from: string; to: string }[] }>('/lineage/graph');
    const related = connected(g.edges, 'payments_gold.daily_volume_by_method');
    assert.deepEqual(
      (await page.locator('svg.graph a.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).sort(),
      [...related].sort(),
    );
    const edges = new Set(g.edges.filter((e) => related.has(e.from) && related.has(e.to)).map((e) => `${e.from}>${e.to}`));
    assert.equal(await page.locator('svg.graph g.edge').count(), edges.size);
    // Without a choice, the whole graph: every dataset of the API.
    const all = await page.context().newPage();
    await all.goto(`${url}/lineage`);
    await all.waitForSelector('svg.graph');
    assert.equal(await all.locator('svg.graph a.node').count(), g.datasets.length);
    await all.close();
    await page.waitForSelector('[data-testid=upstream-edges]');
    await shot(page, 'lineage');
    // Upstream, hop by hop, until a bronze dataset: each hop is a click on an upstream link.
    let current = 'payments_gold.daily_volume_by_method';
    for (let hop = 0; hop < 5 && !current.includes('_bronze.'); hop++) {
      const up = await api<{ edges: { from: string; to: string }[] }>(`/lineage/explore?target=${current}`);
      const next = up.edges.find((e) => e.to === current)?.from;
      assert.ok(next, `${current} has an upstream dataset`);
      await page.locator('[data-testid=upstream-edges]').getByRole('link', { name: next, exact: true }).first().click();
      await page.waitForURL(`**/lineage?dataset=${encodeURIComponent(next)}`);
      await page.waitForSelector('[data-testid=upstream-edges], [data-testid=columns]');
      current = next;
    }
    assert.match(current, /^payments_bronze\./, 'the walk ends in bronze');
    // A column's origin: from the gold product's schema, the column's lineage ends at the bronze columns the API names.
    await page.goto(`${url}/products/payments.daily_volume_by_method`);
    await page.getByRole('link', { name: 'origin of total_amount' }).click();
    await page.waitForSelector('[data-testid=origins]');
    const col = await api<{ edges: { from: string; to: string }[] }>(
      '/lineage/explore?target=payments_gold.daily_volume_by_method.total_amount',
    );
    const derived = new Set(col.edges.map((e) => e.to));
    const origins = [...new Set(col.edges.map((e) => e.from))].filter((n) => !derived.has(n)).sort();
    const shown = await page.locator('[data-testid=origins] a').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    assert.deepEqual(shown.sort(), origins);
    assert.ok(
      origins.some((o) => o.startsWith('payments_bronze.')),
      `total_amount comes from a bronze column (${origins.join(', ')})`,
    );
    assert.equal(await page.locator('[data-testid=column-upstream] tbody tr').count(), col.edges.length);
    await page.waitForSelector('svg.graph');
    await shot(page, 'column-lineage');
    await page.locator('[data-testid=origins] a').first().click();
    await page.waitForURL(/column=/);
    assert.match((await page.textContent('main h1')) ?? '', /_bronze\./);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('runs: every job with the API’s run counts; a run’s page names its id', async () => {
    const r = await api<{ jobs: { job: string; runs: { runId: string; status: string }[] }[] }>('/runs?limit=50');
    const { page, errors } = await open('/runs');
    await page.waitForSelector('[data-testid=jobs]');
    assert.equal(await page.locator('[data-testid=jobs] tbody tr').count(), r.jobs.length);
    for (const j of r.jobs.slice(0, 5)) {
      const runs = await page.locator(`tr[data-job="${j.job}"] [data-testid=job-runs]`).textContent();
      // Live: a job may only gain runs between the API's answer and the page's (none run after the demo).
      assert.equal(runs, count(j.runs.length), j.job);
    }
    await shot(page, 'runs');
    const run = r.jobs.find((j) => j.job.startsWith('model:'))?.runs[0];
    assert.ok(run);
    await page.locator(`tr[data-run="${run.runId}"] a`).first().click();
    await page.waitForSelector('[data-testid=run-id]');
    assert.equal(await page.textContent('[data-testid=run-id]'), run.runId);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('a failed run: its error line in the run’s log, on its page, in the API and in `finmesh runs <id>`', async () => {
    const job = 'model:payments.merchant_daily_summary';
    const r = await api<{ jobs: { job: string; runs: { runId: string; status: string }[] }[] }>(`/runs?job=${job}`);
    const failed = r.jobs[0]?.runs.find((x) => x.status === 'failed');
    assert.ok(failed, `${job} has a failed run: ${JSON.stringify(r.jobs)}`);
    const d = await api<{ run: { error: string }; logs: { time: string; severity: string; message: string }[] }>(`/runs/${failed.runId}`);
    const errorLine = d.logs.find((l) => l.severity === 'ERROR' && l.message.includes('amount_typo'));
    assert.ok(errorLine, `the run's log has its error line: ${JSON.stringify(d.logs)}`);
    assert.match(d.run.error, /amount_typo/);
    // From the runs page, by clicking the job's failed run.
    const { page, errors } = await open(`/runs?job=${encodeURIComponent(job)}`);
    await page.locator(`tr[data-run="${failed.runId}"] a`).first().click();
    await page.waitForSelector('[data-testid=run-log]');
    assert.equal(await page.textContent('[data-testid=run-id]'), failed.runId);
    const shown = await page
      .locator('[data-testid=run-log] tbody tr')
      .evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-severity'), row.querySelector('code')?.textContent]));
    assert.deepEqual(
      shown,
      d.logs.map((l) => [l.severity, l.message]),
    );
    assert.ok(shown.some(([severity, message]) => severity === 'ERROR' && message === errorLine.message));
    await shot(page, 'run-failed');
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(errors, []);
    await page.context().close();
    // The CLI prints the same run: its --json equals the API's answer, its text ends with the error line.
    const json = cli(['runs', failed.runId, '--project', dir, '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).logs, d.logs);
    const text = cli(['runs', failed.runId, '--project', dir]);
    assert.equal(text.status, 0, text.stderr);
    assert.ok(text.stdout.includes(`${errorLine.time} ERROR    ${errorLine.message}`), text.stdout);
    const unknown = cli(['runs', '0000', '--project', dir]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no run 0000/);
  });

  it('SLOs and partner files: the budgets and the file ledger of the API', async () => {
    const s = await api<{ slos: { name: string; errorBudgetRemaining: number | null }[] }>('/slos');
    const { page, errors } = await open('/slos');
    await page.waitForSelector('[data-testid=slos]');
    for (const x of s.slos)
      assert.match(
        (await page.locator(`tr[data-slo="${x.name}"] [data-testid=budget]`).textContent()) ?? '',
        new RegExp(`${escapeRegExp(percent(x.errorBudgetRemaining))}$`),
        x.name,
      );
    await shot(page, 'slos');
    const f = await api<{ sources: { source: string; ledger: unknown[]; quarantine: unknown[] }[] }>('/partner-files');
    await page.goto(`${url}/partner-files`);
    await page.waitForSelector('[data-testid=ledger]');
    for (const src of f.sources) {
      const section = page.locator(`section[data-source="${src.source}"]`);
      assert.equal(await section.locator('[data-testid=ledger] tbody tr').count(), src.ledger.length, src.source);
      assert.equal(await section.locator('[data-testid=quarantine] tbody tr').count(), src.quarantine.length, src.source);
    }
    await shot(page, 'partner-files');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('contract versions: after a column was removed under a new major version, the product page lists both versions and names the breaking change, as the API and `finmesh contract history` do', async () => {
    interface History {
      versions: { version: string; hash: string; firstSeenAt: string; current: boolean }[];
      changes: {
        from: { version: string };
        to: { version: string };
        breaking: boolean;
        changes: { kind: string; breaking: boolean; detail: string }[];
      }[];
    }
    const h = await api<History>('/products/payments.merchant_daily_summary/contract-history');
    assert.deepEqual(
      h.versions.map((v) => [v.version, v.current]),
      [
        ['1.0.0', false],
        ['2.0.0', true],
      ],
    );
    assert.equal(h.changes.length, 1);
    const step = h.changes[0] as History['changes'][number];
    assert.equal(step.breaking, true);
    assert.deepEqual(
      step.changes.map((c) => [c.kind, c.breaking, c.detail]),
      [['column-removed', true, 'column mcc was removed']],
    );
    // The CLI shares the answer.
    const fromCli = cli(['contract', 'history', 'payments.merchant_daily_summary', '--json', '--project', dir]);
    assert.equal(fromCli.status, 0, fromCli.stderr);
    assert.deepEqual(JSON.parse(fromCli.stdout), h);
    const { page, errors } = await open('/products/payments.merchant_daily_summary');
    await page.waitForSelector('[data-testid=contract-versions]');
    assert.deepEqual(
      await page.locator('[data-testid=contract-versions] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-version'))),
      h.versions.map((v) => v.version),
    );
    assert.match((await page.locator('[data-testid=contract-versions] tr[data-version="2.0.0"]').textContent()) ?? '', /current/);
    const shown = page.locator('[data-step="1.0.0>2.0.0"]');
    assert.match((await shown.locator('h3').textContent()) ?? '', /breaking/);
    assert.deepEqual(
      await shown.locator('li[data-breaking=true]').evaluateAll((items) => items.map((i) => i.textContent)),
      step.changes.filter((c) => c.breaking).map((c) => `breaking ${c.kind} ${c.detail}`),
    );
    await page.locator('[data-testid=contract-history]').scrollIntoViewIfNeeded();
    await shot(page, 'contract-versions');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('architecture: the server draws the project’s diagram once (Mermaid in Chromium) and the page shows that drawing', async () => {
    // `finmesh serve` starts drawing when it starts; the API answers null until the drawing is there.
    const drawn = await waitFor(
      async () => (await api<{ svg: string | null }>('/architecture?theme=light')).svg ?? undefined,
      60_000,
      'the server to draw the architecture',
    );
    assert.match(drawn, /^<svg[^>]*>/);
    const { page, errors } = await open('/architecture');
    await page.waitForSelector('[data-testid=diagram] svg', { timeout: 30_000 });
    assert.equal(await page.getAttribute('[data-testid=diagram]', 'data-drawn'), 'server');
    const a = await api<{ mermaid: string }>('/architecture');
    const domains = [...a.mermaid.matchAll(/subgraph \w+\["([a-z_]+) ·/g)].map((m) => m[1]);
    assert.ok(domains.length > 0);
    for (const d of domains) assert.ok((await page.locator('[data-testid=diagram] svg').textContent())?.includes(d as string), d);
    await shot(page, 'architecture');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('cost: month to date per product and the cost-benefit ranking of the API, and the product page’s cost section', async () => {
    type Spend = { monthToDate: number; forecast: number };
    const c = await api<{ currency: string; total: Spend; rows: (Spend & { name: string })[] }>('/costs');
    const b = await api<{ currency: string; products: { rank: number; product: string; verdict: string; cost: Spend }[] }>(
      '/costs/benefit',
    );
    assert.ok(c.total.monthToDate > 0, `the demo metered something: ${JSON.stringify(c.total)}`);
    const { page, errors } = await open('/');
    // Reached from the navigation, as a user would.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Cost', exact: true }).click();
    await page.waitForSelector('[data-testid=benefit]');
    // Stored data accrues cost by the second: the page shows what the API said just before it loaded or just after.
    const c2 = await api<typeof c>('/costs');
    const between = (shown: string | null, before: number, after: number | undefined, what: string) =>
      assert.ok(
        shown === money(before, c.currency) || (after !== undefined && shown === money(after, c.currency)),
        `${what}: the page shows ${shown}, the API ${money(before, c.currency)} before and ${after === undefined ? '-' : money(after, c.currency)} after`,
      );
    between(await page.textContent('[data-testid=cost-mtd]'), c.total.monthToDate, c2.total.monthToDate, 'month to date');
    assert.equal(await page.locator('[data-testid=cost-rows] tbody tr').count(), c.rows.length);
    for (const r of c.rows)
      between(
        await page.locator(`[data-testid=cost-rows] tr[data-row="${r.name}"] [data-testid=mtd]`).textContent(),
        r.monthToDate,
        c2.rows.find((x) => x.name === r.name)?.monthToDate,
        r.name,
      );
    const ranking = await page
      .locator('[data-testid=benefit] tbody tr')
      .evaluateAll((rows) => rows.map((r) => [r.querySelector('td')?.textContent, r.querySelector('th')?.textContent]));
    assert.deepEqual(
      ranking,
      b.products.map((p) => [String(p.rank), p.product]),
    );
    await shot(page, 'cost');
    // A metered product's page: its month to date, rank and verdict, as the ranking says.
    const metered = b.products.find((p) => p.cost.monthToDate > 0);
    assert.ok(metered, 'some product has a metered cost');
    await page.goto(`${url}/products/${metered.product}`);
    await page.waitForSelector('[data-testid=product-cost-mtd]');
    const b2 = await api<typeof b>('/costs/benefit');
    between(
      await page.textContent('[data-testid=product-cost-mtd]'),
      metered.cost.monthToDate,
      b2.products.find((p) => p.product === metered.product)?.cost.monthToDate,
      metered.product,
    );
    assert.equal(await page.textContent('[data-testid=product-cost-rank]'), String(metered.rank));
    assert.equal(await page.locator('[data-testid=product-cost] .badge').first().textContent(), metered.verdict);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('every page: no console error, and no serious or critical axe-core violation, in light and dark', async (t) => {
    const paths = [
      '/',
      '/products/payments.transactions',
      '/products/payments.merchant_daily_summary',
      '/lineage',
      '/lineage?dataset=payments_silver.transactions',
      '/lineage?dataset=payments_gold.daily_volume_by_method&column=total_amount',
      '/runs',
      '/partner-files',
      '/slos',
      '/architecture',
      '/cost',
      '/cost?by=domain',
      '/access',
      '/audit',
    ];
    const problems: string[] = [];
    for (const dark of [false, true])
      for (const path of paths) {
        const started = Date.now();
        const { page, errors } = await open(path, { dark });
        // Settled: the page's data is on it (no "Loading…" left).
        await waitFor(async () => ((await page.getByText('Loading…').count()) === 0 ? true : undefined), 30_000, `${path} to load`);
        if (path === '/architecture') await page.waitForSelector('[data-testid=diagram] svg', { timeout: 30_000 });
        if (path.startsWith('/lineage')) await page.waitForSelector('svg.graph');
        // A measurement, not an assertion (the machine may be busy): how long until the page showed its data.
        if (!dark) t.diagnostic(`${path}: data on the page after ${Date.now() - started} ms`);
        for (const v of await axe(page)) problems.push(`${path}${dark ? ' (dark)' : ''}: ${v}`);
        for (const e of errors) problems.push(`${path}${dark ? ' (dark)' : ''}: ${e}`);
        if (dark && path === '/') await shot(page, 'overview-dark');
        await page.context().close();
      }
    assert.deepEqual(problems, []);
  });

  it('live by server-sent events: a run started while the runs page and the overview are open appears on both without a reload', async () => {
    const job = 'model:payments.merchant_daily_summary';
    const before = await api<{ jobs: { runs: { runId: string }[] }[] }>(`/runs?job=${job}&limit=1000`);
    const known = before.jobs[0]?.runs.length ?? 0;
    const runsPage = await open(`/runs?job=${encodeURIComponent(job)}`);
    const { page, errors } = runsPage;
    await page.waitForSelector(`tr[data-job="${job}"]`);
    const overview = await open('/');
    await overview.page.waitForSelector('[data-testid=total-runs]');
    const totalBefore = Number((await overview.page.textContent('[data-testid=total-runs]'))?.replace(/,/g, ''));
    // The pages listen on the event stream (and no longer poll): each opened /api/v1/events.
    for (const p of [runsPage, overview])
      await waitFor(
        () => (p.requests.some((u) => u.endsWith('/api/v1/events')) ? true : undefined),
        10_000,
        'the page to open the event stream',
      );
    // Marks that a reload would wipe.
    for (const p of [page, overview.page]) await p.evaluate('window.__sameDocument = true');
    const run = cli(['run', 'merchant_daily_summary', '--no-checks', '--project', dir]);
    assert.equal(run.status, 0, run.stderr);
    const after = await api<{ jobs: { runs: { runId: string }[] }[] }>(`/runs?job=${job}&limit=1000`);
    const added = after.jobs[0]?.runs[0]?.runId;
    assert.ok(added && (after.jobs[0]?.runs.length ?? 0) > known, 'the run is recorded');
    await waitFor(
      async () => ((await page.locator(`tr[data-run="${added}"]`).count()) > 0 ? true : undefined),
      20_000,
      `the runs page to show run ${added} without a reload`,
    );
    await waitFor(
      async () => {
        const now = Number((await overview.page.textContent('[data-testid=total-runs]'))?.replace(/,/g, ''));
        return now > totalBefore ? now : undefined;
      },
      20_000,
      'the overview to count the new run without a reload',
    );
    for (const p of [page, overview.page]) assert.equal(await p.evaluate('window.__sameDocument'), true, 'the page was not reloaded');
    assert.deepEqual([...errors, ...overview.errors], []);
    await page.context().close();
    await overview.page.context().close();
  });

  it('deep links and keyboard: a product URL opens its page; Tab reaches the navigation and Enter follows it', async () => {
    const { page, errors } = await open('/products/payments_gold.daily_volume_by_method');
    await page.waitForSelector('[data-testid=schema]');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
    // Through the brand to "Overview", then Enter.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Overview');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=total-products]');
    assert.equal(new URL(page.url()).pathname, '/');
    const missing = await page.request.get(`${url}/api/v1/products/nope`, {
      headers: { authorization: `Bearer ${TOKENS['platform-engineer']}` },
    });
    assert.equal(missing.status(), 404);
    assert.match((await missing.json()).message, /no product "nope" \(products: .*payments\.transactions/);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});

describe(
  'web console, signed in as a persona without a grant',
  skipUnless(existsSync(CHROMIUM), `Chromium (${CHROMIUM})`, 'apt-get install chromium'),
  () => {
    // Shares nothing with the suite above: its own run of the example, served with tokens.
    let url: string;
    let serve: ChildProcess;
    let browser: Browser;
    before(async () => {
      assert.ok(BUILT, 'dist/console/index.html is missing: run `npm run build`');
      const dir = await ranGovernedProject();
      serve = cliAsync(['serve', '--project', dir, '--port', '0'], { env: TOKEN_ENV });
      let stderr = '';
      serve.stderr?.on('data', (d) => {
        stderr += d;
      });
      url = await waitFor(() => /console (http:\/\/[^ /]+)\//.exec(stderr)?.[1], 60_000, `finmesh serve to print its URL (${stderr})`);
      browser = await launchChromium(CHROMIUM);
    });
    after(async () => {
      await browser?.close();
      serve?.kill('SIGTERM');
    });

    it('the payments analyst does not see the customers’ products, sees their page refused, and a product of its own with masked columns', async () => {
      const context = await browser.newContext();
      await context.addInitScript(`localStorage.setItem('finmesh.token', ${JSON.stringify(TOKENS['payments-analyst'])})`);
      const page = await context.newPage();
      await page.goto(`${url}/`);
      await page.waitForSelector('tr[data-product]');
      const shown = await page.locator('tr[data-product]').evaluateAll((els) => els.map((e) => e.getAttribute('data-product')));
      assert.ok(shown.includes('payments.daily_volume_by_method'), shown.join(', '));
      assert.ok(!shown.some((p) => p?.startsWith('customers.')), `no customers product on the analyst's overview: ${shown.join(', ')}`);
      // What the platform engineer sees of the same overview: the customers' products are there.
      const all = (await (
        await fetch(`${url}/api/v1/overview`, { headers: { authorization: `Bearer ${TOKENS['platform-engineer']}` } })
      ).json()) as {
        products: { product: string }[];
      };
      assert.ok(all.products.some((p) => p.product === 'customers.customer_360'));
      await page.goto(`${url}/products/customers.customer_360`);
      await page.waitForSelector('.note');
      assert.match((await page.textContent('main')) ?? '', /may not (see|read)/);
      assert.equal(await page.locator('[data-testid=schema]').count(), 0, 'no schema of a product the persona may not read');
      // Its own product, with what it sees of each column.
      await page.goto(`${url}/products/payments.transactions`);
      await page.waitForSelector('[data-testid=schema]');
      const access = await page
        .locator('[data-testid=schema] tbody tr')
        .evaluateAll((rows) => rows.map((r) => [r.querySelector('th')?.textContent, r.querySelectorAll('td')[2]?.textContent]));
      assert.ok(
        access.some(([, a]) => a !== 'clear'),
        `some column of payments.transactions is masked or denied for the analyst: ${JSON.stringify(access)}`,
      );
      // Signed out, the console asks for a token and shows no figure.
      await page.evaluate("localStorage.removeItem('finmesh.token')");
      await context.clearCookies();
      const anonymous = await browser.newPage();
      await anonymous.goto(`${url}/`);
      await anonymous.waitForSelector('form.token-form');
      assert.equal(await anonymous.locator('tr[data-product]').count(), 0);
      await anonymous.close();
      await context.close();
    });
  },
);

/** A dataset and everything upstream and downstream of it, from the API's dataset edges. */
function connected(edges: { from: string; to: string }[], start: string): Set<string> {
  const out = new Set([start]);
  for (const [a, b] of [
    ['to', 'from'],
    ['from', 'to'],
  ] as const) {
    let frontier = [start];
    const seen = new Set([start]);
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const n of frontier)
        for (const e of edges)
          if (e[a] === n && !seen.has(e[b])) {
            seen.add(e[b]);
            out.add(e[b]);
            next.push(e[b]);
          }
      frontier = next;
    }
  }
  return out;
}

/** Money as the console shows it (console/src/format.ts): cents' fractions kept below one unit. */
function money(v: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: v !== 0 && Math.abs(v) < 1 ? 4 : 2 }).format(
    v,
  );
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
