import { readFileSync } from 'node:fs';
import semver from 'semver';
import { parse } from 'yaml';
import { validateOdcs } from '../config/odcs-validator.js';
import { FinmeshError, formatIssue } from '../core/errors.js';

export interface ContractChange {
  kind:
    | 'object-removed'
    | 'object-added'
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
  /** The schema object (table) the change is in. */
  object: string;
  column: string;
  breaking: boolean;
  detail: string;
}

/** Any ODCS v3 contract: finmesh reads only what a diff compares. */
export interface OdcsContract {
  version?: string;
  schema?: OdcsObject[];
}

interface OdcsObject {
  name: string;
  properties?: Prop[];
}

interface Prop {
  name: string;
  logicalType?: string;
  physicalType?: string;
  required?: boolean;
  classification?: string;
  quality?: { metric?: string; arguments?: unknown }[];
  /** Nested object properties (`logicalType: object`), and an array's item type. */
  properties?: Prop[];
  items?: Prop;
}

/** Reads a contract for a diff: any valid ODCS v3.1 document, whatever finmesh's own settings in it. */
export function readOdcsContract(file: string): OdcsContract {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new FinmeshError('NOT_FOUND', `cannot read the contract ${file}: ${(cause as Error).message}`, { cause });
  }
  const issues = validateOdcs(file, doc);
  if (issues.length > 0)
    throw new FinmeshError(
      'CONFIG_INVALID',
      `${file} is not a valid ODCS v3.1 contract:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`,
    );
  return doc as OdcsContract;
}

/** How the version moved, and whether that says what the changes are (semver: breaking → major). */
export interface VersionVerdict {
  from: string | undefined;
  to: string | undefined;
  bump: 'major' | 'minor' | 'patch' | 'none' | 'unknown';
  required: 'major' | 'minor' | 'none';
  ok: boolean;
  /** The version the changes call for, when the new one is not enough. */
  suggested: string | undefined;
}

export function versionVerdict(oldC: OdcsContract, newC: OdcsContract, changes: ContractChange[]): VersionVerdict {
  const from = oldC.version;
  const to = newC.version;
  const a = from ? semver.coerce(from) : null;
  const b = to ? semver.coerce(to) : null;
  // Before 1.0.0, semver lets a minor version break.
  const breaking = changes.some((c) => c.breaking);
  const required = breaking ? (a && a.major === 0 ? 'minor' : 'major') : changes.length > 0 ? 'minor' : 'none';
  if (!a || !b) return { from, to, bump: 'unknown', required, ok: required === 'none', suggested: undefined };
  const bump = b.major > a.major ? 'major' : b.major === a.major && b.minor > a.minor ? 'minor' : semver.gt(b, a) ? 'patch' : 'none';
  const rank = { none: 0, patch: 0, minor: 1, major: 2 } as const;
  const ok = semver.gt(b, a) ? rank[bump] >= rank[required] : required === 'none';
  const suggested = ok
    ? undefined
    : required === 'major'
      ? `${a.major + 1}.0.0`
      : required === 'minor'
        ? `${a.major}.${a.minor + 1}.0`
        : undefined;
  return { from, to, bump, required, ok, suggested };
}

/**
 * Classifies each change between two versions of a contract as breaking for consumers or not, schema object by
 * schema object (matched by name), nested properties by their dotted path.
 */
export function diffContracts(oldC: OdcsContract, newC: OdcsContract): ContractChange[] {
  const before = new Map((oldC.schema ?? []).map((o) => [o.name, o]));
  const after = new Map((newC.schema ?? []).map((o) => [o.name, o]));
  const out: ContractChange[] = [];
  for (const [name, o] of before) {
    const n = after.get(name);
    if (!n) out.push({ kind: 'object-removed', object: name, column: '', breaking: true, detail: `schema object ${name} was removed` });
    else out.push(...diffObject(name, o, n, before.size > 1 || after.size > 1));
  }
  for (const name of after.keys())
    if (!before.has(name))
      out.push({ kind: 'object-added', object: name, column: '', breaking: false, detail: `new schema object ${name}` });
  return out;
}

function flatten(props: Prop[] | undefined, prefix = ''): Map<string, Prop> {
  const out = new Map<string, Prop>();
  for (const p of props ?? []) {
    const name = `${prefix}${p.name}`;
    out.set(name, p);
    for (const [k, v] of flatten(p.properties, `${name}.`)) out.set(k, v);
    if (p.items) for (const [k, v] of flatten(p.items.properties, `${name}[].`)) out.set(k, v);
  }
  return out;
}

function diffObject(object: string, oldO: OdcsObject, newO: OdcsObject, qualify: boolean): ContractChange[] {
  const before = flatten(oldO.properties);
  const after = flatten(newO.properties);
  const out: ContractChange[] = [];
  const at = (column: string) => (qualify ? `${object}.${column}` : column);
  const push = (c: Omit<ContractChange, 'object'>) => out.push({ object, ...c });
  for (const [col, o] of before) {
    const name = at(col);
    const n = after.get(col);
    if (!n) {
      push({ kind: 'column-removed', column: col, breaking: true, detail: `column ${name} was removed` });
      continue;
    }
    const ot = typeOf(o);
    const nt = typeOf(n);
    if (ot && nt && ot !== nt) {
      const w = widening(ot, nt);
      const kind = w === true ? 'type-widened' : w === false ? 'type-narrowed' : 'type-changed';
      push({ kind, column: col, breaking: w !== true, detail: `${name}: ${ot} → ${nt}` });
    }
    if (!o.required && n.required) push({ kind: 'became-required', column: col, breaking: true, detail: `${name} is now required` });
    if (o.required && !n.required)
      push({ kind: 'became-optional', column: col, breaking: false, detail: `${name} is now optional (consumers may see nulls)` });
    const oe = enumOf(o);
    const ne = enumOf(n);
    if (oe && ne) {
      const removed = oe.filter((v) => !ne.includes(v));
      const added = ne.filter((v) => !oe.includes(v));
      if (removed.length > 0)
        push({ kind: 'enum-tightened', column: col, breaking: true, detail: `${name} no longer allows ${removed.join(', ')}` });
      if (added.length > 0)
        push({ kind: 'enum-widened', column: col, breaking: false, detail: `${name} now also allows ${added.join(', ')}` });
    } else if (!oe && ne)
      push({ kind: 'enum-tightened', column: col, breaking: true, detail: `${name} is now restricted to ${ne.join(', ')}` });
    if (o.classification !== n.classification) {
      push({
        kind: 'classification-changed',
        column: col,
        breaking: false,
        detail: `${name}: ${o.classification ?? 'none'} → ${n.classification ?? 'none'}`,
      });
    }
  }
  for (const [col, n] of after) {
    if (before.has(col)) continue;
    push({
      kind: 'column-added',
      column: col,
      breaking: Boolean(n.required),
      detail: n.required ? `new required column ${at(col)}` : `new optional column ${at(col)}`,
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
