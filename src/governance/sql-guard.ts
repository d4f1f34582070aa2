import { FinmeshError } from '../core/errors.js';
import type { ParsedSql } from '../engine/engine.js';

/** Schemas of the engine's own catalog (what BI tools query on connect); they list only what the session holds. */
export const CATALOG_SCHEMAS = ['pg_catalog', 'information_schema'] as const;

export interface GuardContext {
  /** Datasets the persona may read, by SQL name. */
  readable: ReadonlySet<string>;
  /** Why the persona may not read a dataset of the project (the missing grant); undefined for an unknown name. */
  denial: (dataset: string) => string | undefined;
  /** Columns the persona may not see, per readable dataset, with why. */
  deniedColumns: (dataset: string) => Map<string, string>;
  /** Names of every dataset the project has, for the message about an unknown one. */
  known: () => string[];
}

/**
 * Checks a parsed SELECT (DuckDB's serialised AST) before it runs in a persona's session:
 * - every table it names is a dataset the persona may read, a CTE of the query, or the engine's catalog
 *   (`pg_catalog`, `information_schema`); a dataset without a grant is `PERMISSION` naming the grant missing;
 * - no table function (`read_parquet`, `read_csv`, `query`…) and no file name as a table: data is read by name only;
 * - no column the persona may not see is referenced by name (`SELECT *` simply does not return it).
 * Returns the datasets the query reads, and whether it reads the engine's catalog (a catalog schema, or a name
 * without a schema that is not one of its CTEs).
 */
export function guardSelect(ast: unknown, g: GuardContext): { datasets: string[]; readsCatalog: boolean } {
  const ctes = new Set<string>();
  const unqualified = new Set<string>();
  let readsCatalog = false;
  const datasets = new Set<string>();
  const columns: string[][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const n = v as Record<string, unknown>;
    const map = (n.cte_map as { map?: { key: string }[] } | undefined)?.map;
    if (Array.isArray(map)) for (const e of map) ctes.add(String(e.key));
    if (n.type === 'TABLE_FUNCTION') {
      const fn = (n.function as { function_name?: string } | undefined)?.function_name ?? 'a table function';
      throw new FinmeshError(
        'PERMISSION',
        `may not call ${fn}(): governed queries read datasets by name (<domain>_<zone>.<dataset>), never files or table functions`,
      );
    }
    if (n.type === 'BASE_TABLE') table(n);
    if (n.class === 'COLUMN_REF' && Array.isArray(n.column_names)) columns.push(n.column_names.map(String));
    for (const child of Object.values(n)) walk(child);
  };
  const table = (n: Record<string, unknown>) => {
    const catalog = String(n.catalog_name ?? '');
    const schema = String(n.schema_name ?? '');
    const name = String(n.table_name ?? '');
    if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) {
      throw new FinmeshError(
        'PERMISSION',
        `may not read "${name}": governed queries read datasets by name (<domain>_<zone>.<dataset>), never files`,
      );
    }
    if (catalog && !['memory', 'system', 'temp'].includes(catalog)) {
      throw new FinmeshError('NOT_FOUND', `no catalog "${catalog}": datasets are named <domain>_<zone>.<dataset>`);
    }
    if ((CATALOG_SCHEMAS as readonly string[]).includes(schema) || schema === 'main') {
      readsCatalog = true;
      return;
    }
    if (!schema) {
      // A CTE, or the engine's catalog found on the search path (pg_class, tables); a dataset always has a schema.
      unqualified.add(name);
      return;
    }
    const dataset = `${schema}.${name}`;
    if (g.readable.has(dataset)) {
      datasets.add(dataset);
      return;
    }
    const why = g.denial(dataset);
    if (why) throw new FinmeshError('PERMISSION', `may not read ${dataset}: ${why}`);
    throw new FinmeshError('NOT_FOUND', `no dataset ${dataset} (datasets: ${g.known().join(', ')})`);
  };
  walk(ast);
  for (const names of columns) {
    for (const d of datasets) {
      const denied = g.deniedColumns(d);
      // `t.col`, `col`, `struct_col.field`, `t.struct_col.field`: any part may be the dataset's column.
      for (const part of names) {
        const why = denied.get(part);
        if (why && !ctes.has(part)) throw new FinmeshError('PERMISSION', `may not read ${d}.${part}: ${why}`);
      }
    }
  }
  for (const name of unqualified) if (!ctes.has(name)) readsCatalog = true;
  return { datasets: [...datasets].sort(), readsCatalog };
}

/**
 * What makes a statement list something other than one read, for the refusal's message: `statement 2 of 2 is CREATE`
 * when several statements were sent, `found CREATE` for one.
 */
export function refusedStatement(sql: string, error: NonNullable<ParsedSql['error']>): string {
  const st = error.statement;
  if (st) return st.count > 1 ? `statement ${st.index} of ${st.count} is ${st.verb}` : `found ${st.verb}`;
  return `found ${/^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'a statement that is not a SELECT'}`;
}
