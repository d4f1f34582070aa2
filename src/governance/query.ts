import { FinmeshError } from '../core/errors.js';
import type { QueryResult } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { prepareSession } from '../lake/session.js';

/**
 * Runs a user's SQL over the lake, read-only twice over: the statement must parse as exactly one SELECT, and the
 * engine is sandboxed to reading the lake's folders with its configuration locked.
 */
export async function runReadOnlyQuery(ctx: Context, sql: string): Promise<QueryResult> {
  await prepareSession(ctx);
  await assertReadOnly(ctx, sql);
  await ctx.engine.sandbox(ctx.storage.readableRoots());
  return ctx.engine.query(sql);
}

async function assertReadOnly(ctx: Context, sql: string): Promise<void> {
  const parsed = await ctx.engine.parse(sql);
  if (parsed.error) {
    if (parsed.error.kind === 'syntax') throw new FinmeshError('QUERY_INVALID', `the query does not parse: ${parsed.error.message}`);
    const verb = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'this statement';
    throw new FinmeshError('PERMISSION', `finmesh query is read-only: only SELECT (or WITH ... SELECT) is allowed, found ${verb}`);
  }
  if (parsed.statements.length !== 1) {
    throw new FinmeshError('QUERY_INVALID', `expected exactly one statement, found ${parsed.statements.length}`);
  }
}
