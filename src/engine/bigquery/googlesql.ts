import { hmacPads } from '../../core/hmac.js';

/**
 * Renders finmesh SQL (DuckDB's dialect), parsed by DuckDB's own parser (`json_serialize_sql`), as GoogleSQL.
 * Translation is from the syntax tree, never from the text: what the tree holds and this file does not know is
 * refused as an `Untranslatable` construct with its place in the model, never passed through hoping it works.
 *
 * Where the dialects differ in meaning, the GoogleSQL keeps DuckDB's meaning: NULLs sort last in both directions
 * (BigQuery sorts them first ascending), aggregate `FILTER (WHERE …)` becomes `COUNTIF`/`IF(…)`, `first(x ORDER BY …)`
 * keeps a NULL first value, a select-list alias reused later in the same list is inlined, and `GROUP BY ALL` becomes
 * the ordinals of the non-aggregate items.
 */

/** A construct with no GoogleSQL rendering, at `offset` (a character offset in the SQL parsed). */
export class Untranslatable extends Error {
  constructor(
    readonly construct: string,
    readonly offset: number | undefined,
  ) {
    super(`no GoogleSQL translation for ${construct}`);
    this.name = 'Untranslatable';
  }
}

export interface TranslateOptions {
  /**
   * The BigQuery table a `schema.table` name reads (`project.payments_silver.transactions`), or undefined to leave a
   * one-part name alone (a CTE).
   */
  table(schema: string, name: string): string;
  /** The tokenisation key (`tokenize()`); without it `tokenize()` is refused. */
  tokenizationKey?: string | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the DuckDB syntax tree is walked as untyped JSON.
type Node = any;

const AGGREGATES = new Set([
  'count',
  'count_star',
  'sum',
  'avg',
  'mean',
  'min',
  'max',
  'first',
  'any_value',
  'arbitrary',
  'bool_and',
  'bool_or',
  'string_agg',
  'stddev',
  'stddev_samp',
  'stddev_pop',
  'variance',
  'var_samp',
  'var_pop',
  'approx_count_distinct',
]);

/** DuckDB functions whose GoogleSQL name differs only in spelling (same arguments, same meaning). */
const RENAMED: Record<string, string> = {
  mean: 'AVG',
  arbitrary: 'ANY_VALUE',
  bool_and: 'LOGICAL_AND',
  bool_or: 'LOGICAL_OR',
  stddev: 'STDDEV_SAMP',
  variance: 'VAR_SAMP',
  approx_count_distinct: 'APPROX_COUNT_DISTINCT',
  len: 'LENGTH',
  strlen: 'LENGTH',
  ucase: 'UPPER',
  lcase: 'LOWER',
  substring: 'SUBSTR',
  ceiling: 'CEIL',
  ln: 'LN',
  pow: 'POW',
  power: 'POWER',
  string_agg: 'STRING_AGG',
  regexp_matches: 'REGEXP_CONTAINS',
  starts_with: 'STARTS_WITH',
  ends_with: 'ENDS_WITH',
};
/** Functions spelt the same in both dialects. */
const SAME = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'any_value',
  'stddev_samp',
  'stddev_pop',
  'var_samp',
  'var_pop',
  'abs',
  'round',
  'floor',
  'ceil',
  'sqrt',
  'exp',
  'sign',
  'lower',
  'upper',
  'length',
  'trim',
  'ltrim',
  'rtrim',
  'replace',
  'substr',
  'concat',
  'left',
  'right',
  'lpad',
  'rpad',
  'reverse',
  'greatest',
  'least',
  'nullif',
  'ifnull',
  'md5',
  'sha256',
]);
const DATE_PARTS = new Set(['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute', 'second', 'dayofweek', 'dayofyear']);
const TRUNC_UNITS = new Set(['microsecond', 'millisecond', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year']);

const COMPARISONS: Record<string, string> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '!=',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
  COMPARE_DISTINCT_FROM: 'IS DISTINCT FROM',
  COMPARE_NOT_DISTINCT_FROM: 'IS NOT DISTINCT FROM',
};
const OPERATORS: Record<string, string> = { '+': '+', '-': '-', '*': '*', '/': '/', '||': '||', '~~': 'LIKE', '!~~': 'NOT LIKE' };
const WINDOW_FUNCTIONS: Record<string, string> = {
  WINDOW_ROW_NUMBER: 'ROW_NUMBER',
  WINDOW_RANK: 'RANK',
  WINDOW_RANK_DENSE: 'DENSE_RANK',
  WINDOW_PERCENT_RANK: 'PERCENT_RANK',
  WINDOW_CUME_DIST: 'CUME_DIST',
  WINDOW_NTILE: 'NTILE',
  WINDOW_LAG: 'LAG',
  WINDOW_LEAD: 'LEAD',
  WINDOW_FIRST_VALUE: 'FIRST_VALUE',
  WINDOW_LAST_VALUE: 'LAST_VALUE',
  WINDOW_NTH_VALUE: 'NTH_VALUE',
};
/** A range frame's interval, as DuckDB's parser spells `INTERVAL n unit`, in microseconds per unit. */
const INTERVAL_MICROS: Record<string, number> = {
  to_microseconds: 1,
  to_milliseconds: 1_000,
  to_seconds: 1_000_000,
  to_minutes: 60_000_000,
  to_hours: 3_600_000_000,
  to_days: 86_400_000_000,
};

/** One SELECT statement's syntax tree (as `json_serialize_sql` gives it) as GoogleSQL. Throws `Untranslatable`. */
export function toGoogleSql(ast: Node, options: TranslateOptions): string {
  return new Renderer(options).query(ast);
}

/** A character offset in `sql` as a 1-based line number. */
export function lineAt(sql: string, offset: number | undefined): number | undefined {
  if (offset === undefined || offset < 0 || offset > sql.length) return undefined;
  return sql.slice(0, offset).split('\n').length;
}

/** A backtick-quoted GoogleSQL identifier. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** A GoogleSQL string literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/** A DuckDB type (as the syntax tree holds it, or by name) as a GoogleSQL type. */
export function googleType(t: { id: string; type_info?: Node } | string): string {
  if (typeof t === 'string') {
    const text = t.trim();
    if (text.endsWith('[]')) return `ARRAY<${googleType(text.slice(0, -2))}>`;
    const struct = /^STRUCT\((.*)\)$/is.exec(text);
    if (struct)
      return `STRUCT<${splitTopLevel(struct[1] ?? '')
        .map((f) => structField(f))
        .join(', ')}>`;
  }
  const id = typeof t === 'string' ? t.toUpperCase().replace(/\(.*$/, '').trim() : t.id;
  switch (id) {
    case 'VARCHAR':
    case 'TEXT':
    case 'STRING':
    case 'CHAR':
    case 'UUID':
      return 'STRING';
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'INT':
    case 'BIGINT':
    case 'UTINYINT':
    case 'USMALLINT':
    case 'UINTEGER':
      return 'INT64';
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
      return 'FLOAT64';
    case 'BOOLEAN':
    case 'BOOL':
      return 'BOOL';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'TIMESTAMP':
      return 'DATETIME';
    case 'TIMESTAMPTZ':
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMP_TZ':
      return 'TIMESTAMP';
    case 'BLOB':
      return 'BYTES';
    case 'JSON':
      return 'JSON';
    case 'INTERVAL':
      return 'INTERVAL';
    case 'DECIMAL':
    case 'NUMERIC': {
      let width = 18;
      let scale = 3;
      if (typeof t === 'string') {
        const m = /\((\d+)\s*(?:,\s*(\d+))?\)/.exec(t);
        if (m) {
          width = Number(m[1]);
          scale = Number(m[2] ?? 0);
        }
      } else if (t.type_info) {
        width = t.type_info.width;
        scale = t.type_info.scale;
      }
      // NUMERIC holds 29 digits before the point and 9 after; past that only BIGNUMERIC does.
      return width - scale <= 29 && scale <= 9 ? `NUMERIC(${width}, ${scale})` : `BIGNUMERIC(${width}, ${scale})`;
    }
    default:
      throw new Untranslatable(`the type ${typeof t === 'string' ? t : t.id}`, undefined);
  }
}

class Renderer {
  /** Aliases of the select list being rendered, to inline a reuse of one later in the same list. */
  private aliases: Map<string, Node> | undefined;
  private location: number | undefined;
  constructor(private readonly options: TranslateOptions) {}

  private refuse(construct: string, node?: Node): never {
    throw new Untranslatable(construct, this.at(node));
  }

  /** Where `node` starts: its own offset, else the first one inside it (DuckDB leaves some operators without). */
  private at(node: Node): number | undefined {
    return firstLocation(node) ?? this.location;
  }

  query(node: Node): string {
    const ctes = node.cte_map?.map ?? [];
    const withClause =
      ctes.length > 0
        ? `WITH ${ctes
            .map((c: Node) => {
              if ((c.value.aliases ?? []).length > 0) this.refuse(`column aliases on the CTE ${c.key}`, c.value.query.node);
              return `${quoteIdent(c.key)} AS (\n${this.query(c.value.query.node)}\n)`;
            })
            .join(',\n')}\n`
        : '';
    let body: string;
    if (node.type === 'SELECT_NODE') body = this.select(node);
    else if (node.type === 'SET_OPERATION_NODE') body = this.setOperation(node);
    else this.refuse(`a ${String(node.type).toLowerCase().replace(/_/g, ' ')}`, node);
    return `${withClause}${body}${this.modifiers(node)}`;
  }

  private setOperation(node: Node): string {
    const op = node.setop_type;
    const all = node.setop_all === true;
    let keyword: string;
    if (op === 'UNION') keyword = all ? 'UNION ALL' : 'UNION DISTINCT';
    else if (op === 'EXCEPT' && !all) keyword = 'EXCEPT DISTINCT';
    else if (op === 'INTERSECT' && !all) keyword = 'INTERSECT DISTINCT';
    else this.refuse(`${String(op).replace(/_/g, ' ')}${all ? ' ALL' : ''}`, node);
    const children = node.children ?? [node.left, node.right];
    return children.map((c: Node) => `(${this.query(c)})`).join(`\n${keyword}\n`);
  }

  private modifiers(node: Node): string {
    let out = '';
    for (const m of node.modifiers ?? []) {
      if (m.type === 'ORDER_MODIFIER') out += `\nORDER BY ${m.orders.map((o: Node) => this.order(o)).join(', ')}`;
      else if (m.type === 'LIMIT_MODIFIER') {
        if (m.limit) out += `\nLIMIT ${this.expr(m.limit)}`;
        if (m.offset) out += `\nOFFSET ${this.expr(m.offset)}`;
      } else if (m.type === 'DISTINCT_MODIFIER') {
        if ((m.distinct_on_targets ?? []).length > 0) this.refuse('DISTINCT ON', node);
      } else this.refuse(String(m.type).toLowerCase().replace(/_/g, ' '), node);
    }
    return out;
  }

  private select(node: Node): string {
    const distinct = (node.modifiers ?? []).some((m: Node) => m.type === 'DISTINCT_MODIFIER');
    if (node.sample) this.refuse('USING SAMPLE', node);
    if ((node.group_sets ?? []).length > 1) this.refuse('GROUPING SETS / ROLLUP / CUBE', node);
    const outer = this.aliases;
    this.aliases = new Map();
    const items: string[] = [];
    for (const item of node.select_list) {
      this.location = this.at(item);
      const text = this.expr(item);
      items.push(item.alias ? `${text} AS ${quoteIdent(item.alias)}` : text);
      if (item.alias) this.aliases.set(item.alias, item);
    }
    this.aliases = outer;
    let out = `SELECT${distinct ? ' DISTINCT' : ''} ${items.join(',\n  ')}`;
    if (node.from_table && node.from_table.type !== 'EMPTY') out += `\nFROM ${this.table(node.from_table)}`;
    if (node.where_clause) out += `\nWHERE ${this.expr(node.where_clause)}`;
    else if (node.qualify) out += '\nWHERE TRUE'; // BigQuery wants a WHERE, GROUP BY or HAVING beside QUALIFY.
    if (node.aggregate_handling === 'FORCE_AGGREGATES') {
      const ordinals = node.select_list
        .map((item: Node, i: number) => (this.hasAggregate(item, node.select_list.slice(0, i)) ? undefined : i + 1))
        .filter((i: number | undefined) => i !== undefined);
      if (ordinals.length > 0) out += `\nGROUP BY ${ordinals.join(', ')}`;
    } else if ((node.group_expressions ?? []).length > 0) {
      out += `\nGROUP BY ${node.group_expressions.map((g: Node) => this.groupKey(g, node)).join(', ')}`;
    }
    if (node.having) out += `\nHAVING ${this.expr(node.having)}`;
    if (node.qualify) out += `\nQUALIFY ${this.expr(node.qualify)}`;
    return out;
  }

  /** A GROUP BY key: a select-list alias or position becomes the item's position (GoogleSQL groups by ordinals). */
  private groupKey(g: Node, node: Node): string {
    if (g.class === 'CONSTANT' && g.value?.type?.id === 'INTEGER') return String(g.value.value);
    if (g.class === 'COLUMN_REF' && g.column_names.length === 1) {
      const i = node.select_list.findIndex((s: Node) => s.alias === g.column_names[0]);
      if (i >= 0 && !(node.select_list[i].class === 'COLUMN_REF')) return String(i + 1);
    }
    return this.expr(g);
  }

  /** Whether `n` aggregates, itself or through an alias of an earlier item (`before`) it reuses. */
  private hasAggregate(n: Node, before: Node[]): boolean {
    if (n === null || typeof n !== 'object') return false;
    if (n.class === 'WINDOW' || n.class === 'SUBQUERY') return false;
    if (n.class === 'FUNCTION' && !n.is_operator && AGGREGATES.has(String(n.function_name).toLowerCase())) return true;
    if (n.class === 'COLUMN_REF' && n.column_names.length === 1) {
      const i = before.findIndex((b) => b.alias === n.column_names[0]);
      return i >= 0 && this.hasAggregate(before[i], before.slice(0, i));
    }
    return Object.values(n).some((v) => (Array.isArray(v) ? v.some((x) => this.hasAggregate(x, before)) : this.hasAggregate(v, before)));
  }

  private table(t: Node): string {
    this.location = this.at(t);
    const alias = t.alias ? ` AS ${quoteIdent(t.alias)}` : '';
    if ((t.column_name_alias ?? []).length > 0) this.refuse('column aliases on a table', t);
    if (t.sample) this.refuse('TABLESAMPLE', t);
    switch (t.type) {
      case 'BASE_TABLE': {
        if (t.catalog_name) this.refuse(`the catalog-qualified name ${t.catalog_name}.${t.schema_name}.${t.table_name}`, t);
        const name = t.schema_name ? this.options.table(t.schema_name, t.table_name) : quoteIdent(t.table_name);
        return `${name}${alias}`;
      }
      case 'SUBQUERY':
        return `(\n${this.query(t.subquery.node)}\n)${alias}`;
      case 'JOIN': {
        const left = this.table(t.left);
        const right = this.table(t.right);
        if (t.ref_type === 'CROSS') return `${left}\nCROSS JOIN ${right}`;
        if (t.ref_type !== 'REGULAR') this.refuse(`a ${String(t.ref_type).toLowerCase()} join`, t);
        const kinds: Record<string, string> = {
          INNER: 'INNER JOIN',
          LEFT: 'LEFT JOIN',
          RIGHT: 'RIGHT JOIN',
          OUTER: 'FULL OUTER JOIN',
          FULL: 'FULL OUTER JOIN',
        };
        const kind = kinds[t.join_type];
        if (!kind) this.refuse(`a ${String(t.join_type).toLowerCase()} join`, t);
        if ((t.using_columns ?? []).length > 0) return `${left}\n${kind} ${right} USING (${t.using_columns.map(quoteIdent).join(', ')})`;
        return `${left}\n${kind} ${right} ON ${t.condition ? this.expr(t.condition) : 'TRUE'}`;
      }
      case 'TABLE_FUNCTION':
        return this.refuse(`the table function ${t.function?.function_name ?? ''}()`, t);
      default:
        return this.refuse(`a ${String(t.type).toLowerCase().replace(/_/g, ' ')} in FROM`, t);
    }
  }

  private order(o: Node): string {
    const dir = o.type === 'DESCENDING' ? 'DESC' : 'ASC';
    // DuckDB puts NULLs last both ways; GoogleSQL would put them first ascending.
    const nulls = o.null_order === 'NULLS_FIRST' ? 'NULLS FIRST' : 'NULLS LAST';
    return `${this.expr(o.expression)} ${dir} ${nulls}`;
  }

  expr(n: Node): string {
    switch (n.class) {
      case 'COLUMN_REF':
        return this.column(n);
      case 'CONSTANT':
        return this.constant(n);
      case 'CAST': {
        const cast = n.try_cast ? 'SAFE_CAST' : 'CAST';
        const type = this.type(n.cast_type, n);
        const decimal = /^(BIG)?NUMERIC\((\d+), (\d+)\)$/.exec(type);
        // DuckDB casts to DECIMAL(p, s) by scaling by 10^s and rounding half away from zero (a DOUBLE scaled in DOUBLE);
        // doing the same before the cast gives its value in BigQuery, and on the emulator, which ignores a
        // parameterised type's scale and turns a FLOAT64 into a NUMERIC of 3 places first.
        if (decimal) return `${cast}(ROUND(${this.expr(n.child)} * ${10 ** Number(decimal[3])}) / ${10 ** Number(decimal[3])} AS ${type})`;
        return `${cast}(${this.expr(n.child)} AS ${type})`;
      }
      case 'COMPARISON': {
        const op = COMPARISONS[n.type];
        if (!op) this.refuse(`the comparison ${n.type}`, n);
        return `(${this.expr(n.left)} ${op} ${this.expr(n.right)})`;
      }
      case 'CONJUNCTION': {
        const op = n.type === 'CONJUNCTION_AND' ? ' AND ' : ' OR ';
        return `(${n.children.map((c: Node) => this.expr(c)).join(op)})`;
      }
      case 'OPERATOR':
        return this.operator(n);
      case 'BETWEEN':
        return `(${this.expr(n.input)} BETWEEN ${this.expr(n.lower)} AND ${this.expr(n.upper)})`;
      case 'CASE': {
        const whens = n.case_checks.map((c: Node) => `WHEN ${this.expr(c.when_expr)} THEN ${this.expr(c.then_expr)}`).join(' ');
        return `CASE ${whens}${n.else_expr ? ` ELSE ${this.expr(n.else_expr)}` : ''} END`;
      }
      case 'FUNCTION':
        return this.function(n);
      case 'WINDOW':
        return this.window(n);
      case 'SUBQUERY':
        return this.subquery(n);
      case 'STAR':
        return this.star(n);
      default:
        return this.refuse(`the expression ${String(n.class ?? n.type).toLowerCase()}`, n);
    }
  }

  private column(n: Node): string {
    const names: string[] = n.column_names;
    if (names.length === 1 && this.aliases) {
      // DuckDB lets a select-list alias be reused later in the same list; GoogleSQL does not: inline it.
      const item = this.aliases.get(names[0] as string);
      if (item && !(item.class === 'COLUMN_REF' && item.column_names.at(-1) === names[0])) {
        const outer = this.aliases;
        this.aliases = undefined;
        try {
          return `(${this.expr({ ...item, alias: '' })})`;
        } finally {
          this.aliases = outer;
        }
      }
    }
    return names.map(quoteIdent).join('.');
  }

  private constant(n: Node): string {
    const v = n.value;
    if (v.is_null) return 'NULL';
    const id = v.type.id;
    switch (id) {
      case 'VARCHAR':
        return quoteString(String(v.value));
      case 'BOOLEAN':
        return v.value ? 'TRUE' : 'FALSE';
      case 'TINYINT':
      case 'SMALLINT':
      case 'INTEGER':
      case 'BIGINT':
      case 'HUGEINT':
      case 'UBIGINT':
      case 'UINTEGER':
        return String(v.value);
      case 'DOUBLE':
      case 'FLOAT':
        return Number.isFinite(v.value) ? String(v.value) : this.refuse(`the number ${v.value}`, n);
      case 'DECIMAL': {
        const scale: number = v.type.type_info?.scale ?? 0;
        const digits = String(v.value)
          .replace('-', '')
          .padStart(scale + 1, '0');
        const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
        return `${String(v.value).startsWith('-') ? '-' : ''}${text}`;
      }
      default:
        return this.refuse(`a ${String(id).toLowerCase()} literal`, n);
    }
  }

  private type(t: Node, n: Node): string {
    try {
      return googleType(t);
    } catch (e) {
      if (e instanceof Untranslatable) this.refuse(e.construct, n);
      throw e;
    }
  }

  private operator(n: Node): string {
    const c = (i: number) => this.expr(n.children[i]);
    switch (n.type) {
      case 'OPERATOR_NOT':
        return `(NOT ${c(0)})`;
      case 'OPERATOR_IS_NULL':
        return `(${c(0)} IS NULL)`;
      case 'OPERATOR_IS_NOT_NULL':
        return `(${c(0)} IS NOT NULL)`;
      case 'COMPARE_IN':
      case 'COMPARE_NOT_IN': {
        const list = n.children.slice(1).map((x: Node) => this.expr(x));
        return `(${c(0)} ${n.type === 'COMPARE_NOT_IN' ? 'NOT IN' : 'IN'} (${list.join(', ')}))`;
      }
      case 'OPERATOR_COALESCE':
        return `COALESCE(${n.children.map((x: Node) => this.expr(x)).join(', ')})`;
      default:
        return this.refuse(
          `the operator ${String(n.type)
            .toLowerCase()
            .replace(/^operator_/, '')
            .replace(/_/g, ' ')}`,
          n,
        );
    }
  }

  private subquery(n: Node): string {
    const q = this.query(n.subquery.node);
    switch (n.subquery_type) {
      case 'SCALAR':
        return `(${q})`;
      case 'EXISTS':
        return `EXISTS (${q})`;
      case 'NOT_EXISTS':
        return `NOT EXISTS (${q})`;
      case 'ANY':
        if (n.comparison_type === 'COMPARE_EQUAL') return `(${this.expr(n.child)} IN (${q}))`;
        return this.refuse('a quantified comparison (ANY/ALL)', n);
      default:
        return this.refuse(`a ${String(n.subquery_type).toLowerCase()} subquery`, n);
    }
  }

  private star(n: Node): string {
    if (n.columns || n.expr) this.refuse('COLUMNS(*)', n);
    if ((n.replace_list ?? []).length > 0) this.refuse('* REPLACE', n);
    if ((n.rename_list ?? []).length > 0 || (n.qualified_exclude_list ?? []).length > 0) this.refuse('* RENAME', n);
    const base = n.relation_name ? `${quoteIdent(n.relation_name)}.*` : '*';
    return (n.exclude_list ?? []).length > 0 ? `${base} EXCEPT (${n.exclude_list.map(quoteIdent).join(', ')})` : base;
  }

  private function(n: Node): string {
    const name = String(n.function_name).toLowerCase();
    const args: Node[] = n.children ?? [];
    const a = (i: number) => this.expr(args[i]);
    if (n.schema && n.schema !== 'main') this.refuse(`the function ${n.schema}.${name}()`, n);
    if (n.is_operator) {
      if (name === '-' && args.length === 1) return `(-${a(0)})`;
      if (name === '%') return `MOD(${a(0)}, ${a(1)})`;
      if (name === '//') return `DIV(${a(0)}, ${a(1)})`;
      const op = OPERATORS[name];
      if (!op || args.length !== 2) this.refuse(`the operator ${name}`, n);
      return `(${a(0)} ${op} ${a(1)})`;
    }
    const orders = n.order_bys?.orders ?? [];
    if (orders.length > 0 && name !== 'first' && name !== 'string_agg') this.refuse(`${name}(… ORDER BY …)`, n);
    if (AGGREGATES.has(name)) return this.aggregate(n, name, args);
    if (n.filter) this.refuse(`FILTER on ${name}()`, n);
    if (n.distinct) this.refuse(`${name}(DISTINCT …)`, n);
    switch (name) {
      case 'tokenize':
        return this.tokenize(a(0));
      case 'mask_pan':
        return maskPan(a(0));
      case 'year':
      case 'quarter':
      case 'month':
      case 'week':
      case 'day':
      case 'hour':
      case 'minute':
      case 'second':
      case 'dayofyear':
        return `EXTRACT(${name.toUpperCase()} FROM ${a(0)})`;
      case 'dayofweek':
        // DuckDB counts Sunday as 0, GoogleSQL as 1.
        return `(EXTRACT(DAYOFWEEK FROM ${a(0)}) - 1)`;
      case 'date_part':
      case 'datepart':
      case 'extract': {
        const part = this.unit(args[0], n);
        if (!DATE_PARTS.has(part)) this.refuse(`${name}('${part}', …)`, n);
        return part === 'dayofweek' ? `(EXTRACT(DAYOFWEEK FROM ${a(1)}) - 1)` : `EXTRACT(${part.toUpperCase()} FROM ${a(1)})`;
      }
      case 'date_trunc':
      case 'datetrunc': {
        const unit = this.unit(args[0], n);
        if (!TRUNC_UNITS.has(unit)) this.refuse(`date_trunc('${unit}', …)`, n);
        // finmesh's timestamps are instants (TIMESTAMPTZ → TIMESTAMP); DuckDB's date_trunc of a DATE is a DATE too.
        return `TIMESTAMP_TRUNC(${a(1)}, ${unit === 'week' ? 'ISOWEEK' : unit.toUpperCase()})`;
      }
      case 'current_date':
      case 'today':
        return 'CURRENT_DATE()';
      case 'now':
      case 'current_timestamp':
      case 'get_current_timestamp':
        return 'CURRENT_TIMESTAMP()';
      case 'if':
      case 'iff':
        return `IF(${a(0)}, ${a(1)}, ${a(2)})`;
      case 'regexp_full_match':
        return `REGEXP_CONTAINS(${a(0)}, CONCAT('^(?:', ${a(1)}, ')$'))`;
      case 'regexp_matches':
        if (args.length > 2) this.refuse('regexp_matches() with options', n);
        return `REGEXP_CONTAINS(${a(0)}, ${a(1)})`;
      case 'regexp_replace':
        // DuckDB replaces the first match unless given 'g'; GoogleSQL always replaces all.
        if (args.length !== 4 || args[3]?.value?.value !== 'g') this.refuse("regexp_replace() without the 'g' option", n);
        return `REGEXP_REPLACE(${a(0)}, ${a(1)}, ${a(2)})`;
      case 'contains':
        return `(STRPOS(${a(0)}, ${a(1)}) > 0)`;
      case 'prefix':
        return `STARTS_WITH(${a(0)}, ${a(1)})`;
      case 'suffix':
        return `ENDS_WITH(${a(0)}, ${a(1)})`;
      case 'strftime':
        return `FORMAT_TIMESTAMP(${a(1)}, ${a(0)})`;
      default:
        break;
    }
    const renamed = RENAMED[name];
    if (renamed) return `${renamed}(${args.map((x) => this.expr(x)).join(', ')})`;
    if (SAME.has(name)) return `${name.toUpperCase()}(${args.map((x) => this.expr(x)).join(', ')})`;
    return this.refuse(`the function ${name}()`, n);
  }

  private unit(arg: Node, n: Node): string {
    if (arg?.class !== 'CONSTANT' || arg.value?.type?.id !== 'VARCHAR') this.refuse('a date part that is not a literal', n);
    return String(arg.value.value).toLowerCase().replace(/s$/, '');
  }

  private aggregate(n: Node, name: string, args: Node[]): string {
    const filter = n.filter ? this.expr(n.filter) : undefined;
    const arg = (i: number) => {
      const x = this.expr(args[i]);
      return filter ? `IF(${filter}, ${x}, NULL)` : x;
    };
    const distinct = n.distinct ? 'DISTINCT ' : '';
    if (name === 'count_star' || (name === 'count' && args.length === 0)) return filter ? `COUNTIF(${filter})` : 'COUNT(*)';
    if (name === 'first') {
      // A one-element array of structs keeps a NULL first value, as DuckDB's first() does.
      const orders = (n.order_bys?.orders ?? []).map((o: Node) => this.order(o)).join(', ');
      const where = filter ? ` WHERE ${filter}` : '';
      if (where) this.refuse('first(…) FILTER (WHERE …)', n);
      return `ARRAY_AGG(STRUCT(${this.expr(args[0])} AS v)${orders ? ` ORDER BY ${orders}` : ''} LIMIT 1)[SAFE_OFFSET(0)].v`;
    }
    if (name === 'string_agg') {
      const orders = (n.order_bys?.orders ?? []).map((o: Node) => this.order(o)).join(', ');
      const sep = args.length > 1 ? `, ${this.expr(args[1])}` : ", ','";
      return `STRING_AGG(${distinct}${arg(0)}${sep}${orders ? ` ORDER BY ${orders}` : ''})`;
    }
    const fn = RENAMED[name] ?? name.toUpperCase();
    // DuckDB averages in DOUBLE whatever the input (a DECIMAL too); GoogleSQL would keep NUMERIC.
    // The sum is exact (INT64, NUMERIC), then divided in FLOAT64, as DuckDB does; summing FLOAT64s would round.
    if (fn === 'AVG' && args.length === 1) return `(CAST(SUM(${distinct}${arg(0)}) AS FLOAT64) / NULLIF(COUNT(${distinct}${arg(0)}), 0))`;
    return `${fn}(${distinct}${args.map((_, i) => arg(i)).join(', ')})`;
  }

  private window(n: Node): string {
    if (n.filter_expr) this.refuse('FILTER in a window function', n);
    if (n.exclude_clause && n.exclude_clause !== 'NO_OTHER') this.refuse('EXCLUDE in a window frame', n);
    if ((n.arg_orders ?? []).length > 0) this.refuse('ORDER BY inside a window function', n);
    const name = String(n.function_name).toLowerCase();
    let fn: string;
    const args: Node[] = n.children ?? [];
    const extra: string[] = [];
    if (n.offset_expr) extra.push(this.expr(n.offset_expr));
    if (n.default_expr) extra.push(this.expr(n.default_expr));
    if (n.type === 'WINDOW_AGGREGATE') {
      if (!AGGREGATES.has(name) || name === 'first' || name === 'string_agg') this.refuse(`${name}() as a window function`, n);
      if (name === 'count_star' || (name === 'count' && args.length === 0)) fn = 'COUNT(*)';
      else fn = `${RENAMED[name] ?? name.toUpperCase()}(${n.distinct ? 'DISTINCT ' : ''}${args.map((x) => this.expr(x)).join(', ')})`;
    } else {
      const wf = WINDOW_FUNCTIONS[n.type];
      if (!wf) this.refuse(`the window function ${name}()`, n);
      fn = `${wf}(${[...args.map((x) => this.expr(x)), ...extra].join(', ')}${n.ignore_nulls ? ' IGNORE NULLS' : ''})`;
    }
    const parts: string[] = [];
    if ((n.partitions ?? []).length > 0) parts.push(`PARTITION BY ${n.partitions.map((p: Node) => this.expr(p)).join(', ')}`);
    const range = this.frame(n);
    const orders: Node[] = n.orders ?? [];
    if (orders.length > 0) {
      const rendered = range?.micros
        ? orders.map((o) => `UNIX_MICROS(${this.expr(o.expression)}) ${o.type === 'DESCENDING' ? 'DESC' : 'ASC'}`)
        : orders.map((o) => this.order(o));
      parts.push(`ORDER BY ${rendered.join(', ')}`);
    }
    if (range) parts.push(range.text);
    return `${fn} OVER (${parts.join(' ')})`;
  }

  /** The window frame, when it is not the default; a RANGE over an interval is rendered over microseconds. */
  private frame(n: Node): { text: string; micros: boolean } | undefined {
    const start: string = n.start;
    const end: string = n.end;
    const isDefault = (start === 'UNBOUNDED_PRECEDING' && end === 'CURRENT_ROW_RANGE') || (start === 'INVALID' && end === 'INVALID');
    if (isDefault) return undefined;
    const rows = start.endsWith('_ROWS') || end.endsWith('_ROWS');
    let micros = false;
    const bound = (b: string, e: Node, which: 'PRECEDING' | 'FOLLOWING'): string => {
      if (b === 'UNBOUNDED_PRECEDING') return 'UNBOUNDED PRECEDING';
      if (b === 'UNBOUNDED_FOLLOWING') return 'UNBOUNDED FOLLOWING';
      if (b.startsWith('CURRENT_ROW')) return 'CURRENT ROW';
      if (!e) this.refuse(`the window frame bound ${b}`, n);
      if (!rows && e.class === 'FUNCTION' && INTERVAL_MICROS[e.function_name] !== undefined) {
        const inner = e.children?.[0];
        const value = inner?.class === 'CAST' ? inner.child : inner;
        if (value?.class !== 'CONSTANT') this.refuse('a window frame over an interval that is not a literal', n);
        micros = true;
        return `${Math.round(Number(value.value.value) * (INTERVAL_MICROS[e.function_name] ?? 1))} ${which}`;
      }
      return `${this.expr(e)} ${which}`;
    };
    const s = bound(start, n.start_expr, start.includes('FOLLOWING') ? 'FOLLOWING' : 'PRECEDING');
    const en = bound(end, n.end_expr, end.includes('PRECEDING') ? 'PRECEDING' : 'FOLLOWING');
    return { text: `${rows ? 'ROWS' : 'RANGE'} BETWEEN ${s} AND ${en}`, micros };
  }

  private tokenize(v: string): string {
    if (!this.options.tokenizationKey) this.refuse('tokenize() without the tokenisation key (tokenization.key in finmesh.yaml)');
    const { ipad, opad } = hmacPads(this.options.tokenizationKey);
    // The same keyed HMAC-SHA256 as the DuckDB macro, so a token in BigQuery joins with a token built locally.
    return `IF(${v} IS NULL, NULL, TO_HEX(SHA256(CONCAT(FROM_HEX('${opad}'), SHA256(CONCAT(FROM_HEX('${ipad}'), CAST(CAST(${v} AS STRING) AS BYTES)))))))`;
  }
}

function maskPan(v: string): string {
  const digits = `REGEXP_REPLACE(CAST(${v} AS STRING), r'[\\s-]', '')`;
  return `CASE WHEN ${v} IS NULL THEN NULL WHEN LENGTH(${digits}) < 10 THEN '******' ELSE CONCAT(LEFT(${digits}, 6), '******', RIGHT(${digits}, 4)) END`;
}

/** A model's SQL as GoogleSQL, or where and what could not be translated. */
export type Translation = { sql: string } | { line: number | undefined; construct: string };

/** `sql` (one SELECT, parsed into `ast`) as GoogleSQL; an untranslatable construct as a value with its line. */
export function translateSelect(sql: string, ast: unknown, options: TranslateOptions): Translation {
  try {
    return { sql: toGoogleSql(ast, options) };
  } catch (e) {
    if (e instanceof Untranslatable) return { line: lineAt(sql, e.offset), construct: e.construct };
    throw e;
  }
}

function firstLocation(node: Node): number | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const q = node.query_location;
  if (typeof q === 'number' && q < Number.MAX_SAFE_INTEGER) return q;
  for (const v of Object.values(node)) {
    const found = Array.isArray(v) ? v.map(firstLocation).find((x) => x !== undefined) : firstLocation(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** `name TYPE` (the name possibly double-quoted) as a GoogleSQL struct field. */
function structField(field: string): string {
  const m = /^\s*("(?:[^"]|"")+"|[^\s]+)\s+(.+)$/s.exec(field);
  if (!m) throw new Untranslatable(`the struct field ${field}`, undefined);
  const name = (m[1] ?? '').replace(/^"|"$/g, '').replace(/""/g, '"');
  return `${quoteIdent(name)} ${googleType(m[2] ?? '')}`;
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((x) => x.trim() !== '');
}
