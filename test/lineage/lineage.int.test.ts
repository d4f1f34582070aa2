import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { valueAt } from '../../src/config/issues.js';
import type { RunEvent } from '../../src/lineage/openlineage.js';
import { GcpTransport } from '../../src/lineage/transports/gcp-transport.js';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { freePort } from '../launchers.js';
import { openLineageValidator } from './openlineage-schema.js';

/** A project that ran: the app wrote for 3 s, the stream caught up, the models ran. */
function ranProject(extraYaml = '', env: NodeJS.ProcessEnv = {}): string {
  const dir = copyExample();
  if (extraYaml) writeFileSync(join(dir, 'finmesh.yaml'), readFileSync(join(dir, 'finmesh.yaml'), 'utf8') + extraYaml);
  const g = cli(['generate', '--project', dir, '--seconds', '3', '--rate', '100']);
  assert.equal(g.status, 0, g.stderr);
  const s = cli(['stream', '--project', dir, '--until-caught-up'], { env });
  assert.equal(s.status, 0, s.stderr);
  return dir;
}

describe('lineage from every run', () => {
  let dir: string;
  before(() => {
    dir = ranProject();
  });

  it('every exported event validates against OpenLineage 2-0-2 and its facet schemas', () => {
    const r = cli(['lineage', 'export', '--project', dir]);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunEvent);
    const validate = openLineageValidator();
    assert.ok(events.length > 20);
    for (const e of events) assert.deepEqual(validate(e), [], `${e.job.name} ${e.eventType}`);
    const types = new Set(events.map((e) => `${e.job.name.split(':')[0]}:${e.eventType}`));
    for (const t of ['model:START', 'model:COMPLETE', 'stream:START', 'stream:COMPLETE', 'check:COMPLETE']) assert.ok(types.has(t), t);
    const check = events.find((e) => e.job.name === 'check:payments.transactions' && e.eventType === 'COMPLETE');
    const assertions = valueAt(check, ['inputs', 0, 'inputFacets', 'dataQualityAssertions', 'assertions']) as {
      assertion: string;
      success: boolean;
    }[];
    assert.ok(
      assertions.some((a) => a.assertion === 'nullValues' && a.success),
      'check results travel as dataQualityAssertions',
    );
    const profile = valueAt(check, ['inputs', 0, 'inputFacets', 'dataQualityMetrics']) as {
      rowCount: number;
      columnMetrics: Record<string, { nullCount: number }>;
    };
    assert.ok(profile.rowCount > 0, 'the check run profiles the product: rows…');
    assert.equal(profile.columnMetrics.transaction_id?.nullCount, 0, '…and nulls per column');
    const model = events.find((e) => e.job.name === 'model:payments.daily_volume_by_method' && e.eventType === 'COMPLETE');
    assert.ok(model);
    assert.equal(valueAt(model, ['job', 'facets', 'jobType', 'integration']), 'FINMESH');
    assert.match(String(valueAt(model, ['job', 'facets', 'sql', 'query'])), /from payments_silver\.transactions/);
    assert.ok(model.run.facets?.processing_engine);
    assert.ok(model.run.facets?.parent, 'a model run inside `finmesh stream` points to its parent run');
    const out = model.outputs?.[0];
    assert.ok(out?.facets?.columnLineage && out.facets.schema && out.facets.ownership && out.facets.finmesh);
    assert.ok(Number(valueAt(out, ['outputFacets', 'outputStatistics', 'rowCount'])) > 0);
    assert.match(out.name, /payments\/gold\/daily_volume_by_method$/);
    assert.ok(/^[0-9a-f]{8}-[0-9a-f]{4}-7/.test(model.run.runId), 'run ids are UUIDv7');
    const masked = events.find((e) => e.job.name === 'model:customers.customers' && e.eventType === 'COMPLETE');
    const cpf = valueAt(masked, [
      'outputs',
      0,
      'facets',
      'columnLineage',
      'fields',
      'cpf_token',
      'inputFields',
      0,
      'transformations',
      0,
      'masking',
    ]);
    assert.equal(cpf, true, 'the tokenised CPF is marked as masking');
  });

  it('finmesh lineage walks a gold column back through silver and bronze to the change-feed source', () => {
    const r = cli(['lineage', 'payments_gold.daily_volume_by_method.total_amount', '--upstream', '--json', '--project', dir]);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { nodes: string[]; columns: { dataset: string; column: string }[] };
    assert.ok(result.nodes.includes('payments_silver.transactions.amount'));
    assert.ok(result.nodes.includes('payments_bronze.transactions.amount'));
    assert.ok(
      result.nodes.some((n) => /outbox\/transactions\.amount$/.test(n)),
      result.nodes.join(', '),
    );
    const m = cli(['lineage', 'payments_gold.daily_volume_by_method.total_amount', '--format', 'mermaid', '--project', dir]);
    assert.match(m.stdout, /^flowchart LR\n/);
    assert.match(m.stdout, /AGGREGATION/);
    const impact = cli(['lineage', 'payments_bronze.transactions.amount', '--downstream', '--json', '--project', dir]);
    const down = JSON.parse(impact.stdout) as { impact: { products: { product: string }[]; consumers: string[] } };
    assert.ok(down.impact.products.some((p) => p.product === 'payments.daily_volume_by_method'));
    assert.ok(down.impact.consumers.includes('powerbi-payments-dashboard'));
    const missing = cli(['lineage', 'payments_gold.daily_volume_by_method.nope', '--project', dir]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no column "nope"/);
  });
});

describe('finmesh as an OpenLineage backend', () => {
  it('one finmesh sends over the http transport to another’s /api/v1/lineage, whose graph then holds its datasets and jobs', async () => {
    const port = await freePort();
    const receiver = copyExample();
    const tokens = { FINMESH_TOKEN_LINEAGE: 'lineage-token-for-tests', FINMESH_TOKEN_PLATFORM: 'platform-token-for-tests' };
    const server = cliAsync(['serve', '--project', receiver, '--port', String(port)], { env: tokens });
    const platform = { authorization: `Bearer ${tokens.FINMESH_TOKEN_PLATFORM}` };
    let err = '';
    server.stderr.on('data', (d) => {
      err += d;
    });
    try {
      await waitFor(() => (/finmesh serve: /.test(err) ? true : undefined), 30_000, 'serve to start');
      const sender = ranProject(
        `lineage:\n  transports:\n    - type: http\n      url: http://127.0.0.1:${port}\n      apiKey: env:FINMESH_TOKEN_LINEAGE\n`,
        tokens,
      );
      const res = await fetch(
        `http://127.0.0.1:${port}/api/v1/lineage?nodeId=${encodeURIComponent('dataset:file:')}${encodeURIComponent(join(sender, '.finmesh/lake/payments/gold/daily_volume_by_method'))}&depth=5`,
        { headers: platform },
      );
      assert.equal(res.status, 200, await res.clone().text());
      const { graph } = (await res.json()) as { graph: { id: string; type: string }[] };
      assert.ok(graph.some((n) => n.type === 'JOB' && n.id.endsWith(':model:payments.daily_volume_by_method')));
      assert.ok(graph.some((n) => n.type === 'DATASET' && n.id.endsWith('payments/silver/transactions')));
      const catalog = (await (await fetch(`http://127.0.0.1:${port}/api/v1/catalog`, { headers: platform })).json()) as {
        products: { product: string }[];
      };
      assert.ok(catalog.products.some((p) => p.product === 'payments.transactions'));
      const runs = await fetch(`http://127.0.0.1:${port}/api/v1/runs`, { headers: platform });
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/runs`)).status, 401, 'no token, no runs');
      assert.equal(runs.status, 200);
      const bad = await fetch(`http://127.0.0.1:${port}/api/v1/lineage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...platform },
        body: '{"eventType":"START"}',
      });
      assert.equal(bad.status, 400);
    } finally {
      server.kill('SIGTERM');
    }
  });
});

describe('GCP Data Lineage transport', () => {
  it('sends run events to processOpenLineageRunEvent under projects/<p>/locations/<l>, without dataset facets', async () => {
    const calls: { parent: string; openLineage: Record<string, unknown> }[] = [];
    const t = new GcpTransport({
      project: 'fintech-prod',
      location: 'southamerica-east1',
      client: { processOpenLineageRunEvent: async (r) => void calls.push(r) },
    });
    const event = {
      eventType: 'COMPLETE',
      eventTime: new Date().toISOString(),
      run: { runId: '01900000-0000-7000-8000-000000000000' },
      job: { namespace: 'finmesh://fintech', name: 'model:payments.transactions' },
      outputs: [
        {
          namespace: 'file',
          name: '/lake/payments/silver/transactions',
          facets: { schema: { _producer: 'x', _schemaURL: 'y', fields: [] } },
        },
      ],
      producer: 'p',
      schemaURL: 's',
    } as RunEvent;
    t.emit(event);
    await t.close();
    assert.equal(calls[0]?.parent, 'projects/fintech-prod/locations/southamerica-east1');
    assert.deepEqual(valueAt(calls, [0, 'openLineage', 'outputs', 0]), { namespace: 'file', name: '/lake/payments/silver/transactions' });
  });

  it('live: accepted by Google Cloud Data Lineage', {
    skip: process.env.FINMESH_GCP_PROJECT
      ? false
      : 'set FINMESH_GCP_PROJECT (and application default credentials) to send a run event to Data Lineage',
  }, async () => {
    const errors: unknown[] = [];
    const t = new GcpTransport({
      project: process.env.FINMESH_GCP_PROJECT as string,
      location: process.env.FINMESH_GCP_LOCATION ?? 'us',
      onError: (e) => errors.push(e),
    });
    t.emit({
      eventType: 'COMPLETE',
      eventTime: new Date().toISOString(),
      run: { runId: crypto.randomUUID() },
      job: { namespace: 'finmesh://test', name: 'live-test' },
      producer: 'https://github.com/finmesh/finmesh',
      schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    });
    await t.close();
    assert.deepEqual(errors, []);
  });
});
