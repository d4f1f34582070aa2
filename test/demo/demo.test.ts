import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, cliAsync, tempDir, waitFor } from '../helpers.js';

describe('finmesh demo', () => {
  it('runs the example end to end, serves /healthz and /metrics while it runs, and prints a JSON summary', async () => {
    const dir = join(tempDir(), 'demo');
    const child = cliAsync(['demo', '--seconds', '12', '--dir', dir, '--port', '0', '--json']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const url = await waitFor(() => /health (http:\/\/[^/]+)\/healthz/.exec(stderr)?.[1], 60_000, 'the demo to print its URL');
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        // A run's checks follow all of its builds: wait for both.
        const built = /finmesh_model_runs_total\{[^}]*outcome="succeeded"[^}]*\} [1-9]/.test(text);
        return built && /finmesh_check_results_total\{[^}]*\} [1-9]/.test(text) ? text : undefined;
      },
      60_000,
      'a successful model run and its check results in /metrics',
    );
    assert.match(metrics, /finmesh_source_records_total\{domain="payments",source="core-transactions"\} [1-9]/);
    assert.match(metrics, /finmesh_event_to_bronze_latency_seconds_count\{domain="payments",source="core-transactions"\} [1-9]/);
    assert.match(metrics, /finmesh_stream_batch_records_count\{[^}]*\} [1-9]/);
    assert.match(metrics, /finmesh_bus_messages_consumed_total\{bus="memory",source="core-transactions"\} [1-9]/);
    assert.match(metrics, /finmesh_check_results_total\{[^}]*outcome="pass"\} [1-9]/);
    assert.match(metrics, /finmesh_http_requests_total\{route="\/healthz",status_class="2xx"\} [1-9]/);
    assert.match(metrics, /finmesh_process_resident_memory_bytes [1-9]/);
    assert.equal(await exited, 0, stderr);
    const summary = JSON.parse(stdout);
    assert.ok(
      summary.transactions.bronze > 0 && summary.transactions.silver > 0 && summary.transactions.gold > 0,
      JSON.stringify(summary.transactions),
    );
    assert.equal(summary.transactions.silver, summary.transactions.gold, 'gold counts every silver transaction');
    assert.equal(summary.runs.failed, 0);
    assert.equal(summary.transactions.silver, summary.transactions.generated, 'every transaction the app made reached silver');
    assert.ok(summary.eventsPerSecond > 0);
    assert.ok(summary.latencySeconds.toBronze.p50 > 0 && summary.latencySeconds.toBronze.p99 >= summary.latencySeconds.toBronze.p50);
    assert.ok(summary.latencySeconds.toGold.p99 >= summary.latencySeconds.toBronze.p99, 'gold comes after bronze');
    assert.ok(summary.runs.succeeded > 0);
    for (const zone of ['bronze', 'silver', 'gold']) assert.ok(summary.zones[zone] > 0, zone);

    const q = cli([
      'query',
      'select count(*) n, count(distinct transaction_id) d from payments_silver.transactions',
      '--project',
      dir,
      '--json',
    ]);
    assert.equal(q.status, 0, q.stderr);
    const [row] = JSON.parse(q.stdout);
    assert.equal(row.n, row.d);
    assert.equal(row.n, summary.transactions.silver);

    // Partner files: the demo ingested today's settlement file and chargeback report over SFTP; the acquirer then
    // re-sent a file under a new name, cut one short and signed a report with a stranger's key.
    const settled = summary.partnerFiles['acquirer-settlements'];
    assert.equal(settled.ingested, 1, JSON.stringify(summary.partnerFiles));
    assert.ok(settled.rowsAccepted > 0 && settled.rowsRejected === 1, 'one malformed EDI row');
    assert.equal(summary.partnerFiles['acquirer-chargebacks'].ingested, 1, 'the PGP-encrypted zip of CSV loaded');
    const ingest = (source: string) => {
      const r = cli(['ingest', source, '--project', dir, '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const late = ingest('acquirer-settlements');
    assert.deepEqual([late.files.ingested, late.files.duplicate, late.files.quarantined], [1, 1, 1], JSON.stringify(late.details));
    assert.ok(late.rows.accepted > 0 && late.rows.rejected === 1);
    assert.match(
      late.details.find((d: { outcome: string }) => d.outcome === 'quarantined').reason,
      /PARCIAL\.txt: no trailer record: the file is truncated/,
    );
    const again = ingest('acquirer-settlements');
    assert.equal(again.files.ingested + again.files.duplicate + again.files.quarantined, 0, 'a second run ingests nothing new');
    const forged = ingest('acquirer-chargebacks');
    assert.equal(forged.files.quarantined, 1);
    assert.match(forged.details[0].reason, /CHARGEBACKS_\d{8}_002\.zip\.pgp: PGP signature check failed/);
    const disputes = cli(['query', 'select count(*) n from partners_silver.chargebacks', '--project', dir, '--json']);
    assert.ok(JSON.parse(disputes.stdout)[0].n > 0, 'disputes reached silver');

    // Polling: every file source on a schedule, with /metrics for Prometheus; Ctrl-C ends it after the cycle.
    const watch = cliAsync(['ingest', '--watch', '--every', '1s', '--port', '0', '--json', '--project', dir]);
    let watched = '';
    let watchErr = '';
    watch.stdout.on('data', (d) => {
      watched += d;
    });
    watch.stderr.on('data', (d) => {
      watchErr += d;
    });
    const watchExit = new Promise<number | null>((resolve) => watch.on('exit', resolve));
    const cycles = await waitFor(
      () => {
        const lines = watched
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { source: string });
        return new Set(lines.map((l) => l.source)).size === 2 && lines.length >= 4 ? lines : undefined;
      },
      60_000,
      'two polling cycles of both file sources',
    );
    assert.ok(
      cycles.every((c) => (c as unknown as { files: { ingested: number } }).files.ingested === 0),
      'nothing new to ingest',
    );
    const metricsUrl = /metrics (http:\/\/\S+)/.exec(watchErr)?.[1];
    assert.ok(metricsUrl, watchErr);
    assert.match(
      await (await fetch(metricsUrl)).text(),
      /finmesh_sftp_files_total\{domain="partners",source="acquirer-settlements",outcome="seen"\} [1-9]/,
    );
    watch.kill('SIGINT');
    assert.equal(await watchExit, 0, watchErr);

    const write = cli(['query', 'drop table payments_silver.transactions', '--project', dir]);
    assert.equal(write.status, 2);
    assert.match(write.stderr, /read-only/);
  });

  it('refuses to clear a folder that is not a demo workspace, and leaves it as it was', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'precious.txt'), 'do not delete');
    const refused = cli(['demo', '--seconds', '1', '--dir', dir]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /not a finmesh demo workspace/);
    assert.ok(existsSync(join(dir, 'precious.txt')));
  });
});
