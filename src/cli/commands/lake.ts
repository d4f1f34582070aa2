import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { GcReport } from '../../lake/gc.js';
import { examples, projectOption } from '../options.js';
import { formatCount, print, printJson } from '../output.js';

interface GcCliOptions {
  project: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerLake(program: Command): void {
  const lake = program.command('lake').description("maintenance of the lake's files");
  const gc = lake
    .command('gc')
    .description(
      'delete replaced files no reader uses any more (after lake.gc.grace), abandoned staging folders, and old files the manifest does not know',
    )
    .option('--dry-run', 'report what would be deleted; delete nothing');
  projectOption(gc)
    .option('--json', 'print the report as JSON')
    .action(async (opts: GcCliOptions) => {
      const [{ loadProject }, { durationMs }, { openContext }, { collectGarbage, DEFAULT_ORPHAN_MIN_AGE_MS, DEFAULT_STAGING_MAX_AGE_MS }] =
        await Promise.all([
          import('../../config/project-cache.js'),
          import('../../config/schema.js'),
          import('../../jobs/context.js'),
          import('../../lake/gc.js'),
        ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project);
      try {
        const report = await collectGarbage(ctx, { graceMs: durationMs(project.config.lake.gc.grace), dryRun: opts.dryRun });
        if (opts.json) printJson(report);
        else print(summarize(report, { stagingMaxAgeMs: DEFAULT_STAGING_MAX_AGE_MS, orphanMinAgeMs: DEFAULT_ORPHAN_MIN_AGE_MS }));
      } finally {
        await ctx.close();
      }
    });
  examples(gc, ['finmesh lake gc --dry-run', 'finmesh lake gc --json']);
}

/** A few lines: what was deleted, what was kept and why, staging folders and orphans. */
function summarize(r: GcReport, d: { stagingMaxAgeMs: number; orphanMinAgeMs: number }): string {
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const files = (n: number) => `${formatCount(n)} file${n === 1 ? '' : 's'}`;
  const n = r.deleted.length;
  const lines = [
    `lake gc${r.dryRun ? ' (dry run)' : ''}: ${r.dryRun ? 'would delete' : 'deleted'} ${formatCount(n)} replaced file${n === 1 ? '' : 's'}, ${mib(r.bytesFreed)} ${r.dryRun ? 'to free' : 'freed'}; kept ${formatCount(r.kept.length)}`,
  ];
  const byReader = new Map<string, number>();
  for (const k of r.kept.filter((x) => x.reason === 'reader')) for (const p of k.readers) byReader.set(p, (byReader.get(p) ?? 0) + 1);
  for (const [reader, n] of byReader) lines.push(`  kept ${files(n)}: still in the view of a live reader (${reader})`);
  const graced = r.kept.filter((x) => x.reason === 'grace').length;
  if (graced > 0) lines.push(`  kept ${files(graced)}: replaced less than lake.gc.grace (${formatDuration(r.graceMs)}) ago`);
  const staging = r.staging.filter((s) => s.removed).length;
  if (r.staging.length > 0)
    lines.push(
      `staging: ${r.dryRun ? 'would remove' : 'removed'} ${staging} of ${r.staging.length} folders (abandoned over ${formatDuration(d.stagingMaxAgeMs)} ago)`,
    );
  if (r.orphans.length > 0) {
    const gone = r.orphans.filter((o) => o.deleted).length;
    lines.push(
      `orphans: ${files(r.orphans.length)} the manifest does not know; ${r.dryRun ? 'would delete' : 'deleted'} ${gone} (older than ${formatDuration(Math.max(r.graceMs, d.orphanMinAgeMs))})`,
    );
    for (const o of r.orphans.filter((x) => !x.deleted).slice(0, 5)) lines.push(`  kept ${o.key} (written ${o.mtime.toISOString()})`);
  }
  if (r.readers.expired.length > 0)
    lines.push(`readers: ${r.readers.expired.length} stopped heartbeating${r.dryRun ? '' : ' and were unregistered'}; they hold no file`);
  return lines.join('\n');
}
