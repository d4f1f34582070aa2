import { FinmeshError } from '../core/errors.js';
import type { AccessPolicy, ColumnDecision, DatasetDecision } from './access.js';

/** A persona's access to a whole dataset: none, every column clear, some masked or tokenised, some columns denied. */
export type DatasetAccess = 'denied' | 'clear' | 'masked' | 'partial';

export interface MatrixRow {
  persona: string;
  dataset: string;
  access: DatasetAccess;
  clear: number;
  masked: number;
  tokenised: number;
  denied: number;
  rowFilter: boolean;
  because: string;
}

export function datasetAccess(d: DatasetDecision): DatasetAccess {
  if (!d.allowed) return 'denied';
  if (d.columns.some((c) => c.level === 'denied')) return 'partial';
  if (d.columns.some((c) => c.level !== 'clear')) return 'masked';
  return 'clear';
}

/** Every persona × dataset of the project. */
export function accessMatrix(policy: AccessPolicy): MatrixRow[] {
  return policy.matrix().map((d) => {
    const count = (l: ColumnDecision['level']) => d.columns.filter((c) => c.level === l).length;
    return {
      persona: d.persona,
      dataset: d.dataset,
      access: datasetAccess(d),
      clear: count('clear'),
      masked: count('masked'),
      tokenised: count('tokenised'),
      denied: count('denied'),
      rowFilter: d.rowFilters.length > 0,
      because: d.because,
    };
  });
}

/** Every persona × dataset × column. */
export function columnMatrix(policy: AccessPolicy): (ColumnDecision & { persona: string; dataset: string })[] {
  return policy.matrix().flatMap((d) => d.columns.map((c) => ({ persona: d.persona, dataset: d.dataset, ...c })));
}

export interface Explanation {
  persona: string;
  dataset: string;
  column: string | undefined;
  allowed: boolean;
  access: string;
  because: string;
  rowFilters: { where: string; path: string }[];
  breakGlass: DatasetDecision['breakGlass'];
  columns: ColumnDecision[];
}

/** Which grant allows or denies `persona` reading `target` (`<domain>_<zone>.<dataset>[.<column>]`), and why. */
export function explainAccess(policy: AccessPolicy, persona: string, target: string): Explanation {
  const [schema, table, column, ...rest] = target.split('.');
  if (!schema || !table || rest.length > 0) {
    throw new FinmeshError('CONFIG_INVALID', `expected <domain>_<zone>.<dataset>[.<column>], found "${target}"`);
  }
  const dataset = `${schema}.${table}`;
  if (!policy.dataset(dataset)) {
    throw new FinmeshError(
      'NOT_FOUND',
      `no dataset ${dataset} (datasets: ${policy
        .datasets()
        .map((d) => d.name)
        .join(', ')})`,
    );
  }
  const d = policy.decide(persona, dataset);
  if (column === undefined) {
    return {
      persona,
      dataset,
      column,
      allowed: d.allowed,
      access: datasetAccess(d),
      because: d.because,
      rowFilters: d.rowFilters,
      breakGlass: d.breakGlass,
      columns: d.columns,
    };
  }
  const c = d.columns.find((x) => x.name === column);
  if (!c) throw new FinmeshError('NOT_FOUND', `no column "${column}" in ${dataset} (columns: ${d.columns.map((x) => x.name).join(', ')})`);
  return {
    persona,
    dataset,
    column,
    allowed: c.level !== 'denied',
    access: c.level === 'masked' ? `masked (${c.rule})` : c.level,
    because: d.allowed ? `${d.because}; ${c.because}` : d.because,
    rowFilters: d.rowFilters,
    breakGlass: d.breakGlass,
    columns: [c],
  };
}

/** RFC 4180 CSV. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n')}\n`;
}
