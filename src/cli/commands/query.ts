import type { Command } from 'commander';
import { examples, projectOption } from '../options.js';
import { formatTable, formatValue, print, printJson } from '../output.js';

export function registerQuery(program: Command): void {
  const cmd = program
    .command('query')
    .description('read-only SQL over the lake; datasets are tables named <domain>_<zone>.<dataset>')
    .argument('<sql>', 'one SELECT (or WITH ... SELECT) statement');
  projectOption(cmd)
    .option('--json', 'print the rows as a JSON array')
    .action(async (sql: string, opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { openContext }, { runReadOnlyQuery }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../jobs/context.js'),
        import('../../governance/query.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const result = await runReadOnlyQuery(ctx, sql);
        if (opts.json) printJson(result.rows);
        else {
          // Values as they are (no thousands separators: a person may copy an id or an amount); numbers right-aligned.
          const columns = result.columns.map((c) => ({
            key: c.name,
            format: (v: unknown) => (typeof v === 'number' ? String(v) : formatValue(v)),
          }));
          print(formatTable(columns, result.rows));
          print(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`);
        }
      } finally {
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh query "select * from payments_gold.daily_volume_by_method" --project .finmesh-demo',
    'finmesh query "select count(*) n from payments_silver.transactions" --json',
    'finmesh query "select file, bytes, landed_at from partners_landing.settlements"',
  ]);
}
