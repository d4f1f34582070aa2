import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import type { CompactionReport } from '../../lake/compaction.js';
import type { GcReport } from '../../lake/gc.js';
import { examples, projectOption } from '../options.js';
import { formatCount, Progress, plural, print, printJson } from '../output.js';

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

  const compact = lake
    .command('compact')
    .description(
      "merge bronze's small files (a change feed's micro-batches) into files of about lake.compaction.targetBytes, in one commit per merged file: readers see the same rows in fewer files; garbage collection deletes the merged ones",
    )
    .argument('[sources...]', "sources whose bronze to compact (default: every change feed's; a partner-file source only when named)")
    .option('--min-age <duration>', 'leave files committed less than this long ago (default lake.compaction.minAge; 0s: any file)')
    .option('--dry-run', 'report what would be merged; write nothing');
  projectOption(compact)
    .option('--json', 'print the report as JSON')
    .action(async (sources: string[], opts: CompactCliOptions) => {
      const [{ loadProject }, { durationMs }, { openContext }, { compactLake }, { isDuration }, { FinmeshError }, { isChangeFeed }] =
        await Promise.all([
          import('../../config/project-cache.js'),
          import('../../config/schema.js'),
          import('../../jobs/context.js'),
          import('../../lake/compaction.js'),
          import('../../core/duration.js'),
          import('../../core/errors.js'),
          import('../../sources/changefeed/registry.js'),
        ]);
      const project = await loadProject(opts.project);
      const unknown = sources.filter((n) => !project.sources.some((s) => s.name === n));
      if (unknown.length > 0)
        throw new FinmeshError(
          'NOT_FOUND',
          `no source named ${unknown.join(', ')} (sources: ${project.sources.map((s) => s.name).join(', ') || 'none'})`,
        );
      if (opts.minAge !== undefined && !isDuration(opts.minAge))
        throw new FinmeshError('CONFIG_INVALID', `--min-age ${opts.minAge}: expected a duration such as 0s, 30s, 10m or 1h`);
      const c = project.config.lake.compaction;
      const ctx = await openContext(project);
      const progress = new Progress();
      try {
        // A partner file's bronze is a file or a few a day, and a file ingested again after a crash would land beside
        // its merged rows: only when named.
        const picked = sources.length > 0 ? project.sources.filter((s) => sources.includes(s.name)) : project.sources.filter(isChangeFeed);
        const report = await compactLake(ctx, {
          minAgeMs: durationMs(opts.minAge ?? c.minAge),
          minFiles: c.minFiles,
          targetBytes: c.targetBytes,
          datasets: picked.map((s) => s.dataset),
          dryRun: opts.dryRun,
          onProgress: (done, total) => progress.update(`lake compact: ${done} of ${total} merged files written`),
        });
        progress.done();
        if (opts.json) printJson(report);
        else print(summarizeCompaction(report));
      } finally {
        progress.done();
        await ctx.close();
      }
    });
  examples(compact, [
    'finmesh lake compact --dry-run',
    'finmesh lake compact core-transactions --min-age 0s',
    'finmesh lake compact --json',
  ]);
}

interface CompactCliOptions {
  project: string;
  minAge?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A line for the whole, then one per dataset: files before and after, the groups refused. */
function summarizeCompaction(r: CompactionReport): string {
  if (r.skipped) return `lake compact: nothing to do — ${r.skipped}`;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const done = r.groups.filter((g) => r.dryRun || g.key);
  const files = done.reduce((n, g) => n + g.files, 0);
  const lines = [
    `lake compact${r.dryRun ? ' (dry run)' : ''}: ${r.dryRun ? 'would merge' : 'merged'} ${plural(files, 'file')} (${formatCount(done.reduce((n, g) => n + g.rows, 0))} rows, ${mib(done.reduce((n, g) => n + g.bytesBefore, 0))}) into ${formatCount(done.length)}`,
  ];
  for (const d of r.datasets)
    lines.push(
      `  ${d.dataset}: ${plural(d.filesBefore, 'live file')} → ${formatCount(d.filesAfter)}${d.heldBy ? ` (held until ${d.heldBy.join(', ')} first ran: a first run reads every file by name)` : ''}`,
    );
  for (const g of r.groups.filter((x) => x.refused)) lines.push(`  refused (${g.files} files of ${g.dataset}): ${g.refused}`);
  return lines.join('\n');
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
