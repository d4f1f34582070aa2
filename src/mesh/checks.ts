import { type Product, sqlName } from '../config/project.js';
import { quoteIdent, quoteLiteral } from '../engine/engine.js';

/** A quality rule compiled to one SQL query returning a single number `v`, and how to judge it. */
export interface CompiledCheck {
  /** Stable id: `<product>.<column or dataset>.<rule>` (a metric label, so bounded). */
  id: string;
  product: string;
  column: string | undefined;
  rule: string;
  severity: 'error' | 'warning';
  /** SQL over `{object}`, the relation to check (the dataset, or a candidate batch before it commits). */
  sql: string;
  expect: Expectation;
  description: string;
}

export type Expectation =
  | {
      op: 'mustBe' | 'mustNotBe' | 'mustBeGreaterThan' | 'mustBeGreaterOrEqualTo' | 'mustBeLessThan' | 'mustBeLessOrEqualTo';
      value: number;
    }
  | { op: 'mustBeBetween' | 'mustNotBeBetween'; value: [number, number] };

const OPERATORS = [
  'mustBe',
  'mustNotBe',
  'mustBeGreaterThan',
  'mustBeGreaterOrEqualTo',
  'mustBeLessThan',
  'mustBeLessOrEqualTo',
  'mustBeBetween',
  'mustNotBeBetween',
] as const;

export function judge(v: number, e: Expectation): boolean {
  switch (e.op) {
    case 'mustBe':
      return v === e.value;
    case 'mustNotBe':
      return v !== e.value;
    case 'mustBeGreaterThan':
      return v > e.value;
    case 'mustBeGreaterOrEqualTo':
      return v >= e.value;
    case 'mustBeLessThan':
      return v < e.value;
    case 'mustBeLessOrEqualTo':
      return v <= e.value;
    case 'mustBeBetween':
      return v >= e.value[0] && v <= e.value[1];
    case 'mustNotBeBetween':
      return v < e.value[0] || v > e.value[1];
  }
}

export function describeExpectation(e: Expectation): string {
  return `${e.op} ${Array.isArray(e.value) ? `[${e.value.join(', ')}]` : e.value}`;
}

type Rule = Record<string, unknown>;

/** Compiles the contract's ODCS quality rules (dataset- and column-level) and the PAN-leak check. */
export function compileChecks(product: Product): CompiledCheck[] {
  const schema = product.contract.schema[0];
  const out: CompiledCheck[] = [];
  const add = (rule: Rule, column: string | undefined, index: number) => {
    const c = compileRule(product, rule, column, index);
    if (c) out.push(c);
  };
  for (const [i, r] of (schema?.quality ?? []).entries()) add(r as Rule, undefined, i);
  for (const prop of schema?.properties ?? []) for (const [i, r] of (prop.quality ?? []).entries()) add(r as Rule, prop.name, i);
  return out;
}

function compileRule(product: Product, rule: Rule, column: string | undefined, index: number): CompiledCheck | undefined {
  const expect = expectation(rule);
  if (!expect) return undefined;
  const severity = String(rule.severity ?? 'error').startsWith('warn') ? 'warning' : 'error';
  const type = String(rule.type ?? (rule.metric ? 'library' : rule.query ? 'sql' : 'text'));
  const col = column ? quoteIdent(column) : undefined;
  const where = `${product.name}.${column ?? 'dataset'}`;
  let sql: string | undefined;
  let ruleName: string;
  if (type === 'sql' && typeof rule.query === 'string') {
    ruleName = String(rule.name ?? `sql${index}`);
    sql = `SELECT (${rule.query.replace(/\{object\}|\$\{object\}/g, '{object}').replace(/\{property\}|\$\{property\}/g, col ?? '')}) AS v`;
  } else {
    ruleName = String(rule.metric ?? rule.rule ?? '');
    const args = (rule.arguments ?? {}) as { validValues?: unknown[]; pattern?: string; missingValues?: unknown[] };
    switch (ruleName) {
      case 'rowCount':
        sql = 'SELECT count(*) AS v FROM {object}';
        break;
      case 'nullValues':
        if (!col) return undefined;
        sql = `SELECT count(*) FILTER (WHERE ${col} IS NULL) AS v FROM {object}`;
        break;
      case 'missingValues': {
        if (!col) return undefined;
        const missing = (args.missingValues ?? ['']).map((m) => (m === null ? 'NULL' : quoteLiteral(String(m))));
        sql = `SELECT count(*) FILTER (WHERE ${col} IS NULL OR CAST(${col} AS VARCHAR) IN (${missing.join(', ')})) AS v FROM {object}`;
        break;
      }
      case 'invalidValues': {
        if (!col) return undefined;
        const conds: string[] = [];
        if (args.validValues)
          conds.push(`CAST(${col} AS VARCHAR) NOT IN (${args.validValues.map((v) => quoteLiteral(String(v))).join(', ')})`);
        if (args.pattern) conds.push(`NOT regexp_full_match(CAST(${col} AS VARCHAR), ${quoteLiteral(args.pattern)})`);
        if (conds.length === 0) return undefined;
        sql = `SELECT count(*) FILTER (WHERE ${col} IS NOT NULL AND (${conds.join(' OR ')})) AS v FROM {object}`;
        break;
      }
      case 'duplicateValues':
        sql = col
          ? `SELECT count(${col}) - count(DISTINCT ${col}) AS v FROM {object}`
          : 'SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM {object})) AS v FROM {object}';
        break;
      default:
        return undefined;
    }
  }
  return {
    id: `${where}.${ruleName}`,
    product: `${product.domain}.${product.name}`,
    column,
    rule: ruleName,
    severity,
    sql,
    expect,
    description: String(rule.description ?? `${ruleName} ${describeExpectation(expect)}`),
  };
}

function expectation(rule: Rule): Expectation | undefined {
  for (const op of OPERATORS) {
    if (rule[op] === undefined) continue;
    const v = rule[op];
    if (op === 'mustBeBetween' || op === 'mustNotBeBetween') {
      if (Array.isArray(v) && v.length === 2) return { op, value: [Number(v[0]), Number(v[1])] };
      return undefined;
    }
    return { op, value: Number(v) } as Expectation;
  }
  return undefined;
}

/**
 * Full card numbers in any text column must be zero: 13–19 digit runs with a card network's prefix and length
 * that pass Luhn. Word boundaries keep longer digit runs (boleto barcodes) and ids with digits inside (PIX
 * end-to-end ids) from matching. A column can opt out in its contract (`customProperties: panScan: false`), for
 * identifiers that look like card numbers by chance (a CNPJ has 14 digits and passes Luhn one time in ten).
 */
export function panLeakSql(columns: { name: string; type: string }[], exempt: Set<string> = new Set()): string | undefined {
  const text = columns.filter((c) => /^(VARCHAR|TEXT|STRING)$/i.test(c.type) && !exempt.has(c.name));
  if (text.length === 0) return undefined;
  const per = text.map(
    (c) => `len(list_filter(regexp_extract_all(${quoteIdent(c.name)}, '\\b[0-9]{13,19}\\b'), x -> pan_like(x) AND luhn_valid(x)))`,
  );
  return `SELECT coalesce(sum(${per.join(' + ')}), 0) AS v FROM {object}`;
}

/** Columns a contract exempts from the PAN scan. */
export function panScanExempt(product: Product): Set<string> {
  const out = new Set<string>();
  for (const p of product.contract.schema[0]?.properties ?? []) {
    const custom = (p as { customProperties?: { property: string; value: unknown }[] }).customProperties ?? [];
    if (custom.some((c) => c.property === 'panScan' && c.value === false)) out.add(p.name);
  }
  return out;
}

/** DuckDB macros: card-network prefix and length (`pan_like`), and the Luhn check of a digit string. */
export const LUHN_MACRO = `CREATE OR REPLACE MACRO pan_like(s) AS (
  (length(s) = 13 AND regexp_full_match(s, '4[0-9]*'))
  OR (length(s) = 14 AND regexp_full_match(s, '3(0[0-5]|[68])[0-9]*'))
  OR (length(s) = 15 AND regexp_full_match(s, '3[47][0-9]*'))
  OR (length(s) = 16 AND regexp_full_match(s, '(4|5[1-5]|2[2-7]|6|35)[0-9]*'))
  OR (length(s) BETWEEN 17 AND 19 AND regexp_full_match(s, '(4|6|35)[0-9]*')));
CREATE OR REPLACE MACRO luhn_valid(s) AS (
  list_sum(list_transform(range(length(s)), i ->
    CASE WHEN i % 2 = 1
      THEN (CAST(substr(s, length(s) - i, 1) AS INTEGER) * 2) - CASE WHEN CAST(substr(s, length(s) - i, 1) AS INTEGER) * 2 > 9 THEN 9 ELSE 0 END
      ELSE CAST(substr(s, length(s) - i, 1) AS INTEGER) END)) % 10 = 0)`;

export function objectName(product: Product): string {
  return sqlName(product.dataset);
}
