import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parse, parseDocument } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { FOCUS_APPLICABILITY } from '../../src/cost/focus.js';
import { cli, cliAsync, ROOT, tempDir, waitFor } from '../helpers.js';
import { FOCUS_VALIDATOR, PROMTOOL_BIN, runFocusValidator, skipUnless } from '../launchers.js';

// One 60-second demo for the file (the acceptance run of the cost plane); every test reads what it metered.
const work = tempDir();
const demoDir = join(work, 'demo');
let metricsDuringDemo = '';

before(async () => {
  const child = cliAsync(['demo', '--seconds', '60', '--dir', demoDir, '--port', '0']);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const url = await waitFor(() => /health (http:\/\/[^/]+)\/healthz/.exec(stderr)?.[1], 60_000, 'the demo to print its URL');
  metricsDuringDemo = await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /finmesh_cost_month_to_date\{domain="payments",product=""\} [0-9.e-]*[1-9]/.test(text) ? text : undefined;
    },
    60_000,
    'cost gauges in /metrics',
  );
  assert.equal(await exited, 0, stderr);
});

interface CostRow {
  name: string;
  domain?: string;
  direct?: number;
  upstream?: number;
  monthToDate: number;
  forecast: number;
}

function costJson(args: string[] = []): { rows: CostRow[]; total: { monthToDate: number; forecast: number }; currency: string } {
  const r = cli(['cost', '--project', demoDir, '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('finmesh cost after a 60-second demo', { timeout: 300_000 }, () => {
  it('gives every product a cost above zero, and one product’s figure recomputes from the metered rows and the price sheet', () => {
    const report = costJson(['--by', 'product']);
    const config = parse(readFileSync(join(demoDir, 'finmesh.yaml'), 'utf8')) as { cost: { storageClasses: Record<string, string> } };
    assert.equal(report.rows.length, 11);
    for (const r of report.rows) assert.ok(r.monthToDate > 0 && (r.direct ?? 0) > 0, `${r.name} costs ${r.monthToDate}`);
    const recomputed = recomputeProducts(join(demoDir, '.finmesh/metadata.db'), config.cost.storageClasses);
    // merchant_daily_summary reads two products that others read too, each of which reads a source: its share is
    // a fraction of a fraction.
    for (const name of ['merchant_daily_summary', 'merchants']) {
      const row = report.rows.find((r) => r.name === name);
      const mine = recomputed.get(`product:${name}`);
      assert.ok(row && mine, name);
      assert.ok(Math.abs((row.direct ?? 0) - mine.direct) <= 1e-9 * mine.direct, `${name} direct ${row.direct} vs ${mine.direct}`);
      assert.ok(
        Math.abs((row.upstream ?? 0) - mine.upstream) <= 1e-9 * mine.upstream,
        `${name} upstream ${row.upstream} vs ${mine.upstream}`,
      );
      assert.ok(mine.upstream > 0, `${name} bears a share of what it reads`);
    }
    const byDomain = costJson(['--by', 'domain']);
    const sum = byDomain.rows.reduce((a, r) => a + r.monthToDate, 0);
    assert.ok(sum <= byDomain.total.monthToDate * (1 + 1e-9), 'domains do not add up to more than the whole');
    assert.ok(byDomain.total.forecast >= byDomain.total.monthToDate);
  });

  it('exports cost and budget gauges on /metrics while the demo runs', () => {
    assert.match(metricsDuringDemo, /finmesh_cost_month_to_date\{domain="payments",product="transactions"\} [0-9.e-]+/);
    assert.match(metricsDuringDemo, /finmesh_cost_forecast_month_end\{domain="payments",product=""\} [0-9.e-]+/);
    assert.match(metricsDuringDemo, /finmesh_budget_monthly\{domain="payments",product=""\} 300/);
  });

  it('writes FOCUS 1.2 cost and usage records that the FinOps Foundation’s focus-validator accepts', {
    ...skipUnless(FOCUS_VALIDATOR !== undefined, 'focus-validator', 'PyPI focus-validator==2.2.1 in .cache/focus-validator: .ci/run'),
  }, () => {
    const file = join(work, 'focus.csv');
    const r = cli(['cost', 'export', '--format', 'focus', '--project', demoDir, '--out', file]);
    assert.equal(r.status, 0, r.stderr);
    const header = readFileSync(file, 'utf8').split('\n')[0]?.split(',') ?? [];
    for (const c of ['BilledCost', 'EffectiveCost', 'ChargePeriodStart', 'ServiceName', 'PricingUnit', 'x_Product', 'x_CostCenter'])
      assert.ok(header.includes(c), c);
    const v = runFocusValidator(file, FOCUS_APPLICABILITY);
    assert.ok(v.passed.size > 200, `${v.passed.size} rules passed`);
    // A failed rule is acceptable only as the losing alternative of an OR the validator passed (InvoiceId is null:
    // finmesh's figures are estimates, not invoiced charges).
    const model = JSON.parse(readFileSync(join(FOCUS_VALIDATOR?.packageDir ?? '', 'focus_validator/rules/model-1.2.0.1.json'), 'utf8')) as {
      ModelRules: Record<string, { ValidationCriteria?: { Requirement?: { CheckFunction?: string; Items?: { ModelRuleId?: string }[] } } }>;
    };
    const alternatives = new Set<string>();
    for (const [id, rule] of Object.entries(model.ModelRules)) {
      const req = rule.ValidationCriteria?.Requirement;
      if (req?.CheckFunction === 'OR' && v.passed.has(id))
        for (const i of req.Items ?? []) if (i.ModelRuleId) alternatives.add(i.ModelRuleId);
    }
    const real = [...v.failed].filter(([id]) => !alternatives.has(id));
    assert.deepEqual(real, [], v.output.split('--- Failures ---')[1]);
  });

  it('ranks the example’s products by cost against use and explains each rank in one line', () => {
    const r = cli(['cost', 'benefit', '--project', demoDir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      products: { rank: number; product: string; verdict: string; why: string; use: { reads: number; downstream: string[] } }[];
      sources: { rank: number; source: string; why: string }[];
    };
    assert.deepEqual(
      report.products.map((p) => p.rank),
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
    for (const p of report.products) {
      assert.ok(p.why.length > 40 && !p.why.includes('\n'), p.why);
      assert.match(p.why, /USD .*\/month/);
    }
    const tx = report.products.find((p) => p.product === 'payments.transactions');
    assert.ok((tx?.use.reads ?? 0) > 0 && (tx?.use.downstream.length ?? 0) >= 5, 'transactions is read by the models downstream of it');
    assert.deepEqual(
      report.sources.map((s) => s.rank),
      [1, 2, 3, 4, 5],
    );
    const text = cli(['cost', 'benefit', '--project', demoDir]);
    assert.match(text.stdout, /^ {2}1\. \S+ \[(retire-or-merge|review|keep)\]: /m);
  });

  it('fires the budget alert in a promtool unit test when a budget is set below the demo’s spend, and not above it', {
    ...skipUnless(PROMTOOL_BIN !== undefined, 'promtool', 'Debian: apt-get install prometheus'),
  }, () => {
    const spend = costJson(['--by', 'domain']).rows.find((r) => r.name === 'payments')?.monthToDate ?? 0;
    assert.ok(spend > 0);
    const file = join(demoDir, 'finmesh.yaml');
    const original = readFileSync(file, 'utf8');
    const withBudgets = (monthly: number) => {
      const doc = parseDocument(original);
      doc.setIn(['cost', 'budgets'], [{ domain: 'payments', monthly }]);
      writeFileSync(file, doc.toString());
      const rules = join(work, `rules-${monthly}.yml`);
      const out = cli(['alerts', '--project', demoDir, '--format', 'prometheus']);
      assert.equal(out.status, 0, out.stderr);
      writeFileSync(rules, out.stdout);
      return rules;
    };
    try {
      const below = withBudgets(Number((spend / 1.5).toPrecision(6)));
      const above = withBudgets(Number((spend * 3).toPrecision(6)));
      execFileSync(PROMTOOL_BIN as string, ['check', 'rules', below], { stdio: 'pipe' });
      const series = `finmesh_cost_month_to_date{domain="payments",product=""}`;
      const tests = join(work, 'budget-tests.yml');
      const sample = spend.toPrecision(12);
      writeFileSync(
        tests,
        `rule_files: [${below}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '${series}'
        values: '${sample}x60'
      - series: 'finmesh_cost_forecast_month_end{domain="payments",product=""}'
        values: '${(spend * 100).toPrecision(12)}x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: FinmeshBudgetForecastOverrun
        exp_alerts: []
      - eval_time: 40m
        alertname: FinmeshBudgetForecastOverrun
        exp_alerts:
          - exp_labels: { severity: ticket, owner: payments-data, budget_scope: domain, budget: payments, domain: payments }
            exp_annotations: { summary: "domain payments is forecast to spend more than its monthly budget of USD ${Number((spend / 1.5).toPrecision(6))} by the end of the month", runbook_url: docs/runbooks/budget-forecast-overrun.md }
      - eval_time: 5m
        alertname: FinmeshBudgetSpent
        exp_alerts:
          - exp_labels: { severity: ticket, owner: payments-data, budget_scope: domain, budget: payments, threshold: 50%, domain: payments }
            exp_annotations: { summary: "domain payments has spent 50% of its monthly budget of USD ${Number((spend / 1.5).toPrecision(6))}", runbook_url: docs/runbooks/budget-spent.md }
          - exp_labels: { severity: ticket, owner: payments-data, budget_scope: domain, budget: payments, threshold: 90%, domain: payments }
            exp_annotations: { summary: "domain payments has spent 90% of its monthly budget of USD ${Number((spend / 1.5).toPrecision(6))}", runbook_url: docs/runbooks/budget-spent.md }
          - exp_labels: { severity: ticket, owner: payments-data, budget_scope: domain, budget: payments, threshold: 100%, domain: payments }
            exp_annotations: { summary: "domain payments has spent 100% of its monthly budget of USD ${Number((spend / 1.5).toPrecision(6))}", runbook_url: docs/runbooks/budget-spent.md }
`,
      );
      const fired = execFileSync(PROMTOOL_BIN as string, ['test', 'rules', tests], { encoding: 'utf8', stdio: 'pipe' });
      assert.match(fired, /SUCCESS/);
      writeFileSync(
        tests,
        `rule_files: [${above}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '${series}'
        values: '${sample}x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: FinmeshBudgetSpent
        exp_alerts: []
`,
      );
      assert.match(execFileSync(PROMTOOL_BIN as string, ['test', 'rules', tests], { encoding: 'utf8', stdio: 'pipe' }), /SUCCESS/);
    } finally {
      writeFileSync(file, original);
    }
  });
});

/**
 * Every product's and source's cost this month, recomputed from the metadata store's usage rows and the shipped
 * price sheet without finmesh's code: each row priced by the rules of docs/cost.md, its own rows summed, and upstream
 * cost shared by the bytes each reader read from each input, recursively.
 */
function recomputeProducts(dbFile: string, storageClasses: Record<string, string>): Map<string, { direct: number; upstream: number }> {
  const sheet = parse(readFileSync(join(ROOT, 'src/cost/prices.yaml'), 'utf8')) as {
    prices: { id: string; region?: string; price: number }[];
  };
  const price = (id: string) =>
    (sheet.prices.find((p) => p.id === id && p.region === 'us-central1') ?? sheet.prices.find((p) => p.id === id && !p.region))?.price ??
    NaN;
  const GiB = 2 ** 30;
  const TiB = 2 ** 40;
  const month = 730 * 3600;
  const db = new Database(dbFile, { readonly: true });
  const monthStart = new Date().toISOString().slice(0, 7);
  const rows = db.prepare('SELECT * FROM usage WHERE substr(day, 1, 7) = ?').all(monthStart) as {
    meter: string;
    quantity: number;
    product: string;
    source: string;
    attributes: string;
  }[];
  db.close();
  const classOf = (zone: string | undefined) => (zone && storageClasses[zone]) || 'standard';
  const costOf = (r: (typeof rows)[number]): number => {
    const a = JSON.parse(r.attributes) as Record<string, string>;
    if (a.outcome && a.outcome !== 'kept') return 0;
    const q = r.quantity;
    switch (r.meter) {
      case 'storage.byte_seconds':
        return (q / GiB / month) * price(`gcs.storage.${a.class}`);
      case 'storage.objects_written':
        return (q / 1000) * price(`gcs.ops.class_a.${classOf(a.zone)}`);
      case 'storage.objects_read':
        return (q / 1000) * price(`gcs.ops.class_b.${classOf(a.input?.split('/')[1])}`);
      case 'engine.bytes_scanned':
        return (q / TiB) * price('bigquery.on_demand');
      case 'bus.bytes':
        return (q / TiB) * price('pubsub.throughput');
      case 'compute.cpu_seconds':
        return q * price('cloudrun.cpu') + q * 0.5 * price('cloudrun.memory');
      case 'log.bytes':
        return (q / GiB) * price('logging.ingestion');
      case 'metric.samples':
        return (q / 1e6) * price('monitoring.samples');
      case 'metadata.byte_seconds':
        return (q / GiB / month) * price('cloudsql.storage');
      default:
        return 0;
    }
  };
  const node = (r: { product: string; source: string }) => (r.product ? `product:${r.product}` : r.source ? `source:${r.source}` : '');
  const own = new Map<string, number>();
  for (const r of rows) own.set(node(r), (own.get(node(r)) ?? 0) + costOf(r));
  // Which dataset belongs to which product or source: products are <domain>/<silver|gold>/<name>; a source lands in
  // <domain>/bronze|landing|quarantine/<its dataset>, as the project's source files say.
  const project = projectDatasets();
  const reads = new Map<string, Map<string, number>>();
  const total = new Map<string, number>();
  for (const r of rows) {
    if (r.meter !== 'engine.bytes_scanned') continue;
    const input = (JSON.parse(r.attributes) as Record<string, string>).input ?? '';
    const from = project.get(input);
    const reader = node(r);
    if (!from || !reader || from === reader) continue;
    const m = reads.get(reader) ?? new Map<string, number>();
    m.set(from, (m.get(from) ?? 0) + r.quantity);
    reads.set(reader, m);
    total.set(from, (total.get(from) ?? 0) + r.quantity);
  }
  const full = (n: string): number => own.get(n) ?? 0;
  const share = (n: string, seen: Set<string>): number => {
    let s = 0;
    for (const [from, bytes] of reads.get(n) ?? []) {
      if (seen.has(from)) continue;
      s += (bytes / (total.get(from) ?? bytes)) * (full(from) + share(from, new Set([...seen, from])));
    }
    return s;
  };
  const out = new Map<string, { direct: number; upstream: number }>();
  for (const n of own.keys()) if (n) out.set(n, { direct: own.get(n) ?? 0, upstream: share(n, new Set([n])) });
  return out;
}

function projectDatasets(): Map<string, string> {
  const p = loadProject(demoDir);
  const m = new Map<string, string>();
  for (const x of p.products) m.set(`${x.dataset.domain}/${x.dataset.zone}/${x.dataset.name}`, `product:${x.name}`);
  for (const s of p.sources)
    for (const z of ['landing', 'bronze', 'quarantine'])
      if (!m.has(`${s.domain}/${z}/${s.dataset.name}`)) m.set(`${s.domain}/${z}/${s.dataset.name}`, `source:${s.name}`);
  return m;
}
