import type { Contract } from '../config/schema.js';

export interface ContractChange {
  kind:
    | 'column-removed'
    | 'column-added'
    | 'type-narrowed'
    | 'type-widened'
    | 'type-changed'
    | 'became-required'
    | 'became-optional'
    | 'enum-tightened'
    | 'enum-widened'
    | 'classification-changed';
  column: string;
  breaking: boolean;
  detail: string;
}

type Prop = NonNullable<Contract['schema'][0]>['properties'][number];

/** Classifies each change between two versions of a contract as breaking for consumers or not. */
export function diffContracts(oldC: Contract, newC: Contract): ContractChange[] {
  const before = new Map((oldC.schema[0]?.properties ?? []).map((p) => [p.name, p]));
  const after = new Map((newC.schema[0]?.properties ?? []).map((p) => [p.name, p]));
  const out: ContractChange[] = [];
  for (const [name, o] of before) {
    const n = after.get(name);
    if (!n) {
      out.push({ kind: 'column-removed', column: name, breaking: true, detail: `column ${name} was removed` });
      continue;
    }
    const ot = typeOf(o);
    const nt = typeOf(n);
    if (ot && nt && ot !== nt) {
      const w = widening(ot, nt);
      const kind = w === true ? 'type-widened' : w === false ? 'type-narrowed' : 'type-changed';
      out.push({ kind, column: name, breaking: w !== true, detail: `${name}: ${ot} → ${nt}` });
    }
    if (!o.required && n.required) out.push({ kind: 'became-required', column: name, breaking: true, detail: `${name} is now required` });
    if (o.required && !n.required)
      out.push({ kind: 'became-optional', column: name, breaking: false, detail: `${name} is now optional (consumers may see nulls)` });
    const oe = enumOf(o);
    const ne = enumOf(n);
    if (oe && ne) {
      const removed = oe.filter((v) => !ne.includes(v));
      const added = ne.filter((v) => !oe.includes(v));
      if (removed.length > 0)
        out.push({ kind: 'enum-tightened', column: name, breaking: true, detail: `${name} no longer allows ${removed.join(', ')}` });
      if (added.length > 0)
        out.push({ kind: 'enum-widened', column: name, breaking: false, detail: `${name} now also allows ${added.join(', ')}` });
    } else if (!oe && ne)
      out.push({ kind: 'enum-tightened', column: name, breaking: true, detail: `${name} is now restricted to ${ne.join(', ')}` });
    if (o.classification !== n.classification) {
      out.push({
        kind: 'classification-changed',
        column: name,
        breaking: false,
        detail: `${name}: ${o.classification ?? 'none'} → ${n.classification ?? 'none'}`,
      });
    }
  }
  for (const [name, n] of after) {
    if (before.has(name)) continue;
    out.push({
      kind: 'column-added',
      column: name,
      breaking: Boolean(n.required),
      detail: n.required ? `new required column ${name}` : `new optional column ${name}`,
    });
  }
  return out;
}

function typeOf(p: Prop): string | undefined {
  return (p.physicalType ?? p.logicalType)?.toUpperCase().replace(/\s+/g, '');
}

function enumOf(p: Prop): string[] | undefined {
  for (const q of p.quality ?? []) {
    const args = (q as { arguments?: { validValues?: unknown[] } }).arguments;
    if (q.metric === 'invalidValues' && args?.validValues) return args.validValues.map(String);
  }
  return undefined;
}

const INT_ORDER = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT'];

/** true: every old value fits the new type; false: some may not; undefined: unrelated types. */
function widening(from: string, to: string): boolean | undefined {
  if (to === 'VARCHAR' || to === 'STRING') return true;
  const fi = INT_ORDER.indexOf(from);
  const ti = INT_ORDER.indexOf(to);
  if (fi >= 0 && ti >= 0) return ti >= fi;
  if (fi >= 0 && (to === 'DOUBLE' || to.startsWith('DECIMAL'))) return true;
  const fd = /^DECIMAL\((\d+),(\d+)\)$/.exec(from);
  const td = /^DECIMAL\((\d+),(\d+)\)$/.exec(to);
  if (fd && td) return Number(td[2]) >= Number(fd[2]) && Number(td[1]) - Number(td[2]) >= Number(fd[1]) - Number(fd[2]);
  if (fd && to === 'DOUBLE') return true;
  if ((from === 'DOUBLE' || fd) && (ti >= 0 || td)) return false;
  if (from === 'VARCHAR' || from === 'STRING') return false;
  if (from === 'DATE' && (to === 'TIMESTAMP' || to === 'TIMESTAMPTZ')) return true;
  if ((from === 'TIMESTAMP' || from === 'TIMESTAMPTZ') && to === 'DATE') return false;
  return undefined;
}
