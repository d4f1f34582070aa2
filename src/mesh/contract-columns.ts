import type { Product } from '../config/project.js';
import type { ColumnInfo } from '../engine/engine.js';

/** ODCS logical types → the physical type a column takes when its contract gives none. */
const LOGICAL: Record<string, string> = {
  string: 'VARCHAR',
  integer: 'BIGINT',
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
  time: 'TIME',
  object: 'JSON',
  array: 'JSON',
};

/** The columns a product's contract promises, typed: its physical type, else one derived from its logical type. */
export function contractColumns(product: Product): ColumnInfo[] {
  return (product.contract.schema[0]?.properties ?? []).map((p) => ({
    name: p.name,
    type: p.physicalType ?? LOGICAL[String(p.logicalType ?? '').toLowerCase()] ?? 'VARCHAR',
  }));
}
