import {
  ACCESS_FILE,
  type AccessLevel,
  type MaskingRule,
  PROTECTED_CLASSIFICATIONS,
  type ProtectedClassification,
} from '../config/access-names.js';
import type { AccessModel, BreakGlass, Grant, Persona } from '../config/access-schema.js';
import { formatPath } from '../config/issues.js';
import { type DatasetRef, type Product, type Project, type Source, sqlName } from '../config/project.js';
import type { Zone } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { FinmeshError } from '../core/errors.js';
import { BRONZE_METADATA_COLUMNS, LANDING_COLUMNS } from '../lake/layout.js';
import { contractColumns } from '../mesh/contract-columns.js';
import { isFileSource } from '../sources/files/file-source-kinds.js';

/** Zones that hold data as it arrived: their PII and PCI need `raw: true`. */
export const RAW_ZONES: readonly Zone[] = ['landing', 'bronze', 'quarantine'];

/**
 * A dataset access is decided on: a source's bronze table, its quarantine, the listing of a file source's landed
 * files, or a data product.
 */
export interface GovernedDataset {
  /** `payments_silver.transactions`. */
  name: string;
  ref: DatasetRef;
  kind: 'source' | 'quarantine' | 'landing' | 'product';
  columns: { name: string; type: string; classification: string | undefined }[];
  /** The file that declares it (its contract or source). */
  file: string;
  product?: Product | undefined;
  source?: Source | undefined;
}

export interface ColumnDecision {
  name: string;
  type: string;
  classification: string | undefined;
  level: AccessLevel;
  /** How a `masked` column is masked. */
  rule?: MaskingRule | undefined;
  /** Why, naming the YAML path that decides it. */
  because: string;
}

export interface DatasetDecision {
  persona: string;
  dataset: string;
  allowed: boolean;
  /** Why, naming the grant (`governance/access.yaml: personas.x.grants[0]`) or the grant that is missing. */
  because: string;
  columns: ColumnDecision[];
  /** SQL conditions the persona's rows must meet, each with where it is written. */
  rowFilters: { where: string; path: string }[];
  /** Break-glass grants in force that this decision used. */
  breakGlass: { index: number; reason: string; approvedBy: string; until: string }[];
}

const ORDER: Record<AccessLevel, number> = { denied: 0, masked: 1, tokenised: 2, clear: 3 };

/**
 * Decides, from the access model, what a persona sees of each dataset and column: the one place these decisions are
 * made (the query path, the HTTP API, the SQL endpoint, `access matrix|explain` and the Terraform all ask it).
 */
export class AccessPolicy {
  private readonly all: GovernedDataset[];

  constructor(
    readonly project: Project,
    readonly model: AccessModel,
    private readonly clock: Clock = systemClock,
  ) {
    this.all = governedDatasets(project);
  }

  personas(): string[] {
    return Object.keys(this.model.personas);
  }

  /** The persona's settings; `NOT_FOUND` naming the personas there are. */
  persona(name: string): Persona {
    const p = this.model.personas[name];
    if (!p) throw new FinmeshError('NOT_FOUND', `no persona "${name}" in ${ACCESS_FILE} (personas: ${this.personas().join(', ')})`);
    return p;
  }

  datasets(): GovernedDataset[] {
    return this.all;
  }

  dataset(name: string): GovernedDataset | undefined {
    return this.all.find((d) => d.name === name);
  }

  /** Break-glass grants of `persona` in force now. */
  activeBreakGlass(persona: string): { index: number; grant: BreakGlass }[] {
    const now = this.clock.now();
    return this.model.breakGlass
      .map((grant, index) => ({ index, grant }))
      .filter(({ grant }) => grant.persona === persona && (!grant.from || Date.parse(grant.from) <= now) && now < Date.parse(grant.until));
  }

  /** What `persona` may read of `dataset`. Throws `NOT_FOUND` for an unknown persona or dataset. */
  decide(persona: string, dataset: string): DatasetDecision {
    const p = this.persona(persona);
    const d = this.dataset(dataset);
    if (!d) throw new FinmeshError('NOT_FOUND', `no dataset "${dataset}" in the project`);
    const at = (...path: PropertyKey[]) => `${ACCESS_FILE}: ${formatPath(['personas', persona, ...path])}`;
    const glass = this.activeBreakGlass(persona);
    const usedGlass = new Set<number>();
    let because: string;
    let allowed = false;
    const own = p.grants.findIndex((g) => covers(g, d.ref, d.name));
    if (own >= 0) {
      allowed = true;
      because = `granted by ${at('grants', own)}`;
    } else {
      const bg = glass.find(({ grant }) => grant.grants.some((g) => covers(g, d.ref, d.name)));
      if (bg) {
        allowed = true;
        usedGlass.add(bg.index);
        because = `granted by the break-glass grant ${ACCESS_FILE}: breakGlass[${bg.index}] (until ${bg.grant.until}: ${bg.grant.reason})`;
      } else {
        because = `no grant of ${at('grants')} covers ${d.name} (domain ${d.ref.domain}, zone ${d.ref.zone}): missing a grant with domains: [${d.ref.domain}] and zones: [${d.ref.zone}]`;
      }
    }
    const raw = p.raw || glass.some(({ grant }) => grant.raw === true);
    const columns = d.columns.map((c): ColumnDecision => {
      const base = { name: c.name, type: c.type, classification: c.classification };
      if (!allowed) return { ...base, level: 'denied', because };
      const cls = c.classification as ProtectedClassification | undefined;
      if (!cls || !(PROTECTED_CLASSIFICATIONS as readonly string[]).includes(cls)) {
        return { ...base, level: 'clear', because: `${c.classification ?? 'unclassified'} columns are readable with the dataset` };
      }
      if ((cls === 'pii' || cls === 'pci') && RAW_ZONES.includes(d.ref.zone) && !raw) {
        return {
          ...base,
          level: 'denied',
          because: `${cls} in the ${d.ref.zone} zone is raw data: missing raw: true at ${at('raw')}`,
        };
      }
      let level: AccessLevel = p.classifications[cls] ?? 'denied';
      let source = p.classifications[cls] ? `${at('classifications', cls)}: ${level}` : `missing ${at('classifications', cls)}`;
      for (const { index, grant } of glass) {
        const l = grant.classifications[cls];
        if (l && ORDER[l] > ORDER[level]) {
          level = l;
          source = `the break-glass grant ${ACCESS_FILE}: breakGlass[${index}].classifications.${cls}: ${l} (until ${grant.until})`;
          usedGlass.add(index);
        }
      }
      return {
        ...base,
        level,
        ...(level === 'masked' ? { rule: this.model.masking[cls] } : {}),
        because:
          level === 'denied' && !p.classifications[cls]
            ? `${cls} column: ${source} (masked, tokenised or clear)`
            : `${cls} column: ${source}`,
      };
    });
    const rowFilters = p.rowFilters
      .map((f, i) => ({ f, i }))
      .filter(({ f }) => f.dataset === d.name)
      .map(({ f, i }) => ({ where: f.where, path: at('rowFilters', i) }));
    return {
      persona,
      dataset: d.name,
      allowed,
      because,
      columns,
      rowFilters,
      breakGlass: [...usedGlass].map((i) => {
        const g = this.model.breakGlass[i] as BreakGlass;
        return { index: i, reason: g.reason, approvedBy: g.approvedBy, until: g.until };
      }),
    };
  }

  /** Every persona × dataset decision. */
  matrix(): DatasetDecision[] {
    return this.personas().flatMap((p) => this.all.map((d) => this.decide(p, d.name)));
  }
}

function covers(grant: Grant, ref: DatasetRef, name: string): boolean {
  if (!grant.domains.includes('*') && !grant.domains.includes(ref.domain)) return false;
  if (!grant.zones.includes(ref.zone)) return false;
  if (!grant.datasets) return true;
  const schema = `${ref.domain}_${ref.zone}`;
  return grant.datasets.some((d) => d === name || d === `${schema}.*`);
}

/** The quarantine table's columns; `raw` holds the rejected input as it came, so it is treated as PII. */
const QUARANTINE_COLUMNS = [
  { name: 'kind', type: 'VARCHAR', classification: 'internal' },
  { name: 'source', type: 'VARCHAR', classification: 'internal' },
  { name: '_source_file', type: 'VARCHAR', classification: 'internal' },
  { name: '_line', type: 'BIGINT', classification: 'internal' },
  { name: 'reason', type: 'VARCHAR', classification: 'internal' },
  { name: 'raw', type: 'VARCHAR', classification: 'pii' },
  { name: '_run_id', type: 'VARCHAR', classification: 'internal' },
  { name: '_ingested_at', type: 'TIMESTAMPTZ', classification: 'internal' },
  { name: 'dt', type: 'DATE', classification: 'internal' },
];

/** Every dataset of the project that can be read: bronze tables, their quarantine, landed files, and data products. */
export function governedDatasets(project: Project): GovernedDataset[] {
  const out: GovernedDataset[] = [];
  for (const s of project.sources) {
    out.push({
      name: sqlName(s.dataset),
      ref: s.dataset,
      kind: 'source',
      file: s.file,
      source: s,
      columns: [
        ...s.config.schema.map((c) => ({ name: c.name, type: c.type, classification: c.classification })),
        ...BRONZE_METADATA_COLUMNS.map((c) => ({ ...c, classification: 'internal' })),
      ],
    });
    const q: DatasetRef = { domain: s.domain, zone: 'quarantine', name: s.dataset.name };
    out.push({ name: sqlName(q), ref: q, kind: 'quarantine', file: s.file, source: s, columns: QUARANTINE_COLUMNS });
    // A file source's landing zone holds the files as received; `<domain>_landing.<dataset>` lists them, a row a file.
    if (isFileSource(s)) {
      const l: DatasetRef = { domain: s.domain, zone: 'landing', name: s.dataset.name };
      const columns = LANDING_COLUMNS.map((c) => ({ ...c, classification: 'internal' }));
      out.push({ name: sqlName(l), ref: l, kind: 'landing', file: s.file, source: s, columns });
    }
  }
  for (const p of project.products) {
    const props = new Map((p.contract.schema[0]?.properties ?? []).map((x) => [x.name, x.classification]));
    out.push({
      name: sqlName(p.dataset),
      ref: p.dataset,
      kind: 'product',
      file: p.contractFile,
      product: p,
      columns: contractColumns(p).map((c) => ({ ...c, classification: props.get(c.name) })),
    });
  }
  // By code point, not localeCompare: the names are ASCII, and the first localeCompare loads ICU's collator (~8 ms of
  // every governed query's start).
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Row filters that do not bind against their dataset's columns (an unknown column, a syntax error), as issues with
 * the YAML path of the filter. The engine binds each one over an empty relation of the dataset's columns.
 */
export async function rowFilterIssues(
  project: Project,
  engine: { describe(select: string): Promise<unknown>; dialect: { quoteIdent(n: string): string; cast(e: string, t: string): string } },
): Promise<{ file: string; path: string; expected: string; found: string }[]> {
  const issues: { file: string; path: string; expected: string; found: string }[] = [];
  if (!project.access) return issues;
  const datasets = new Map(governedDatasets(project).map((d) => [d.name, d]));
  for (const [name, persona] of Object.entries(project.access.personas)) {
    for (const [i, f] of persona.rowFilters.entries()) {
      const d = datasets.get(f.dataset);
      if (!d) continue;
      const cols = d.columns.map((c) => `${engine.dialect.cast('NULL', c.type)} AS ${engine.dialect.quoteIdent(c.name)}`).join(', ');
      try {
        await engine.describe(`SELECT * FROM (SELECT ${cols}) AS src WHERE (${f.where})`);
      } catch (e) {
        issues.push({
          file: ACCESS_FILE,
          path: formatPath(['personas', name, 'rowFilters', i, 'where']),
          expected: `a SQL condition over the columns of ${f.dataset}`,
          found: ((e as Error).message.split('\n')[0] ?? '').trim(),
        });
      }
    }
  }
  return issues;
}
