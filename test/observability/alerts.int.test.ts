import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { cli, cliAsync, copyExample, tempDir, waitFor } from '../helpers.js';
import { freePort, PROMETHEUS_BIN, PROMTOOL_BIN, skipUnless, startPrometheus } from '../launchers.js';

const COMPLETENESS_TEST = `  # The acquirer delivered one settlement file, then nothing: a day later the completeness SLO opens a ticket
  # (never a page), and a source that never reported at all raises nothing.
  - interval: 10m
    input_series:
      - series: 'finmesh_sftp_files_total{domain="partners",source="acquirer-settlements",outcome="ingested"}'
        values: '0 1+0x200'
      - series: 'finmesh_sftp_files_total{domain="partners",source="acquirer-settlements",outcome="seen"}'
        values: '0 1+0x200'
    alert_rule_test:
      - eval_time: 20h
        alertname: FinmeshSLOBurnRateTicket
        exp_alerts: []
      - eval_time: 30h
        alertname: FinmeshSLOBurnRateTicket
        exp_alerts:
          - exp_labels: { severity: ticket, owner: partner-integrations, sloth_id: partners-acquirer-settlements-completeness, sloth_service: partners.acquirer-settlements, sloth_slo: completeness }
            exp_annotations:
              summary: "partners.acquirer-settlements: completeness SLO (95% over 30d) is burning its error budget steadily"
              runbook_url: docs/runbooks/slo-burn-rate-ticket.md
      - eval_time: 30h
        alertname: FinmeshSLOBurnRatePage
        exp_alerts: []
`;

const promtool = skipUnless(PROMTOOL_BIN !== undefined, 'promtool', 'Debian: apt-get install prometheus');

interface Rules {
  groups: {
    name: string;
    rules: { record?: string; alert?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
  }[];
}

describe('alert rules', () => {
  it('follow Sloth’s names and the multiwindow multi-burn-rate thresholds, each alert with severity, owner and runbook', () => {
    const dir = tempDir();
    const r = cli(['alerts', '--project', 'examples/fintech', '--format', 'prometheus', '--runbooks', join(dir, 'runbooks')]);
    assert.equal(r.status, 0, r.stderr);
    const rules = parse(r.stdout) as Rules;
    const all = rules.groups.flatMap((g) => g.rules);
    for (const name of [
      'slo:sli_error:ratio_rate5m',
      'slo:sli_error:ratio_rate30m',
      'slo:sli_error:ratio_rate1h',
      'slo:sli_error:ratio_rate6h',
      'slo:sli_error:ratio_rate3d',
      'slo:objective:ratio',
      'slo:error_budget:ratio',
      'slo:period_error_budget_remaining:ratio',
    ]) {
      assert.ok(
        all.some((x) => x.record === name),
        name,
      );
    }
    const page = all.find((x) => x.alert === 'FinmeshSLOBurnRatePage' && x.labels?.sloth_id === 'payments-transactions-freshness');
    assert.ok(page);
    assert.match(
      page.expr,
      /ratio_rate1h.*> \(14\.4 \* 0\.005\).*ratio_rate5m.*> \(14\.4 \* 0\.005\).*ratio_rate6h.*> \(6 \* 0\.005\).*ratio_rate30m/,
    );
    const ticket = all.find((x) => x.alert === 'FinmeshSLOBurnRateTicket' && x.labels?.sloth_id === 'payments-transactions-freshness');
    assert.match(ticket?.expr ?? '', /ratio_rate1d.*> \(3 \* 0\.005\).*ratio_rate2h.*ratio_rate3d.*> \(1 \* 0\.005\).*ratio_rate6h/);
    for (const a of all.filter((x) => x.alert)) {
      assert.ok(a.labels?.severity && a.labels.owner, `${a.alert} severity and owner`);
      const book = a.annotations?.runbook_url ?? '';
      assert.ok(existsSync(join(dir, 'runbooks', book.replace('docs/runbooks/', ''))), `${a.alert}: runbook ${book}`);
    }
    for (const alert of [
      'FinmeshSourceLag',
      'FinmeshPartnerFileMissing',
      'FinmeshPipelineFailing',
      'FinmeshQuarantineSpike',
      'FinmeshDataQualityError',
      'FinmeshWatcherSilent',
    ]) {
      assert.ok(
        all.some((x) => x.alert === alert),
        alert,
      );
    }
  });

  it('pass promtool check rules and promtool’s unit tests', promtool, () => {
    const dir = tempDir();
    const rules = join(dir, 'rules.yml');
    writeFileSync(rules, cli(['alerts', '--project', 'examples/fintech', '--format', 'prometheus']).stdout);
    execFileSync(PROMTOOL_BIN as string, ['check', 'rules', rules], { stdio: 'pipe' });
    const tests = join(dir, 'tests.yml');
    writeFileSync(
      tests,
      `rule_files: [${rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'finmesh_model_runs_total{domain="payments",product="transactions",outcome="failed"}'
        values: '0+1x120'
      - series: 'finmesh_model_runs_total{domain="payments",product="transactions",outcome="succeeded"}'
        values: '0+0x120'
      - series: 'up{job="finmesh",instance="demo"}'
        values: '1x120'
    alert_rule_test:
      - eval_time: 20m
        alertname: FinmeshPipelineFailing
        exp_alerts:
          - exp_labels: { severity: page, owner: platform, domain: payments, product: transactions }
            exp_annotations:
              summary: payments.transactions failed twice or more in 15 minutes
              runbook_url: docs/runbooks/pipeline-failing.md
      - eval_time: 70m
        alertname: FinmeshSLOBurnRatePage
        exp_alerts:
          - exp_labels: { severity: page, owner: payments-data, sloth_id: payments-transactions-pipeline-success, sloth_service: payments.transactions, sloth_slo: pipeline-success }
            exp_annotations:
              summary: "payments.transactions: pipeline-success SLO (99% over 7d) is burning its error budget fast"
              runbook_url: docs/runbooks/slo-burn-rate-page.md
      - eval_time: 70m
        alertname: FinmeshWatcherSilent
        exp_alerts: []
`,
    );
    const out = execFileSync(PROMTOOL_BIN as string, ['test', 'rules', tests], { encoding: 'utf8', stdio: 'pipe' });
    assert.match(out, /SUCCESS/);
    // Completeness is judged over days: its own rule group, evaluated every 5 minutes over 30 hours.
    const all = parse(readFileSync(rules, 'utf8')) as Rules;
    const completenessRules = join(dir, 'completeness.yml');
    writeFileSync(
      completenessRules,
      stringify({ groups: all.groups.filter((g) => g.name === 'finmesh-slo-partners-acquirer-settlements-completeness') }),
    );
    const completenessTests = join(dir, 'completeness-tests.yml');
    writeFileSync(
      completenessTests,
      `rule_files: [${completenessRules}]
evaluation_interval: 5m
tests:
${COMPLETENESS_TEST}`,
    );
    const out2 = execFileSync(PROMTOOL_BIN as string, ['test', 'rules', completenessTests], { encoding: 'utf8', stdio: 'pipe' });
    assert.match(out2, /SUCCESS/);
  });
});

describe('finmesh slo', () => {
  it('lists each SLO with its SLI, objective, budget remaining and burn rates, and exits 1 once a budget is exhausted', () => {
    const dir = copyExample();
    assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--rate', '100']).status, 0);
    assert.equal(cli(['stream', '--project', dir, '--until-caught-up']).status, 0);
    const ok = cli(['slo', '--project', dir, '--json']);
    assert.equal(ok.status, 0, ok.stdout);
    const { slos } = JSON.parse(ok.stdout) as {
      slos: {
        name: string;
        sli: string;
        objective: number;
        sliValue: number | null;
        errorBudgetRemaining: number | null;
        burnRates: Record<string, number | null>;
      }[];
    };
    const fresh = slos.find((s) => s.name === 'payments-transactions-freshness');
    assert.equal(fresh?.objective, 0.995, 'the OpenSLO file replaces the contract default');
    const success = slos.find((s) => s.name === 'payments-daily-volume-by-method-pipeline-success');
    assert.equal(success?.sliValue, 1);
    assert.equal(success?.errorBudgetRemaining, 1);
    assert.deepEqual(Object.keys(success?.burnRates ?? {}), ['1h', '6h', '1d', '3d']);
    // Break a model: its runs fail, its pipeline-success budget is spent.
    const model = join(dir, 'domains/payments/products/daily_volume_by_method/model.sql');
    writeFileSync(model, readFileSync(model, 'utf8').replace('payment_method,', 'payment_methd,'));
    for (let i = 0; i < 2; i++) cli(['run', 'daily_volume_by_method', '--project', dir]);
    const bad = cli(['slo', '--project', dir, '--json']);
    assert.equal(bad.status, 1);
    const broken = (
      JSON.parse(bad.stdout) as { slos: { name: string; errorBudgetRemaining: number; burnRates: Record<string, number> }[] }
    ).slos.find((s) => s.name === 'payments-daily-volume-by-method-pipeline-success');
    assert.ok((broken?.errorBudgetRemaining ?? 1) < 0);
    assert.ok((broken?.burnRates['1h'] ?? 0) > 14.4);
  });
});

const prometheus = skipUnless(PROMETHEUS_BIN !== undefined, 'prometheus', 'Debian: apt-get install prometheus');

describe('alerts fire in a real Prometheus', () => {
  it('scrapes a running demo with the generated rules and fires FinmeshPipelineFailing when a model breaks', {
    ...prometheus,
    timeout: 120_000,
  }, async () => {
    const work = tempDir();
    const rules = join(work, 'rules.yml');
    // Windows divided by 60: fifteen minutes become fifteen seconds.
    writeFileSync(rules, cli(['alerts', '--project', 'examples/fintech', '--format', 'prometheus', '--time-scale', '60']).stdout);
    const port = await freePort();
    const demoDir = join(work, 'demo');
    const demo = cliAsync(['demo', '--seconds', '90', '--dir', demoDir, '--port', String(port)]);
    let err = '';
    demo.stderr.on('data', (d) => {
      err += d;
    });
    const prom = await startPrometheus([`127.0.0.1:${port}`], rules);
    try {
      await waitFor(() => (/health http/.test(err) ? true : undefined), 30_000, 'the demo to start');
      const query = async (q: string) =>
        ((await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: unknown[] } }).data
          .result;
      await waitFor(
        async () => ((await query('finmesh_model_runs_total{outcome="succeeded"}')).length > 0 ? true : undefined),
        40_000,
        'Prometheus to scrape model runs',
      );
      // The fault: a bad deploy of the merchant summary's SQL.
      const model = join(demoDir, 'domains/payments/products/merchant_daily_summary/model.sql');
      writeFileSync(model, readFileSync(model, 'utf8').replace('m.trade_name,', 'm.trade_nam,'));
      const firing = await waitFor(
        async () => {
          const res = (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as {
            data: { alerts: { labels: Record<string, string>; state: string }[] };
          };
          return res.data.alerts.find((a) => a.labels.alertname === 'FinmeshPipelineFailing' && a.state === 'firing');
        },
        60_000,
        'FinmeshPipelineFailing to fire',
      );
      assert.equal(firing.labels.product, 'merchant_daily_summary');
      assert.equal(firing.labels.severity, 'page');
    } finally {
      demo.kill('SIGTERM');
      await prom.stop();
    }
  });
});
