import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Project } from '../../config/project.js';
import { examples, integer, projectOption } from '../options.js';
import { formatTable, formatValue, print, printJson, say } from '../output.js';

export function registerQuery(program: Command): void {
  const cmd = program
    .command('query')
    .description(
      'read-only SQL over the lake as a persona of governance/access.yaml (masked, filtered, audited); datasets are tables named <domain>_<zone>.<dataset>',
    )
    .argument('<sql>', 'one SELECT (or WITH ... SELECT) statement');
  projectOption(cmd)
    .option('--as <persona>', 'the persona to read as (default: $FINMESH_PERSONA, else cli.persona of the access model)')
    .option('--limit <n>', 'rows at most (0: no limit)', integer, 0)
    .option('--timeout <ms>', 'cancel the query after this many milliseconds (0: never)', integer, 0)
    .option('--json', 'print the rows as a JSON array')
    .action(async (sql: string, opts: { project: string; as?: string; limit: number; timeout: number; json?: boolean }) => {
      const [{ loadProject }, { openContext }, { FinmeshError }, { ACCESS_FILE }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../jobs/context.js'),
        import('../../core/errors.js'),
        import('../../config/access-names.js'),
      ]);
      const project = await loadProject(opts.project);
      // `engineReadsLake` (lake/session.ts), before anything opens: the embedded DuckDB reads a local lake only.
      if (project.config.lake.kind !== 'local')
        throw new FinmeshError(
          'CONFIG_INVALID',
          `target "${project.target}": finmesh query reads the lake with the embedded DuckDB, which cannot read a ${project.config.lake.kind} lake's objects; query the products where the target builds them (BigQuery)`,
        );
      // The enforcement modules load while DuckDB starts its instance on its own thread (the main thread waits there).
      const enforcement = project.access
        ? Promise.all([import('../../governance/enforcement.js'), import('../../engine/engine.js')])
        : undefined;
      enforcement?.catch(() => undefined); // awaited below; a failure to open the context must not leave it unhandled
      const ctx = await openContext(project, { readonly: true });
      try {
        let result: { columns: { name: string }[]; rows: Record<string, unknown>[]; truncated?: boolean };
        if (project.access && enforcement) {
          const [{ Enforcer }, { borrowed }] = await enforcement;
          // One persona, one statement: the session reads through the context's engine (one DuckDB instance a process).
          const enforcer = await Enforcer.open(ctx, async () => borrowed(ctx.engine), project, { catalog: 'as-read' });
          try {
            const persona = cliPersona(project, opts.as);
            if (!persona) {
              throw new FinmeshError(
                'CONFIG_INVALID',
                `choose a persona with --as (${Object.keys(project.access.personas).join(', ')}), or set cli.persona in ${ACCESS_FILE}`,
              );
            }
            result = await enforcer.query({ persona, principal: `cli:${safeUser()}`, via: 'cli' }, sql, {
              rowLimit: opts.limit,
              timeoutMs: opts.timeout,
            });
          } finally {
            await enforcer.close();
          }
        } else {
          if (opts.as) throw new FinmeshError('CONFIG_INVALID', `--as needs personas, and the project has no ${ACCESS_FILE}`);
          const { runReadOnlyQuery } = await import('../../governance/query.js');
          result = await runReadOnlyQuery(ctx, sql);
        }
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
        if (result.truncated) say(`(cut at --limit ${opts.limit}: more rows matched)`);
      } finally {
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh query "select * from payments_gold.daily_volume_by_method" --project .finmesh-demo',
    'finmesh query --as payments-analyst "select card_pan_masked, amount from payments_silver.transactions limit 5"',
    'finmesh query "select count(*) n from payments_silver.transactions" --json',
    'finmesh query "select file, bytes, landed_at from partners_landing.settlements"',
  ]);
}

/** `--as`, else $FINMESH_PERSONA, else the access model's `cli.persona`. */
function cliPersona(project: Project, as: string | undefined): string | undefined {
  return as ?? process.env.FINMESH_PERSONA ?? project.access?.cli.persona;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
