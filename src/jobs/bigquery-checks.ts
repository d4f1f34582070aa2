import { type Product, sqlName } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import type { BigQueryWarehouse, WarehouseField } from '../engine/bigquery/bigquery-warehouse.js';
import { googleType, quoteIdent, translateSelect } from '../engine/bigquery/googlesql.js';
import { googleSqlDialect } from '../engine/bigquery/googlesql-dialect.js';
import { duckDbDialect } from '../engine/duckdb/duckdb-dialect.js';
import { type CompiledCheck, checkSql } from '../mesh/checks.js';
import { bigQueryTable } from './bigquery-models.js';
import type { CheckSource } from './check.js';
import type { Context } from './context.js';

/**
 * A product's checks run in BigQuery, on the table finmesh published there: the same rules as locally, fused into one
 * scan the same way, compiled to GoogleSQL (`GoogleSqlDialect`); a contract's `sql` rule, written in finmesh's SQL, is
 * translated from DuckDB's parse tree as models are, and one with no translation is that check's error.
 */
export function bigQueryCheckSource(ctx: Context, product: Product, wh: BigQueryWarehouse): CheckSource {
  const { projectId } = wh.options;
  const [dataset, table] = sqlName(product.dataset).split('.') as [string, string];
  const relation = bigQueryTable(projectId, product.dataset);
  const meta = () => wh.table(dataset, table);
  return {
    dialect: googleSqlDialect,
    relation,
    query: async (sql, check) => {
      const text =
        check?.measure.kind === 'sql' ? await translateRule(ctx, product, check, projectId) : sql.replaceAll('{object}', relation);
      return (await wh.run(text)).rows.map(plainRow);
    },
    columns: async () => (await meta())?.fields.map((f) => ({ name: f.name, type: fieldType(f) })),
    updatedAt: async () => (await meta())?.lastModified,
    sameType: sameBigQueryType,
    dataset: { namespace: 'bigquery', name: `${projectId}.${sqlName(product.dataset)}` },
  };
}

/** A contract's `sql` rule (finmesh's SQL over `{object}`) as GoogleSQL over the product's BigQuery table. */
async function translateRule(ctx: Context, product: Product, check: CompiledCheck, projectId: string): Promise<string> {
  const sql = checkSql(check, duckDbDialect).replaceAll('{object}', sqlName(product.dataset));
  const parsed = await ctx.engine.parse(sql);
  const where = `${product.contractFile}: quality rule ${check.id}`;
  const ast = parsed.statements[0]?.ast;
  if (parsed.error || parsed.statements.length !== 1 || !ast)
    throw new FinmeshError(
      'CONFIG_INVALID',
      `${where}: expected one query, found ${parsed.error?.message ?? `${parsed.statements.length} statements`}`,
    );
  const t = translateSelect(sql, ast, {
    table: (schema, name) => quoteIdent(`${projectId}.${schema}.${name}`),
    tokenizationKey: ctx.tokenizationKey,
  });
  if ('construct' in t) throw new FinmeshError('CONFIG_INVALID', `${where}: no GoogleSQL translation for ${t.construct}`);
  return t.sql;
}

/** A row from the BigQuery client with its wrapped values (dates, timestamps: `{ value }`) unwrapped. */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row))
    out[k] = v !== null && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
  return out;
}

const LEGACY: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', RECORD: 'STRUCT' };

/** A column's GoogleSQL type from its schema field: `NUMERIC(18, 2)`, `ARRAY<STRING>`, `STRUCT<…>`. */
export function fieldType(f: WarehouseField): string {
  const base = LEGACY[f.type] ?? f.type;
  let t =
    base === 'STRUCT'
      ? `STRUCT<${(f.fields ?? []).map((x) => `${quoteIdent(x.name)} ${fieldType(x)}`).join(', ')}>`
      : f.precision !== undefined
        ? `${base}(${f.precision}, ${f.scale ?? 0})`
        : base;
  if (f.mode === 'REPEATED') t = `ARRAY<${t}>`;
  return t;
}

/**
 * Whether a BigQuery column holds the contract's type: its GoogleSQL type, with precision and scale compared only
 * when the table keeps them (a query's result column is plain `NUMERIC`).
 */
export function sameBigQueryType(contractType: string, actual: string): boolean {
  let expected: string;
  try {
    expected = googleType(contractType);
  } catch {
    return false;
  }
  const norm = (t: string) => t.toUpperCase().replace(/\s+/g, '');
  if (/\(/.test(actual)) return norm(expected) === norm(actual);
  return norm(expected).replace(/\(.*\)$/, '') === norm(actual);
}
