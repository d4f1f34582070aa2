import type { Command } from 'commander';
import { failuresFound } from '../exit-codes.js';
import { DEMO_DIR, examples, integer, positive, targetOption } from '../options.js';
import { formatCount, formatTable, formatValue, Progress, paint, plural, print, printJson, say } from '../output.js';

interface DemoCliOptions {
  seconds: number;
  dir: string;
  port?: number;
  json?: boolean;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('run the example fintech end to end in one process: app + outbox → change feed → bronze → silver → gold, with /metrics');
  targetOption(cmd)
    .option('--seconds <n>', 'how long to run', positive, 60)
    .option('--dir <dir>', 'workspace folder (a copy of examples/fintech; cleared by the next demo)', DEMO_DIR)
    .option('--port <n>', 'HTTP port for /healthz and /metrics (0: any free port; default: finmesh.yaml, else any free port)', integer)
    .option('--json', 'print the summary as one JSON object')
    .action(async (opts: DemoCliOptions) => {
      const [
        { loadProject },
        { FinmeshError },
        { runDemo },
        { layoutDemoWorkspace },
        { openContext },
        { Metrics },
        { registerApi },
        { startServer },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../demo/demo.js'),
        import('../../demo/workspace.js'),
        import('../../jobs/context.js'),
        import('../../observability/metrics.js'),
        import('../../server/api.js'),
        import('../../server/server.js'),
      ]);
      const target = process.env.FINMESH_TARGET;
      if (target === EMULATOR_TARGET) {
        const missing = EMULATOR_VARIABLES.filter((v) => !process.env[v]);
        if (missing.length > 0)
          throw new FinmeshError(
            'CONFIG_INVALID',
            `finmesh demo --target ${EMULATOR_TARGET} runs on local stand-ins of Google Cloud: expected ${missing.join(', ')} set to their addresses, found ${missing.length === 1 ? 'it' : 'them'} unset (docs/google-cloud.md#the-demo-on-the-stand-ins)`,
          );
      }
      const root = await layoutDemoWorkspace(opts.dir, { port: opts.port });
      const project = await loadProject(root);
      // The project's own error-level policies hold before anything runs.
      (await import('../../mesh/user-policies.js')).assertUserPolicies(project);
      const metrics = new Metrics();
      const ctx = await openContext(project, { secrets: true, metrics });
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      let ready = false;
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const host = project.config.server.host;
        const serve = (port: number) => startServer({ host, port, metrics, ready: () => ready, api: (app) => registerApi(app, ctx) });
        try {
          server = await serve(opts.port ?? project.config.server.port);
        } catch (e) {
          // The configured port is taken and none was asked for explicitly: any free port serves a demo.
          if (opts.port !== undefined || !(e instanceof FinmeshError) || e.code !== 'CONFLICT') throw e;
          server = await serve(0);
        }
        say(
          `finmesh demo: workspace ${opts.dir}${project.target !== 'local' ? `, target ${project.target}` : ''}, ${opts.seconds} s — console ${server.url}/ (live while the demo runs), health ${server.url}/healthz, metrics ${server.url}/metrics, API ${server.url}/api/v1`,
        );
        const progress = new Progress();
        ready = true;
        const summary = await runDemo(ctx, {
          seconds: opts.seconds,
          signal: abort.signal,
          onProgress: (p) =>
            progress.update(
              `demo: ${p.elapsedS <= opts.seconds ? `${p.elapsedS}/${opts.seconds} s` : 'finishing (partner files, catching up, last model run)'} · ${formatCount(p.events)} changes to bronze · ${plural(p.modelRuns, 'model run')} · ${p.failures} failed`,
            ),
        });
        progress.done();
        const result = { workspace: opts.dir, url: server.url, ...summary };
        if (opts.json) printJson(result);
        else printSummary(result);
        if (summary.runs.failed > 0) failuresFound();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await server?.close();
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh demo --seconds 30',
    'finmesh demo --seconds 120 --port 9464 --json > summary.json',
    'finmesh demo --target emulator --seconds 30   # on fake-gcs-server, the BigQuery emulator and Pub/Sub',
  ]);
}

/** The target the demo's workspace names for Google Cloud's local stand-ins (`layoutDemoWorkspace`). */
const EMULATOR_TARGET = 'emulator';
const EMULATOR_VARIABLES = ['STORAGE_EMULATOR_HOST', 'BIGQUERY_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST'];

type Summary = Awaited<ReturnType<typeof import('../../demo/demo.js').runDemo>> & { workspace: string; url: string };

function printSummary(s: Summary): void {
  const seconds = (v: number | null) => (v === null ? '–' : `${v.toFixed(v < 1 ? 3 : 2)} s`);
  print(
    formatTable(
      [
        { key: 'dataset' },
        { key: 'zone' },
        // Landing keeps files as received: it has files, not rows.
        { key: 'rows', align: 'right', format: (v, r) => (r.zone === 'landing' ? '–' : formatValue(v)) },
        { key: 'files' },
      ],
      s.datasets,
    ),
  );
  const t = s.transactions;
  const { toBronze, toGold } = s.latencySeconds;
  print();
  print(
    `stream: ${formatCount(Object.values(s.events).reduce((a, b) => a + b, 0))} changes at ${formatCount(s.eventsPerSecond)} events/s; latency event → bronze p50 ${seconds(toBronze.p50)}, p99 ${seconds(toBronze.p99)}; event → gold p50 ${seconds(toGold.p50)}, p99 ${seconds(toGold.p99)}`,
  );
  print(
    `transactions: ${formatCount(t.generated)} created by the app · ${formatCount(t.bronze)} change events in bronze (every insert and status change) · ${formatCount(t.silver)} transactions in silver (the latest version of each) · ${formatCount(t.gold)} counted in gold`,
  );
  const r = s.runs;
  print(
    `runs: ${formatCount(r.total)} — ${paint('green', `${formatCount(r.succeeded)} succeeded`)}, ${r.failed > 0 ? paint('red', `${r.failed} failed`) : '0 failed'}, ${r.skipped} skipped`,
  );
  for (const f of s.failures) print(`  ${paint('red', 'failed')} ${f.job} (run ${f.runId}): ${f.error}`);
  const partners = Object.entries(s.partnerFiles ?? {});
  if (partners.length > 0) {
    print(
      `partner files over SFTP: ${partners.map(([name, f]) => `${name} ${plural(f.ingested ?? 0, 'file')} (${formatCount(f.rowsAccepted ?? 0)} rows, ${formatCount(f.rowsRejected ?? 0)} rejected)`).join(' · ')}`,
    );
    print(
      `  the acquirer has since dropped more (a re-sent copy, a file cut short, a forged report): npx finmesh ingest --project ${s.workspace}`,
    );
  }
  const w = s.where;
  print(`\nwhere: target ${w.target} · lake ${w.lake} · engine ${w.engine} · bus ${w.bus}`);
  if (w.target !== 'local') {
    // The embedded DuckDB does not read the bucket: the products are BigQuery's tables, checked there.
    const on = `--project ${s.workspace} --target ${w.target}`;
    print(`explore: npx finmesh test ${on}   ·   npx finmesh run ${on}   ·   npx finmesh runs --project ${s.workspace}`);
    print(`         silver and gold are tables in BigQuery (${w.engine}), e.g. payments_gold.daily_volume_by_method`);
    return;
  }
  print(`explore: npx finmesh query "select * from payments_gold.daily_volume_by_method" --project ${s.workspace}`);
  print(`         npx finmesh catalog --project ${s.workspace}   ·   npx finmesh runs --project ${s.workspace}`);
  print(`console: npx finmesh serve --project ${s.workspace}, then open its URL (during the demo: ${s.url}/)`);
  print(`what it cost on Google Cloud prices: npx finmesh cost --project ${s.workspace} (also: cost monitoring, cost benefit)`);
}
