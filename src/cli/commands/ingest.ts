import type { Command } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { FinmeshError } from '../../core/errors.js';
import { Metrics } from '../../observability/metrics.js';
import { openContext } from '../../pipelines/context.js';
import { ingestSftpSource } from '../../pipelines/ingest-files.js';
import { prepareSession } from '../../pipelines/lake-session.js';
import { printJson, say } from '../output.js';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'one ingestion cycle of a file source (SFTP): complete files only, verified, deduplicated by content, landed unchanged, parsed to bronze',
    )
    .argument('<source>', 'the source name')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const source = project.sources.find((s) => s.name === name);
      if (!source) throw new FinmeshError('NOT_FOUND', `no source "${name}" (sources: ${project.sources.map((s) => s.name).join(', ')})`);
      const ctx = await openContext(project);
      try {
        await prepareSession(ctx);
        const report = await ingestSftpSource(ctx, source, { metrics: new Metrics({ processMetrics: false }) });
        if (opts.json) printJson(report);
        else {
          const f = report.files;
          say(
            `${name}: ${f.seen} files seen, ${f.ingested} ingested (${f.changed} changed), ${f.duplicate} duplicate, ${f.quarantined} quarantined, ${f.incomplete} not complete yet; rows: ${report.rows.accepted} accepted, ${report.rows.rejected} rejected`,
          );
          for (const d of report.details.filter((x) => x.reason)) say(`  ${d.outcome.padEnd(11)} ${d.path}: ${d.reason}`);
        }
      } finally {
        await ctx.close();
      }
    });
}
