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
    const st = parsed.error.statement;
    const found = st
      ? st.count > 1
        ? `statement ${st.index} of ${st.count} is ${st.verb}`
        : `found ${st.verb}`
      : `found ${/^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'a statement that is not a SELECT'}`;
    throw new FinmeshError('PERMISSION', `finmesh query is read-only: it runs one SELECT (or WITH ... SELECT); ${found}`);
  }
  if (parsed.statements.length !== 1) {
    throw new FinmeshError('QUERY_INVALID', `expected exactly one statement, found ${parsed.statements.length}`);
  }
}
