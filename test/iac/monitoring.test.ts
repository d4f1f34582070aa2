import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { LOG_METRICS } from '../../src/iac/monitoring.js';
import { terraformFiles } from '../../src/iac/terraform.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { prometheusRules } from '../../src/observability/alert-rules.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadSlos } from '../../src/observability/slo.js';
import { Runs } from '../../src/runs/runs.js';
import { copyExample, tempDir } from '../helpers.js';

function gcpProject() {
  const dir = copyExample();
  appendFileSync(
    join(dir, 'finmesh.yaml'),
    'targets:\n  gcp:\n    lake: { kind: gcs, bucket: fintech-lake-prod, projectId: fintech-prod }\n    bus: { kind: pubsub, projectId: fintech-prod }\n',
  );
  return loadProject(dir, { target: 'gcp' });
}

/** The multiwindow burn-rate alerts of the Google SRE workbook (and Sloth): long window, short window, factor. */
const EXPECTED = {
  page: [
    ['1h', '5m', 14.4],
    ['6h', '30m', 6],
  ],
  ticket: [
    ['1d', '2h', 3],
    ['3d', '6h', 1],
  ],
} as const;

/** `resource "<type>" "<name>" { … }` blocks of a file, by name. */
function resources(text: string, type: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(new RegExp(`^resource "${type}" "([^"]+)" \\{\\n([\\s\\S]*?)\\n\\}$`, 'gm')))
    out.set(m[1] as string, m[2] as string);
  return out;
}

/** An HCL string literal's value (the generator writes JSON-compatible strings). */
function unquote(hcl: string): string {
  return JSON.parse(hcl) as string;
}

describe('finmesh iac terraform: Cloud Monitoring', () => {
  it('gives every SLO of the example its burn-rate alert policies, with the windows, thresholds and SLI queries of its Prometheus rules', () => {
    const project = gcpProject();
    const slos = loadSlos(project);
    assert.ok(slos.length >= 10, `${slos.length} SLOs`);
    const monitoring = terraformFiles(project).find((f) => f.path === 'monitoring.tf')?.text ?? '';
    const policies = resources(monitoring, 'google_monitoring_alert_policy');
    const rules = prometheusRules(project, slos);
    let expected = 0;
    for (const slo of slos) {
      const budget = 1 - slo.objective;
      const group = rules.groups.find((g) => g.name === `finmesh-slo-${slo.name}`);
      assert.ok(group, slo.name);
      /** The Prometheus recording rule's expression of the SLI's error ratio over a window. */
      const sli = (w: string) => group.rules.find((r) => r.record === `slo:sli_error:ratio_rate${w}`)?.expr;
      for (const severity of ['page', 'ticket'] as const) {
        const name = `slo_${slo.name.replace(/[^A-Za-z0-9_]/g, '_')}_${severity}`;
        const policy = policies.get(name);
        // A partner file's completeness opens tickets, never pages (as in the Prometheus rules).
        if (severity === 'page' && slo.sli === 'completeness') {
          assert.equal(policy, undefined, `${name}: no page for completeness`);
          assert.ok(!group.rules.some((r) => r.alert === 'FinmeshSLOBurnRatePage'));
          continue;
        }
        expected++;
        assert.ok(policy, `an alert policy ${name}`);
        assert.match(policy, new RegExp(`notification_channels = var\\.${severity}_notification_channels`));
        assert.match(policy, /combiner +=+ "OR"/);
        const queries = [...policy.matchAll(/^ +query += (".*")$/gm)].map((m) => unquote(m[1] as string));
        assert.equal(queries.length, EXPECTED[severity].length, `${name}: one condition per window pair`);
        for (const [i, [long, short, factor]] of EXPECTED[severity].entries()) {
          const threshold = Math.round(factor * budget * 1e6) / 1e6;
          const q = queries[i] ?? '';
          const [l, s] = [sli(long), sli(short)];
          assert.ok(l && s, `${slo.name}: recording rules for ${long} and ${short}`);
          assert.equal(
            q,
            `((${l}) > ${threshold}) and on() ((${s}) > ${threshold})`,
            `${name}: ${long}/${short} above ${factor} × ${budget}`,
          );
        }
      }
    }
    assert.equal(policies.size, expected, 'no other alert policies');
  });

  it('counts failed runs and quarantined rows from the lines finmesh writes, with their job, domain and source', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const meta = await SqliteMetadataStore.create({ path: join(tempDir(), 'm.db') });
    const runs = new Runs({ meta, lineage: { emit: () => undefined }, logger: createLogger({ level: 'info', destination }) });
    try {
      const labels = { domain: 'partners', source: 'acquirer-settlements' };
      await (await runs.start({ job: 'ingest:acquirer-settlements', kind: 'ingest', labels })).end({
        status: 'succeeded',
        rowsIn: 100,
        rowsOut: 97,
        rowsRejected: 3,
      });
      await (await runs.start({ job: 'model:payments.transactions', kind: 'model', labels: { domain: 'payments' } })).end({
        status: 'failed',
        error: 'boom',
      });
      await (await runs.start({ job: 'ingest:core-transactions', kind: 'ingest', labels })).end({
        status: 'succeeded',
        rowsIn: 5,
        rowsOut: 5,
      });
    } finally {
      await runs.close();
      await meta.close();
    }
    const metric = (id: string) => LOG_METRICS.find((m) => m.id === id);
    const selected = (id: string) => lines.filter((l) => matches(metric(id)?.filter ?? 'false', l));

    const quarantined = selected('quarantined_rows');
    assert.equal(quarantined.length, 1, JSON.stringify(lines));
    assert.equal(quarantined[0]?.severity, 'WARNING', 'kept at the default level');
    assert.equal(field(quarantined[0], metric('quarantined_rows')?.value ?? ''), 3, 'the metric sums the rows, not the lines');
    for (const [k, v] of Object.entries({ job: 'ingest:acquirer-settlements', domain: 'partners', source: 'acquirer-settlements' }))
      assert.equal(quarantined[0]?.[k], v, `label ${k}`);
    assert.deepEqual(Object.keys(metric('quarantined_rows')?.labels ?? {}).sort(), ['domain', 'job', 'source']);

    const failed = selected('failed_runs');
    assert.equal(failed.length, 1, JSON.stringify(lines));
    assert.equal(failed[0]?.job, 'model:payments.transactions');
    assert.equal(failed[0]?.domain, 'payments');
  });

  it('names the log-based metrics in monitoring.tf, each filter scoped by var.log_filter', () => {
    const monitoring = terraformFiles(gcpProject()).find((f) => f.path === 'monitoring.tf')?.text ?? '';
    const metrics = resources(monitoring, 'google_logging_metric');
    assert.deepEqual([...metrics.keys()].sort(), LOG_METRICS.map((m) => m.id).sort());
    for (const m of LOG_METRICS) {
      const body = metrics.get(m.id) ?? '';
      assert.match(body, new RegExp(`name += "${m.name}"`));
      assert.match(body, /filter += join\(" AND ", compact\(\[var\.log_filter, "/);
      for (const label of Object.keys(m.labels)) assert.match(body, new RegExp(`${label} += "EXTRACT\\(jsonPayload\\.${label}\\)"`));
    }
  });
});

/** A JSON log line's field by its Cloud Logging path (`jsonPayload.x`, `severity`). */
function field(line: Record<string, unknown> | undefined, path: string): unknown {
  return path.startsWith('jsonPayload.') ? line?.[path.slice('jsonPayload.'.length)] : line?.[path];
}

const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];

/** The subset of the Cloud Logging query language the metrics use: terms joined by AND; `=`, `>`, `>=`, `:*`. */
function matches(filter: string, line: Record<string, unknown>): boolean {
  return filter.split(' AND ').every((term) => {
    const m = /^([\w.]+)(:\*|>=|>|=)(.*)$/.exec(term.trim());
    assert.ok(m, `a term the test understands: ${term}`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    const v = field(line, path);
    if (op === ':*') return v !== undefined;
    if (path === 'severity') {
      const [a, b] = [SEVERITIES.indexOf(String(v)), SEVERITIES.indexOf(value)];
      return op === '>=' ? a >= b : op === '>' ? a > b : a === b;
    }
    if (op === '=') return v === JSON.parse(value);
    return typeof v === 'number' && (op === '>' ? v > Number(value) : v >= Number(value));
  });
}
