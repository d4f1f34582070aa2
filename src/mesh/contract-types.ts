import type { Product } from '../config/project.js';
import type { ColumnInfo } from '../engine/engine.js';

/** Where a product's output breaks its contract's schema: a column missing, or of another type. */
export interface ContractMismatch {
  /** The contract property, and its index in `schema[0].properties`. */
  column: string;
  index: number;
  /** The contract field the promise is in: `physicalType`, `logicalType`, or the property itself (missing). */
  field: 'physicalType' | 'logicalType' | undefined;
  /** What the contract promises. */
  expected: string;
  /** What the model produces. */
  found: string;
}

/** ODCS logical types → the engine types that keep the promise. */
const LOGICAL_FAMILIES: Record<string, (t: string) => boolean> = {
  string: (t) => t === 'VARCHAR' || t === 'UUID' || t.startsWith('ENUM('),
  integer: (t) => /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(t),
  number: (t) => /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(t) || /^(DOUBLE|FLOAT|REAL|DECIMAL(\(.*\))?)$/.test(t),
  boolean: (t) => t === 'BOOLEAN',
  date: (t) => t === 'DATE',
  timestamp: (t) => /^TIMESTAMP(TZ|_S|_MS|_NS)?$/.test(t),
  time: (t) => t === 'TIME' || t === 'TIMETZ',
  object: (t) => t.startsWith('STRUCT(') || t.startsWith('MAP(') || t === 'JSON',
  array: (t) => t.endsWith('[]') || t.startsWith('LIST(') || t === 'JSON',
};

/**
 * The contract's columns the model's output (`columns`, as the engine describes it) does not keep: each missing one,
 * and each whose type differs from the contract's `physicalType` (the same type, aliases aside: TEXT is VARCHAR,
 * TIMESTAMP WITH TIME ZONE is TIMESTAMPTZ) or falls outside its `logicalType` (a date is DATE, an integer any
 * integer type…). Columns the model adds beyond the contract are not mismatches here (schema drift reports them).
 */
export function contractMismatches(product: Product, columns: ColumnInfo[]): ContractMismatch[] {
  const actual = new Map(columns.map((c) => [c.name, c.type]));
  const out: ContractMismatch[] = [];
  (product.contract.schema[0]?.properties ?? []).forEach((p, index) => {
    const found = actual.get(p.name);
    if (found === undefined) {
      out.push({ column: p.name, index, field: undefined, expected: `a column ${p.name}`, found: 'no such column in the model’s output' });
      return;
    }
    const t = normaliseType(found);
    if (p.physicalType) {
      if (normaliseType(p.physicalType) !== t)
        out.push({ column: p.name, index, field: 'physicalType', expected: p.physicalType, found: `the model produces ${found}` });
      return;
    }
    const logical = String(p.logicalType ?? '').toLowerCase();
    const fits = LOGICAL_FAMILIES[logical];
    if (fits && !fits(t))
      out.push({
        column: p.name,
        index,
        field: 'logicalType',
        expected: `${logical} (${describeFamily(logical)})`,
        found: `the model produces ${found}`,
      });
  });
  return out;
}

/** A type as engines spell it in many ways, in one spelling. */
export function normaliseType(type: string): string {
  const u = type
    .toUpperCase()
    .replace(/"/g, '')
    .replace(/\s*([(),])\s*/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  const aliases: Record<string, string> = {
    'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ',
    'TIME WITH TIME ZONE': 'TIMETZ',
    TEXT: 'VARCHAR',
    STRING: 'VARCHAR',
    CHAR: 'VARCHAR',
    BPCHAR: 'VARCHAR',
    INT: 'INTEGER',
    INT4: 'INTEGER',
    INT8: 'BIGINT',
    LONG: 'BIGINT',
    INT2: 'SMALLINT',
    SHORT: 'SMALLINT',
    INT1: 'TINYINT',
    BOOL: 'BOOLEAN',
    LOGICAL: 'BOOLEAN',
    FLOAT8: 'DOUBLE',
    FLOAT4: 'FLOAT',
    REAL: 'FLOAT',
    NUMERIC: 'DECIMAL(18,3)',
    DECIMAL: 'DECIMAL(18,3)',
  };
  return (aliases[u] ?? u)
    .replace(/^NUMERIC\(/, 'DECIMAL(')
    .replace(/ WITH TIME ZONE/g, 'TZ')
    .replace(/\bTIMESTAMP TZ\b/g, 'TIMESTAMPTZ');
}

function describeFamily(logical: string): string {
  switch (logical) {
    case 'string':
      return 'VARCHAR';
    case 'integer':
      return 'an integer type';
    case 'number':
      return 'a numeric type';
    case 'timestamp':
      return 'TIMESTAMP or TIMESTAMPTZ';
    case 'object':
      return 'STRUCT, MAP or JSON';
    case 'array':
      return 'a list';
    default:
      return logical.toUpperCase();
  }
}
