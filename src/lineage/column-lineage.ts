import type { ColumnLineage, InputField } from './openlineage.js';

/**
 * Column lineage of one SELECT, from DuckDB's parsed form (`json_serialize_sql`). Each output column maps to the
 * input columns it derives from, with OpenLineage's transformation types: DIRECT (IDENTITY, TRANSFORMATION,
 * AGGREGATION) and INDIRECT (JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL); `masking` where a masking
 * function (tokenize, mask_pan, hashes) sits between input and output.
 */

type Direct = 'IDENTITY' | 'TRANSFORMATION' | 'AGGREGATION';
type Indirect = 'JOIN' | 'FILTER' | 'GROUP_BY' | 'SORT' | 'WINDOW' | 'CONDITIONAL';

/** Where a column of a relation comes from, in base datasets. */
interface Origin {
  dataset: string;
  field: string;
  kind: 'DIRECT' | 'INDIRECT';
  subtype: Direct | Indirect;
  masking: boolean;
}

type Relation = { columns: Map<string, Origin[]>; order: string[]; indirect: Origin[] };

const AGGREGATES = new Set([
  'count',
  'count_star',
  'sum',
  'avg',
  'mean',
  'min',
  'max',
  'mode',
  'median',
  'quantile',
  'quantile_cont',
  'quantile_disc',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'string_agg',
  'list',
  'array_agg',
  'first',
  'last',
  'any_value',
  'arg_max',
  'arg_min',
  'bool_and',
  'bool_or',
  'approx_count_distinct',
  'fsum',
  'product',
]);
/** Functions whose output hides the input: tokenisation, masking, hashing, and generalising a date to its year. */
const MASKING = new Set(['tokenize', 'mask_pan', 'sha256', 'md5', 'sha1', 'hash', 'year']);

export interface ColumnLineageInput {
  /** The SELECT's parsed form: `json_serialize_sql(sql)` → statements[0].node. */
  node: unknown;
  /** Columns of a base dataset by SQL name (`payments_silver.transactions`), in order. */
  columnsOf: (dataset: string) => string[];
  /** Output column names in order (from the engine), to name expressions without an alias. */
  outputColumns: string[];
  /** Maps a SQL name to the OpenLineage dataset id. */
  datasetId: (sqlName: string) => { namespace: string; name: string };
}

export function columnLineage(input: ColumnLineageInput): ColumnLineage {
  const rel = selectNode(asNode(input.node), new Map(), input);
  const fields: ColumnLineage['fields'] = {};
  rel.order.forEach((col, i) => {
    const name = input.outputColumns[i] ?? col;
    fields[name] = { inputFields: toInputFields(rel.columns.get(col) ?? [], input) };
  });
  return { fields, dataset: toInputFields(rel.indirect, input) };
}

function toInputFields(origins: Origin[], input: ColumnLineageInput): InputField[] {
  const byKey = new Map<string, InputField>();
  for (const o of origins) {
    const id = input.datasetId(o.dataset);
    const key = `${id.namespace}|${id.name}|${o.field}`;
    const f = byKey.get(key) ?? { ...id, field: o.field, transformations: [] };
    if (!f.transformations.some((t) => t.type === o.kind && t.subtype === o.subtype)) {
      f.transformations.push({ type: o.kind, subtype: o.subtype, ...(o.kind === 'DIRECT' ? { masking: o.masking } : {}) });
    }
    byKey.set(key, f);
  }
  return [...byKey.values()];
}

type Node = Record<string, unknown>;
function asNode(v: unknown): Node {
  return (v && typeof v === 'object' ? v : {}) as Node;
}

function selectNode(node: Node, outerCtes: Map<string, Relation>, input: ColumnLineageInput): Relation {
  if (node.type === 'SET_OPERATION_NODE') {
    const left = selectNode(asNode(node.left), outerCtes, input);
    const right = selectNode(asNode(node.right), outerCtes, input);
    const columns = new Map<string, Origin[]>();
    left.order.forEach((c, i) => {
      columns.set(c, [...(left.columns.get(c) ?? []), ...(right.columns.get(right.order[i] ?? '') ?? [])]);
    });
    return { columns, order: left.order, indirect: [...left.indirect, ...right.indirect] };
  }
  const ctes = new Map(outerCtes);
  const cteMap = asNode(node.cte_map).map;
  if (Array.isArray(cteMap)) {
    for (const entry of cteMap) {
      const e = asNode(entry);
      const q = asNode(asNode(asNode(e.value).query).node);
      ctes.set(String(e.key), selectNode(q, ctes, input));
    }
  }
  const scope: { alias: string; rel: Relation }[] = [];
  const indirect: Origin[] = [];
  fromClause(asNode(node.from_table), ctes, input, scope, indirect);
  const resolve = (names: string[]): Origin[] => {
    const col = names[names.length - 1] ?? '';
    if (names.length >= 2) {
      const alias = names[names.length - 2];
      const r = scope.find((s) => s.alias === alias);
      if (r) return r.rel.columns.get(col) ?? [];
      // `payer.cpf` where payer is a STRUCT column: the field derives from the column.
      for (const s of scope) {
        const struct =
          s.rel.columns.get(names[0] ?? '') ?? (names.length >= 3 && s.alias === names[0] ? s.rel.columns.get(names[1] ?? '') : undefined);
        if (struct)
          return struct.map((o) => (o.kind === 'DIRECT' && o.subtype === 'IDENTITY' ? { ...o, subtype: 'TRANSFORMATION' as const } : o));
      }
    }
    for (const s of scope) {
      const o = s.rel.columns.get(col);
      if (o) return o;
    }
    return [];
  };
  const columns = new Map<string, Origin[]>();
  const order: string[] = [];
  const list = Array.isArray(node.select_list) ? node.select_list : [];
  list.forEach((raw, i) => {
    const e = asNode(raw);
    if (e.class === 'STAR') {
      const relation = e.relation_name ? scope.filter((s) => s.alias === e.relation_name) : scope;
      for (const s of relation) {
        for (const c of s.rel.order) {
          if (columns.has(c)) continue;
          order.push(c);
          columns.set(c, s.rel.columns.get(c) ?? []);
        }
      }
      return;
    }
    const name =
      typeof e.alias === 'string' && e.alias
        ? e.alias
        : e.class === 'COLUMN_REF'
          ? String((e.column_names as string[]).at(-1))
          : (input.outputColumns[i] ?? `col${i}`);
    order.push(name);
    columns.set(name, expression(e, resolve));
  });
  const addIndirect = (expr: unknown, subtype: Indirect) => {
    for (const r of refs(expr)) for (const o of resolve(r)) indirect.push({ ...o, kind: 'INDIRECT', subtype, masking: false });
  };
  addIndirect(node.where_clause, 'FILTER');
  if (node.aggregate_handling === 'FORCE_AGGREGATES') {
    // GROUP BY ALL: every select-list expression without an aggregate is a grouping key.
    for (const e of list) if (!hasAggregate(e)) addIndirect(e, 'GROUP_BY');
  }
  addIndirect(node.having, 'FILTER');
  addIndirect(node.qualify, 'FILTER');
  for (const g of Array.isArray(node.group_expressions) ? node.group_expressions : []) addIndirect(g, 'GROUP_BY');
  for (const m of Array.isArray(node.modifiers) ? node.modifiers : []) {
    const mod = asNode(m);
    if (mod.type === 'ORDER_MODIFIER')
      for (const o of Array.isArray(mod.orders) ? mod.orders : []) addIndirect(asNode(o).expression, 'SORT');
  }
  // What a derived relation filtered or joined on still shapes the rows of this one.
  for (const s of scope) indirect.push(...s.rel.indirect);
  return { columns, order, indirect };
}

function fromClause(
  from: Node,
  ctes: Map<string, Relation>,
  input: ColumnLineageInput,
  scope: { alias: string; rel: Relation }[],
  indirect: Origin[],
): void {
  switch (from.type) {
    case 'BASE_TABLE': {
      const table = String(from.table_name);
      const schema = String(from.schema_name ?? '');
      const alias = String(from.alias || table);
      if (!schema && ctes.has(table)) {
        scope.push({ alias, rel: ctes.get(table) as Relation });
        return;
      }
      const dataset = schema ? `${schema}.${table}` : table;
      const cols = input.columnsOf(dataset);
      const columns = new Map(cols.map((c) => [c, [{ dataset, field: c, kind: 'DIRECT', subtype: 'IDENTITY', masking: false } as Origin]]));
      scope.push({ alias, rel: { columns, order: cols, indirect: [] } });
      return;
    }
    case 'SUBQUERY': {
      const sub = asNode(asNode(from.subquery).node);
      scope.push({ alias: String(from.alias ?? ''), rel: selectNode(sub, ctes, input) });
      return;
    }
    case 'JOIN': {
      const before = scope.length;
      fromClause(asNode(from.left), ctes, input, scope, indirect);
      fromClause(asNode(from.right), ctes, input, scope, indirect);
      const joined = scope.slice(before);
      const resolve = (names: string[]) => {
        const col = names[names.length - 1] ?? '';
        const r = names.length >= 2 ? joined.find((s) => s.alias === names[names.length - 2]) : undefined;
        if (r) return r.rel.columns.get(col) ?? [];
        return joined.flatMap((s) => s.rel.columns.get(col) ?? []);
      };
      for (const r of refs(from.condition))
        for (const o of resolve(r)) indirect.push({ ...o, kind: 'INDIRECT', subtype: 'JOIN', masking: false });
      for (const c of Array.isArray(from.using_columns) ? from.using_columns : []) {
        for (const o of resolve([String(c)])) indirect.push({ ...o, kind: 'INDIRECT', subtype: 'JOIN', masking: false });
      }
      return;
    }
    default:
      return;
  }
}

/** Every column reference inside an expression, as name paths. */
function refs(expr: unknown): string[][] {
  const out: string[][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const n = v as Node;
    if (n.class === 'COLUMN_REF' && Array.isArray(n.column_names)) {
      out.push(n.column_names as string[]);
      return;
    }
    if (n.class === 'SUBQUERY') return;
    for (const child of Object.values(n)) walk(child);
  };
  walk(expr);
  return out;
}

/** Origins of one select-list expression, with the transformation it applies. */
function expression(e: Node, resolve: (names: string[]) => Origin[]): Origin[] {
  const out: Origin[] = [];
  const compose = (o: Origin, subtype: Direct, masking: boolean): Origin => {
    if (o.kind === 'INDIRECT') return o;
    const rank = { IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2 } as const;
    const s = rank[subtype] >= rank[o.subtype as Direct] ? subtype : (o.subtype as Direct);
    return { ...o, subtype: s, masking: o.masking || masking };
  };
  const walk = (v: unknown, subtype: Direct, masking: boolean) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, subtype, masking);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const n = v as Node;
    switch (n.class) {
      case 'COLUMN_REF':
        for (const o of resolve(n.column_names as string[])) out.push(compose(o, subtype, masking));
        return;
      case 'SUBQUERY':
        return;
      case 'CASE': {
        const checks = Array.isArray(n.case_checks) ? n.case_checks : [];
        for (const c of checks) {
          for (const r of refs(asNode(c).when_expr))
            for (const o of resolve(r)) out.push({ ...o, kind: 'INDIRECT', subtype: 'CONDITIONAL', masking: false });
          walk(asNode(c).then_expr, maxSubtype(subtype, 'TRANSFORMATION'), masking);
        }
        walk(n.else_expr, maxSubtype(subtype, 'TRANSFORMATION'), masking);
        return;
      }
      case 'WINDOW': {
        for (const r of [...refs(n.partitions), ...refs(n.orders)])
          for (const o of resolve(r)) out.push({ ...o, kind: 'INDIRECT', subtype: 'WINDOW', masking: false });
        walk(n.children, maxSubtype(subtype, AGGREGATES.has(String(n.function_name)) ? 'AGGREGATION' : 'TRANSFORMATION'), masking);
        return;
      }
      case 'FUNCTION': {
        const fn = String(n.function_name).toLowerCase();
        const s = AGGREGATES.has(fn) ? 'AGGREGATION' : 'TRANSFORMATION';
        walk(n.children, maxSubtype(subtype, s), masking || MASKING.has(fn));
        // `agg(x) FILTER (WHERE y)`: y decides which rows count, it is not a value of the output.
        for (const r of refs(n.filter)) for (const o of resolve(r)) out.push({ ...o, kind: 'INDIRECT', subtype: 'FILTER', masking: false });
        return;
      }
      default:
        for (const [k, child] of Object.entries(n)) {
          if (k === 'class' || k === 'type' || k === 'alias') continue;
          walk(child, n.class === 'CONSTANT' ? subtype : maxSubtype(subtype, 'TRANSFORMATION'), masking);
        }
    }
  };
  walk(e, 'IDENTITY', false);
  return out;
}

function maxSubtype(a: Direct, b: Direct): Direct {
  const rank = { IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}

function hasAggregate(expr: unknown): boolean {
  if (Array.isArray(expr)) return expr.some(hasAggregate);
  if (!expr || typeof expr !== 'object') return false;
  const n = expr as Node;
  if (n.class === 'FUNCTION' && AGGREGATES.has(String(n.function_name).toLowerCase())) return true;
  if (n.class === 'WINDOW' || n.class === 'SUBQUERY') return false;
  return Object.values(n).some(hasAggregate);
}
