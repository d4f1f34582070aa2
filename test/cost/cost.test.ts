import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { ConfigError, FinmeshError } from '../../src/core/errors.js';
import { budgetRules } from '../../src/cost/budgets.js';
import { decimal, focusCsv, focusRows } from '../../src/cost/focus.js';
import { monitoringReport } from '../../src/cost/monitoring.js';
import { PriceSheet } from '../../src/cost/price-sheet.js';
import { rate } from '../../src/cost/rating.js';
import { costReport, monthPeriod, type PricedUsage, spend } from '../../src/cost/report.js';
import { costTerraform } from '../../src/cost/terraform.js';
import type { UsageRecord } from '../../src/metadata/metadata-store.js';
import { componentLogger, logTally } from '../../src/observability/logger.js';
import { applyMetricControls, type MetricFamily, toPrometheusText } from '../../src/observability/metric-controls.js';
import { Metrics } from '../../src/observability/metrics.js';
import { copyExample } from '../helpers.js';

const NOW = new Date(Date.UTC(2026, 10, 20, 12));

function record(r: Partial<UsageRecord> & Pick<UsageRecord, 'meter' | 'quantity'>): UsageRecord {
  return {
    day: '2026-11-20',
    runId: undefined,
    component: 'transform',
    domain: undefined,
    product: undefined,
    source: undefined,
    costCenter: undefined,
    attributes: {},
    firstAt: new Date(NOW.getTime() - 3_600_000),
    lastAt: new Date(NOW.getTime() - 60_000),
    ...r,
  };
}

function priced(project: ReturnType<typeof loadProject>, records: UsageRecord[]): PricedUsage {
  const sheet = PriceSheet.load(project);
  return { period: monthPeriod('2026-11', NOW), sheet, records, lines: rate(records, sheet, project.config.cost) };
}

function editConfig(dir: string, path: (string | number)[], value: unknown): void {
  const file = join(dir, 'finmesh.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(path, value);
  writeFileSync(file, doc.toString());
}

describe('the price sheet', () => {
  it('prices each meter with its line: storage per GiB-month of 730 hours, operations per thousand, scans per TiB', () => {
    const project = loadProject(copyExample());
    const sheet = PriceSheet.load(project);
    const GiB = 2 ** 30;
    const rows = [
      record({ meter: 'storage.byte_seconds', quantity: GiB * 730 * 3600, attributes: { class: 'standard', zone: 'gold' } }),
      record({ meter: 'storage.objects_written', quantity: 2000, attributes: { zone: 'landing' } }),
      record({ meter: 'engine.bytes_scanned', quantity: 2 ** 40 / 2 }),
      record({ meter: 'compute.cpu_seconds', quantity: 100 }),
      record({ meter: 'rows.out', quantity: 1e6 }),
      record({ meter: 'log.bytes', quantity: GiB, attributes: { outcome: 'sampled' } }),
    ];
    const lines = rate(rows, sheet, project.config.cost);
    const cost = (id: string) => lines.find((l) => l.price.id === id)?.cost;
    assert.equal(cost('gcs.storage.standard'), sheet.get('gcs.storage.standard').price, 'a GiB for a 730-hour month');
    // The example keeps landing in Nearline: its writes are Nearline class A operations.
    assert.equal(cost('gcs.ops.class_a.nearline'), 2 * sheet.get('gcs.ops.class_a.nearline').price);
    assert.equal(cost('bigquery.on_demand'), sheet.get('bigquery.on_demand').price / 2);
    assert.equal(cost('cloudrun.cpu'), 100 * sheet.get('cloudrun.cpu').price);
    assert.equal(cost('cloudrun.memory'), 100 * 0.5 * sheet.get('cloudrun.memory').price, 'memoryGiBPerVcpu 0.5');
    assert.ok(!lines.some((l) => l.record.meter === 'rows.out'), 'rows are not priced');
    const log = lines.find((l) => l.price.id === 'logging.ingestion');
    assert.equal(log?.avoided, true, 'a sampled-out line is what a control saved, not a charge');
    for (const p of sheet.all()) {
      assert.match(p.source, /^https:\/\/cloud\.google\.com\//, `${p.id} names its source`);
      assert.match(p.asOf, /^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('takes the project’s own lines over the shipped ones, and says where a bad line is', () => {
    const dir = copyExample();
    writeFileSync(
      join(dir, 'prices.yaml'),
      `apiVersion: finmesh/v1
kind: PriceSheet
currency: USD
asOf: '2026-11-01'
prices:
  - { id: gcs.storage.standard, service: Cloud Storage, sku: Standard storage (negotiated), region: us-central1, unit: GiB-Months, price: 0.015, source: contract 2026-11 }
`,
    );
    const sheet = PriceSheet.load(loadProject(dir));
    assert.equal(sheet.get('gcs.storage.standard').price, 0.015);
    assert.equal(sheet.get('gcs.storage.standard').file, 'prices.yaml');
    assert.equal(sheet.get('bigquery.on_demand').file, 'finmesh/prices.yaml', 'lines not overridden stay');
    writeFileSync(
      join(dir, 'prices.yaml'),
      `apiVersion: finmesh/v1
kind: PriceSheet
currency: USD
asOf: '2026-11-01'
prices:
  - { id: gcs.storage.standard, service: Cloud Storage, sku: x, unit: GiB/month, price: -1, source: x }
`,
    );
    assert.throws(
      () => PriceSheet.load(loadProject(dir)),
      (e: unknown) =>
        e instanceof ConfigError &&
        /prices\.yaml: prices\[0\]\.unit: expected a unit in the FOCUS unit format/.test(e.message) &&
        /prices\.yaml: prices\[0\]\.price: expected a price of 0 or more, found number -1/.test(e.message),
    );
    editConfig(dir, ['cost', 'region'], 'mars-north1');
    writeFileSync(join(dir, 'prices.yaml'), 'apiVersion: finmesh/v1\nkind: PriceSheet\ncurrency: USD\nasOf: 2026-11-01\nprices: []\n');
    assert.throws(
      () => PriceSheet.load(loadProject(dir)).get('cloudrun.cpu'),
      (e: unknown) =>
        e instanceof FinmeshError &&
        /no price for cloudrun\.cpu in mars-north1 .*add a line with id cloudrun\.cpu to prices\.yaml/.test(e.message),
    );
  });
});

describe('cost by product', () => {
  it('charges each product its own usage and a share of each input by the bytes it read, recursively', () => {
    const project = loadProject(copyExample());
    const GiB = 2 ** 30;
    const store = (o: { product?: string; source?: string; dataset: string }, gib: number) =>
      record({
        ...o,
        meter: 'storage.byte_seconds',
        quantity: gib * GiB * 730 * 3600,
        component: 'lake',
        attributes: { class: 'standard', zone: 'x', dataset: o.dataset },
      });
    const read = (product: string, input: string, bytes: number) =>
      record({ product, meter: 'engine.bytes_scanned', quantity: bytes, attributes: { input } });
    const rows = [
      store({ source: 'core-transactions', dataset: 'payments/bronze/transactions' }, 100),
      store({ product: 'transactions', dataset: 'payments/silver/transactions' }, 50),
      store({ product: 'daily_volume_by_method', dataset: 'payments/gold/daily_volume_by_method' }, 10),
      // transactions reads the bronze source alone; two gold products read transactions, 3:1.
      read('transactions', 'payments/bronze/transactions', 1000),
      read('daily_volume_by_method', 'payments/silver/transactions', 300),
      read('volume_per_minute', 'payments/silver/transactions', 100),
      // a product's reads of its own files are not a share of anything
      read('transactions', 'payments/silver/transactions', 5000),
    ];
    const p = priced(project, rows);
    const report = costReport(project, p, 'product');
    const row = (n: string) => report.rows.find((r) => r.name === n);
    const storage = p.sheet.get('gcs.storage.standard').price;
    const scan = (bytes: number) => (bytes / 2 ** 40) * p.sheet.get('bigquery.on_demand').price;
    const source = 100 * storage;
    const txOwn = 50 * storage + scan(1000) + scan(5000);
    assert.ok(Math.abs((row('transactions')?.upstream ?? 0) - source) < 1e-12, 'the only reader of the source bears all of it');
    assert.ok(Math.abs((row('transactions')?.direct ?? 0) - txOwn) < 1e-12);
    const dvm = row('daily_volume_by_method');
    assert.ok(Math.abs((dvm?.upstream ?? 0) - 0.75 * (txOwn + source)) < 1e-12, 'three quarters of transactions, and of what it bears');
    assert.ok(Math.abs((row('volume_per_minute')?.upstream ?? 0) - 0.25 * (txOwn + source)) < 1e-12);
    assert.equal(row('merchants')?.monthToDate, 0);
    // The month's total counts each row once, shares or not.
    const all = rows.reduce((a, r) => a + rate([r], p.sheet, project.config.cost).reduce((x, l) => x + l.cost, 0), 0);
    assert.ok(Math.abs(report.total.monthToDate - all) < 1e-12);
  });

  it('forecasts the rest of the month at the last week’s rate, measured from the first of its rows', () => {
    const project = loadProject(copyExample());
    const p = priced(project, [
      record({ meter: 'compute.cpu_seconds', quantity: 1000, firstAt: new Date(NOW.getTime() - 86_400_000), lastAt: NOW }),
    ]);
    const s = spend(p.lines, p.period);
    const perMs = s.monthToDate / 86_400_000;
    const rest = p.period.end.getTime() - NOW.getTime();
    assert.ok(Math.abs(s.forecast - (s.monthToDate + perMs * rest)) < 1e-9);
    const past = spend(p.lines, { ...p.period, now: new Date(Date.UTC(2026, 11, 5)) });
    assert.equal(past.forecast, past.monthToDate, 'a month that is over forecasts what it cost');
  });
});

describe('FOCUS rows', () => {
  it('write decimals plainly, one row per day, price line and resource, with the x_ columns of finmesh', () => {
    assert.equal(decimal(1.5e-9), '0.0000000015');
    assert.equal(decimal(12), '12.0');
    const project = loadProject(copyExample());
    const p = priced(project, [
      record({ product: 'transactions', domain: 'payments', costCenter: 'CC-1100', meter: 'engine.bytes_scanned', quantity: 2 ** 30 }),
      record({
        product: 'transactions',
        domain: 'payments',
        costCenter: 'CC-1100',
        meter: 'engine.bytes_scanned',
        quantity: 2 ** 30,
        runId: 'r2',
      }),
      record({ meter: 'log.bytes', quantity: 100, attributes: { outcome: 'sampled' } }),
    ]);
    const rows = focusRows(project, p);
    assert.equal(rows.length, 1, 'two runs of one product on one day are one row; a saved log line is none');
    assert.equal(rows[0]?.PricingQuantity, 2 / 1024);
    assert.equal(rows[0]?.x_Product, 'transactions');
    assert.equal(rows[0]?.ServiceCategory, 'Databases');
    assert.equal(rows[0]?.ChargePeriodStart, '2026-11-20T00:00:00Z');
    const csv = focusCsv(rows).split('\n');
    assert.match(csv[1] ?? '', /^0\.01220703125,fintech,fintech,USD,2026-12-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,,/);
    assert.match(csv[1] ?? '', /"\{""domain"":""payments""/, 'tags are a JSON object, quoted');
  });
});

describe('budget rules', () => {
  it('alert per threshold and on the forecast, with the owner, and refuse a budget of a domain that does not exist', () => {
    const dir = copyExample();
    editConfig(dir, ['cost', 'budgets'], [{ product: 'fraud_signals', monthly: 12.5, alertAt: [0.8, 1] }]);
    const { rules } = budgetRules(loadProject(dir));
    assert.deepEqual(
      rules.map((r) => [r.alert, r.labels.threshold, r.expr]),
      [
        ['FinmeshBudgetSpent', '80%', 'max by (domain, product) (finmesh_cost_month_to_date{domain="risk",product="fraud_signals"}) >= 10'],
        [
          'FinmeshBudgetSpent',
          '100%',
          'max by (domain, product) (finmesh_cost_month_to_date{domain="risk",product="fraud_signals"}) >= 12.5',
        ],
        [
          'FinmeshBudgetForecastOverrun',
          undefined,
          'max by (domain, product) (finmesh_cost_forecast_month_end{domain="risk",product="fraud_signals"}) > 12.5',
        ],
      ],
    );
    assert.ok(
      rules.every((r) => r.labels.owner === 'risk-analytics' && (r.annotations.runbook_url ?? '').startsWith('docs/runbooks/budget-')),
    );
    editConfig(dir, ['cost', 'budgets'], [{ domain: 'lending', monthly: 10 }]);
    assert.throws(
      () => loadProject(dir),
      (e: unknown) =>
        e instanceof ConfigError &&
        /finmesh\.yaml: cost\.budgets\[0\]\.domain: expected a domain of the project .*found "lending"/.test(e.message),
    );
  });
});

describe('Terraform of the cost plane', () => {
  it('carries the budgets as billing budgets and the logging controls as exclusion filters on finmesh’s sink', () => {
    const dir = copyExample();
    editConfig(dir, ['logging', 'components'], {
      stream: { sampleRate: 0.25 },
      transform: { level: 'warn', exclude: ['^batch committed'] },
    });
    editConfig(dir, ['cost', 'monitoring', 'retention', 'logs'], '90d');
    const tf = costTerraform(loadProject(dir));
    const budgets = tf.resource.google_billing_budget ?? {};
    const payments = budgets.domain_payments as {
      amount: { specified_amount: { units: string } };
      budget_filter: { labels: Record<string, string> };
      threshold_rules: { threshold_percent: number; spend_basis: string }[];
    };
    assert.equal(payments.amount.specified_amount.units, '300');
    assert.deepEqual(payments.budget_filter.labels, { 'finmesh-domain': 'payments' });
    assert.deepEqual(
      payments.threshold_rules.map((t) => [t.threshold_percent, t.spend_basis]),
      [
        [0.5, 'CURRENT_SPEND'],
        [0.9, 'CURRENT_SPEND'],
        [1, 'CURRENT_SPEND'],
        [1, 'FORECASTED_SPEND'],
      ],
    );
    assert.deepEqual((budgets.product_transactions as { budget_filter: { labels: Record<string, string> } }).budget_filter.labels, {
      'finmesh-product': 'transactions',
    });
    const sink = tf.resource.google_logging_project_sink?.finmesh as { exclusions: { name: string; filter: string }[] };
    const filters = Object.fromEntries(sink.exclusions.map((e) => [e.name, e.filter]));
    assert.equal(filters['finmesh-stream-sampling'], 'jsonPayload.component="stream" AND severity<WARNING AND sample(insertId, 0.75)');
    assert.equal(filters['finmesh-transform-level'], 'jsonPayload.component="transform" AND severity<WARNING');
    assert.equal(
      filters['finmesh-transform-exclude-1'],
      'jsonPayload.component="transform" AND severity<WARNING AND jsonPayload.message=~"^batch committed"',
    );
    assert.equal(filters['finmesh-below-level'], 'severity<INFO AND NOT jsonPayload.component="transform"');
    assert.equal(
      (tf.resource.google_logging_project_bucket_config?.finmesh as { retention_days?: number } | undefined)?.retention_days,
      90,
    );
    assert.ok(tf.resource.google_logging_project_exclusion?.finmesh_out_of_default, 'finmesh logs are not ingested twice');
  });
});

describe('monitoring controls', () => {
  it('count what each log control kept out: lines below the level, excluded messages, sampled lines; warnings always pass', () => {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        written.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    logTally.drain();
    const log = componentLogger({ level: 'info', components: { unit: { sampleRate: 0.5, exclude: ['^heartbeat'] } } }, 'unit', sink);
    for (let i = 0; i < 400; i++) log.info({ product: 'transactions' }, 'batch committed');
    for (let i = 0; i < 50; i++) log.info('heartbeat sent');
    for (let i = 0; i < 30; i++) log.debug('details');
    for (let i = 0; i < 5; i++) log.warn('heartbeat late');
    const tally = logTally.drain().filter((e) => e.component === 'unit');
    const lines = (outcome: string, severity?: string) =>
      tally.filter((e) => e.outcome === outcome && (!severity || e.severity === severity)).reduce((a, e) => a + e.lines, 0);
    assert.equal(lines('kept') + lines('sampled'), 405, 'every info line was written or sampled out, and the warnings written');
    assert.ok(lines('sampled') > 100 && lines('sampled') < 300, `${lines('sampled')} of 400 sampled out at 50%`);
    assert.equal(lines('excluded'), 50);
    assert.equal(lines('level', 'DEBUG'), 30);
    assert.equal(lines('kept', 'WARNING'), 5, 'a warning is never excluded or sampled');
    assert.equal(written.length, lines('kept'));
    const keptBytes = tally.filter((e) => e.outcome === 'kept').reduce((a, e) => a + e.bytes, 0);
    assert.equal(
      keptBytes,
      written.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0),
      'kept bytes are the bytes written',
    );
    assert.ok(
      tally.find((e) => e.outcome === 'kept' && e.product === 'transactions'),
      'a line naming a product is attributed to it',
    );
  });

  it('keep only allowed labels (summing what they merge) and drop series beyond the budget, counting both', async () => {
    const families: MetricFamily[] = [
      {
        name: 'finmesh_check_results_total',
        help: 'checks',
        type: 'counter',
        values: [
          { value: 3, labels: { product: 'a', check: 'x', outcome: 'pass' } },
          { value: 4, labels: { product: 'a', check: 'y', outcome: 'pass' } },
          { value: 1, labels: { product: 'b', check: 'x', outcome: 'fail' } },
        ],
      },
      {
        name: 'finmesh_model_run_duration_seconds',
        help: 'durations',
        type: 'histogram',
        values: ['a', 'b'].flatMap((product): MetricFamily['values'] => [
          { value: 1, metricName: 'finmesh_model_run_duration_seconds_bucket', labels: { le: 1, product } },
          { value: 2, metricName: 'finmesh_model_run_duration_seconds_bucket', labels: { le: '+Inf', product } },
          { value: 1.5, metricName: 'finmesh_model_run_duration_seconds_sum', labels: { product } },
          { value: 2, metricName: 'finmesh_model_run_duration_seconds_count', labels: { product } },
        ]),
      },
    ];
    const { families: out, counts } = applyMetricControls(families, {
      labels: { finmesh_check_results_total: ['product', 'outcome'] },
      seriesBudget: 6,
    });
    assert.deepEqual(
      out[0]?.values.map((v) => [v.labels, v.value]),
      [
        [{ product: 'a', outcome: 'pass' }, 7],
        [{ product: 'b', outcome: 'fail' }, 1],
      ],
    );
    // 2 series left of the budget of 6 after the counter: the first histogram label set (4 series) does not fit whole.
    assert.deepEqual(counts, [
      { family: 'finmesh_check_results_total', series: { kept: 2, allowlist: 1, budget: 0 } },
      { family: 'finmesh_model_run_duration_seconds', series: { kept: 4, allowlist: 0, budget: 4 } },
    ]);
    const text = toPrometheusText(out);
    assert.match(text, /^finmesh_check_results_total\{product="a",outcome="pass"\} 7$/m);
    assert.match(text, /^finmesh_model_run_duration_seconds_bucket\{le="\+Inf",product="a"\} 2$/m);
    assert.doesNotMatch(text, /product="b"\} 1\.5/);
    const metrics = new Metrics({ processMetrics: false });
    for (const p of ['a', 'b', 'c']) metrics.modelRuns.inc({ domain: 'd', product: p, outcome: 'succeeded' });
    const total = (await metrics.seriesCounts()).reduce((a, c) => a + c.series.kept, 0);
    metrics.applyControls({ seriesBudget: total - 1 });
    const exposed = await metrics.exposition();
    assert.equal((exposed.match(/^finmesh_model_runs_total\{/gm) ?? []).length, 2, 'the last series registered is the one dropped');
    assert.match(exposed, /^finmesh_metrics_series_dropped\{family="finmesh_model_runs_total",reason="budget"\} 1$/m);
    const samples = exposed.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('finmesh_metrics_series_dropped'));
    assert.equal(samples.length, total - 1);
  });

  it('bill a component for what it wrote and credit each control with what it kept out', () => {
    const project = loadProject(copyExample());
    const log = (outcome: string, bytes: number) =>
      record({ component: 'stream', meter: 'log.bytes', quantity: bytes, attributes: { severity: 'INFO', outcome } });
    const p = priced(project, [
      log('kept', 2 ** 30),
      log('sampled', 3 * 2 ** 30),
      record({
        component: 'stream',
        meter: 'metric.samples',
        quantity: 2e6,
        attributes: { family: 'finmesh_source_lag_records', outcome: 'kept' },
      }),
      record({
        component: 'stream',
        meter: 'metric.samples',
        quantity: 1e6,
        attributes: { family: 'finmesh_source_lag_records', outcome: 'budget' },
      }),
    ]);
    const report = monitoringReport(project, p);
    const stream = report.components.find((c) => c.component === 'stream');
    const ingestion = p.sheet.get('logging.ingestion').price;
    const samples = p.sheet.get('monitoring.samples').price;
    assert.ok(Math.abs((stream?.logs.cost ?? 0) - ingestion) < 1e-12);
    assert.ok(Math.abs((stream?.saved.sampled?.cost ?? 0) - 3 * ingestion) < 1e-12);
    assert.ok(Math.abs((stream?.metrics.cost ?? 0) - 2 * samples) < 1e-12);
    assert.ok(Math.abs((stream?.saved.budget?.cost ?? 0) - samples) < 1e-12);
    assert.ok(Math.abs((stream?.cost ?? 0) - (ingestion + 2 * samples)) < 1e-12);
  });
});
