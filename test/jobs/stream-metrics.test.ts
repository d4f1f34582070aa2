import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { freePort } from '../launchers.js';

/** The value of a sample `name{labels…}` in a Prometheus exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('finmesh stream --port exports what the demo exports for the same work', () => {
  it('model runs, dataset freshness and rows, and event → gold latency, while it streams', async () => {
    const dir = copyExample();
    assert.equal(cli(['generate', '--project', dir, '--seconds', '3', '--rate', '100']).status, 0);
    const port = await freePort();
    const child = cliAsync(['stream', '--project', dir, '--port', String(port)]);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const metrics = await waitFor(
        async () => {
          const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
          const gold = sample(text, 'finmesh_event_to_gold_latency_seconds_count', { domain: 'payments' });
          // Gold counts as built once its files are committed; the run's checks follow the builds.
          const checked = sample(text, 'finmesh_check_results_total', { product: 'transactions', check: 'nullValues' });
          return gold !== undefined && gold > 0 && checked !== undefined && checked > 0 ? text : undefined;
        },
        90_000,
        `model runs, event → gold latency and check results on /metrics (stream stderr: ${stderr.slice(-500)})`,
      );
      assert.ok((sample(metrics, 'finmesh_model_runs_total', { product: 'transactions', outcome: 'succeeded' }) ?? 0) >= 1);
      assert.ok((sample(metrics, 'finmesh_model_runs_total', { product: 'daily_volume_by_method', outcome: 'succeeded' }) ?? 0) >= 1);
      const freshness = sample(metrics, 'finmesh_dataset_last_success_timestamp_seconds', {
        domain: 'payments',
        zone: 'gold',
        product: 'daily_volume_by_method',
      });
      assert.ok(freshness !== undefined && Math.abs(freshness - Date.now() / 1000) < 600, 'gold freshness is a recent Unix time');
      assert.ok(
        sample(metrics, 'finmesh_dataset_last_success_timestamp_seconds', {
          domain: 'payments',
          zone: 'bronze',
          product: 'transactions',
        }) !== undefined,
        'bronze freshness too',
      );
      assert.ok((sample(metrics, 'finmesh_dataset_rows', { domain: 'payments', zone: 'silver', product: 'transactions' }) ?? 0) > 0);
      assert.ok((sample(metrics, 'finmesh_check_results_total', { product: 'transactions', check: 'nullValues' }) ?? 0) >= 1);
      assert.ok((sample(metrics, 'finmesh_job_runs_total', { kind: 'model', outcome: 'succeeded' }) ?? 0) >= 1);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
