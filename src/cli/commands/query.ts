import type { Command } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { runReadOnlyQuery } from '../../governance/query.js';
import { openContext } from '../../jobs/context.js';
import { formatTable, printJson } from '../output.js';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('read-only SQL over the lake; datasets are tables named <domain>_<zone>.<dataset>')
    .argument('<sql>', 'one SELECT (or WITH ... SELECT) statement')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the rows as a JSON array')
    .action(async (sql: string, opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const result = await runReadOnlyQuery(ctx, sql);
        if (opts.json) printJson(result.rows);
        else
          process.stdout.write(
            `${formatTable(
              result.columns.map((c) => c.name),
              result.rows,
            )}\n(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})\n`,
          );
      } finally {
        await ctx.close();
      }
    });
}
