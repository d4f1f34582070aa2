import type { Command } from 'commander';
import type { Source } from '../../config/project.js';
import type { IngestReport } from '../../jobs/ingest.js';
import type { FileSourceSpec } from '../../sources/files/file-source-kinds.js';
import { failuresFound } from '../exit-codes.js';
import { examples, integer, projectOption } from '../options.js';
import { formatCount, print, printable, printJson, say } from '../output.js';
import { handleStopSignals } from '../signals.js';

export function registerIngest(program: Command): void {
  const cmd = program
    .command('ingest')
    .description(
      'ingest file sources (SFTP): complete files only, verified, deduplicated by content, landed unchanged, parsed to bronze; once, or polling with --watch',
    )
    .argument('[sources...]', 'source names (default: every file source of the project)');
  projectOption(cmd)
    .option('--json', 'print each report as JSON (one line per cycle with --watch)')
    .option('--watch', 'keep polling, each source on its own `pollEvery`, until interrupted')
    .option('--every <duration>', 'with --watch, poll every source this often instead (30s, 5m, 1h)')
    .option('--port <n>', 'with --watch, serve /healthz and /metrics on this port (0: any free port)', integer)
    .action(async (names: string[], opts: { project: string; json?: boolean; watch?: boolean; every?: string; port?: number }) => {
      const [
        { loadProject },
        { duration, durationMs },
        { FinmeshError },
        { openContext },
        { ingestFileSource, watchFileSources },
        { prepareSession },
        { Metrics },
        { startServer },
        { isFileSource },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../config/schema.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../jobs/ingest.js'),
        import('../../lake/session.js'),
        import('../../observability/metrics.js'),
        import('../../server/server.js'),
        import('../../sources/files/file-source-kinds.js'),
      ]);
      const pick = (all: Source[], fileSources: FileSourceSpec[], name: string): FileSourceSpec => {
        const s = all.find((x) => x.name === name);
        if (!s)
          throw new FinmeshError('NOT_FOUND', `no source "${name}" (file sources: ${fileSources.map((x) => x.name).join(', ') || 'none'})`);
        if (!isFileSource(s))
          throw new FinmeshError(
            'CONFIG_INVALID',
            `${s.file}: ${name} is a ${s.config.kind} source; \`finmesh ingest\` reads file sources (the stream reads change feeds)`,
          );
        return s;
      };
      const project = await loadProject(opts.project);
      const fileSources = project.sources.filter(isFileSource);
      const sources = names.length === 0 ? fileSources : names.map((n) => pick(project.sources, fileSources, n));
      if (sources.length === 0) throw new FinmeshError('NOT_FOUND', `${opts.project}: the project has no file (SFTP) sources`);
      if (opts.every !== undefined && !duration.safeParse(opts.every).success)
        throw new FinmeshError('CONFIG_INVALID', `--every: expected a duration such as 30s, 5m or 1h, found "${opts.every}"`);
      const metrics = new Metrics({ processMetrics: opts.watch === true && opts.port !== undefined });
      const ctx = await openContext(project, { metrics });
      const abort = new AbortController();
      const release = handleStopSignals('ingest', () => abort.abort(), 30_000);
      try {
        await prepareSession(ctx);
        if (!opts.watch) {
          const reports: IngestReport[] = [];
          for (const s of sources) if (!abort.signal.aborted) reports.push(await ingestFileSource(ctx, s, { signal: abort.signal }));
          if (opts.json) printJson(reports.length === 1 ? reports[0] : reports);
          else for (const r of reports) printReport(r);
          if (reports.some((r) => r.files.failed > 0)) failuresFound();
          return;
        }
        const server =
          opts.port !== undefined ? await startServer({ host: project.config.server.host, port: opts.port, metrics }) : undefined;
        if (server) say(`metrics ${server.url}/metrics`);
        const every = opts.every;
        const watched = every ? sources.map((s) => ({ ...s, config: { ...s.config, pollEvery: every } })) : sources;
        say(`watching ${watched.map((s) => `${s.name} (every ${s.config.pollEvery})`).join(', ')}; Ctrl-C stops after the running cycle`);
        try {
          await watchFileSources(ctx, watched, {
            signal: abort.signal,
            onReport: (r) => {
              if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
              else printReport(r, new Date());
            },
            onError: (s, e) => {
              const next = isFileSource(s) ? durationMs(s.config.pollEvery) / 1000 : 0;
              say(
                `${new Date().toISOString()} ${s.name}: cycle failed, next attempt in ${next} s: ${e instanceof Error ? e.message : String(e)}`,
              );
            },
          });
        } finally {
          await server?.close();
        }
      } finally {
        release();
        await ctx.close();
      }
    });
  examples(cmd, ['finmesh ingest', 'finmesh ingest acquirer-settlements --json', 'finmesh ingest --watch --every 5m --port 9464']);
}

function printReport(report: IngestReport, at?: Date): void {
  const f = report.files;
  print(
    `${at ? `${at.toISOString()} ` : ''}${report.source}: ${f.seen} files seen, ${f.ingested} ingested (${f.changed} changed, ${f.appended} appended), ${f.duplicate} duplicate, ${f.quarantined} quarantined, ${f.incomplete} not complete yet, ${f.refused} refused, ${f.failed} failed; rows: ${formatCount(report.rows.accepted)} accepted, ${formatCount(report.rows.rejected)} rejected`,
  );
  for (const d of report.details.filter((x) => x.warning)) print(printable(`  warning     ${d.path}: ${d.warning}`));
  for (const d of report.details.filter((x) => x.reason)) {
    const reason = d.reason?.startsWith(`${d.path}: `) ? d.reason.slice(d.path.length + 2) : d.reason;
    print(printable(`  ${d.outcome.padEnd(11)} ${d.path}: ${reason}`));
  }
}
