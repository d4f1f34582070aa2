import type { Command } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { FinmeshError } from '../../core/errors.js';
import { runDemo } from '../../demo/demo.js';
import { layoutDemoWorkspace } from '../../demo/workspace.js';
import { openContext } from '../../jobs/context.js';
import { Metrics } from '../../observability/metrics.js';
import { type StartedServer, startServer } from '../../server/server.js';
import { formatCount, formatTable, Progress, printJson, say } from '../output.js';
import { integer, positive } from './generate.js';

interface DemoCliOptions {
  seconds: number;
  dir: string;
  port?: number;
  json?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the example fintech end to end in one process: app + outbox → change feed → bronze → silver → gold, with /metrics')
    .option('--seconds <n>', 'how long to run', positive, 60)
    .option('--dir <dir>', 'workspace folder (a copy of examples/fintech; cleared by the next demo)', '.finmesh-demo')
    .option('--port <n>', 'HTTP port for /healthz and /metrics (0: any free port; default: finmesh.yaml, else any free port)', integer)
    .option('--json', 'print the summary as one JSON object')
    .action(async (opts: DemoCliOptions) => {
      const root = await layoutDemoWorkspace(opts.dir, { port: opts.port });
      const project = loadProject(root);
      const metrics = new Metrics();
      const ctx = await openContext(project, { secrets: true, metrics });
      let server: StartedServer | undefined;
      let ready = false;
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const host = project.config.server.host;
        const serve = (port: number) => startServer({ host, port, metrics, ready: () => ready });
        try {
          server = await serve(opts.port ?? project.config.server.port);
        } catch (e) {
          // The configured port is taken and none was asked for explicitly: any free port serves a demo.
          if (opts.port !== undefined || !(e instanceof FinmeshError) || e.code !== 'CONFLICT') throw e;
          server = await serve(0);
        }
        say(`finmesh demo: workspace ${opts.dir}, ${opts.seconds} s — health ${server.url}/healthz, metrics ${server.url}/metrics`);
        const progress = new Progress();
        ready = true;
        const summary = await runDemo(ctx, {
          seconds: opts.seconds,
          signal: abort.signal,
          onProgress: (p) =>
            progress.update(
              `${p.elapsedS}/${opts.seconds} s · ${formatCount(p.events)} events to bronze · ${p.modelRuns} model runs · ${p.failures} failed`,
            ),
        });
        progress.done();
        const result = { workspace: opts.dir, url: server.url, ...summary };
        if (opts.json) printJson(result);
        else {
          say(`\n${formatTable(['dataset', 'zone', 'rows', 'files'], summary.datasets)}`);
          say(
            `\ntransactions: bronze ${formatCount(summary.transactions.bronze)} · silver ${formatCount(summary.transactions.silver)} · gold ${formatCount(summary.transactions.gold)}`,
          );
          say(
            `runs: ${summary.runs.total} (${summary.runs.succeeded} succeeded, ${summary.runs.failed} failed, ${summary.runs.skipped} skipped)`,
          );
          for (const f of summary.failures) say(`  failed ${f.job} (${f.runId}): ${f.error}`);
          const partners = Object.entries(summary.partnerFiles ?? {});
          if (partners.length > 0) {
            say(
              `partner files over SFTP: ${partners.map(([s, f]) => `${s} ${f.ingested} ingested (${formatCount(f.rowsAccepted ?? 0)} rows, ${f.rowsRejected} rejected)`).join(' · ')}`,
            );
            say(
              `  the acquirer has since dropped more (a re-sent copy, a file cut short, a forged report): npx finmesh ingest --project ${opts.dir}`,
            );
          }
          say(`\nexplore: npx finmesh query "select * from payments_gold.daily_volume_by_method" --project ${opts.dir}`);
        }
        if (summary.runs.failed > 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await server?.close();
        await ctx.close();
      }
    });
}
