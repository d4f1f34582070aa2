import { FinmeshError } from '../core/errors.js';
import type { ParsedSql, QueryResult } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { engineReadsLake, prepareSession } from '../lake/session.js';
import { refusedStatement } from './sql-guard.js';

/**
 * Runs a user's SQL over the lake, read-only twice over: the statement must parse as exactly one SELECT, and the
 * engine is sandboxed to reading the lake's folders with its configuration locked.
 */
export async function runReadOnlyQuery(ctx: Context, sql: string): Promise<QueryResult> {
  if (!engineReadsLake(ctx))
    throw new FinmeshError(
      'CONFIG_INVALID',
      `target "${ctx.project.target}": finmesh query reads the lake with the embedded DuckDB, which cannot read a ${ctx.project.config.lake.kind} lake's objects; query the products where the target builds them (BigQuery)`,
    );
  const parsed = await assertReadOnly(ctx, sql);
  // Only the datasets the query names are defined (parsing needs none of them).
  await prepareSession(ctx, { only: tablesOf(parsed.statements[0]?.ast) });
  await ctx.engine.sandbox(ctx.storage.readableRoots());
  return ctx.engine.query(sql);
}

/** The schema-qualified tables a statement reads (`payments_silver.transactions`), from its syntax tree. */
function tablesOf(ast: unknown): string[] {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) for (const x of n) walk(x);
    else if (n && typeof n === 'object') {
      const t = n as { type?: unknown; schema_name?: unknown; table_name?: unknown };
      if (t.type === 'BASE_TABLE' && typeof t.schema_name === 'string' && t.schema_name && typeof t.table_name === 'string')
        out.push(`${t.schema_name}.${t.table_name}`);
      for (const v of Object.values(n)) walk(v);
    }
  };
  walk(ast);
  return out;
}

async function assertReadOnly(ctx: Context, sql: string): Promise<ParsedSql> {
  const parsed = await ctx.engine.parse(sql);
  if (parsed.error) {
    if (parsed.error.kind === 'syntax') throw new FinmeshError('QUERY_INVALID', `the query does not parse: ${parsed.error.message}`);
    const found = refusedStatement(sql, parsed.error);
    throw new FinmeshError('PERMISSION', `finmesh query is read-only: it runs one SELECT (or WITH ... SELECT); ${found}`);
  }
  if (parsed.statements.length !== 1) {
    throw new FinmeshError('QUERY_INVALID', `expected exactly one statement, found ${parsed.statements.length}`);
  }
  return parsed;
}
