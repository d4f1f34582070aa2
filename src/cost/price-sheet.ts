import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { zodIssues } from '../config/issues.js';
import type { Project } from '../config/project.js';
import { ConfigError, FinmeshError, type ValidationIssue } from '../core/errors.js';

const priceLineSchema = z
  .object({
    /** What finmesh prices with it: `gcs.storage.standard`, `bigquery.on_demand`, … */
    id: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'a dotted lower-case id such as gcs.storage.standard'),
    service: z.string().min(1),
    sku: z.string().min(1),
    /** The region it applies to; none: everywhere a regional line does not say otherwise. */
    region: z.string().min(1).optional(),
    /** The unit the price is per, in the FOCUS unit format (`GiB-Months`, `1000 Requests`, `vCPU-Seconds`). */
    unit: z
      .string()
      .regex(
        /^([0-9]+ )?[A-Za-z][A-Za-z0-9]*( [A-Za-z][A-Za-z0-9]*)*(-(Years|Months|Days|Hours|Minutes|Seconds)|\/(Year|Month|Day|Hour|Minute|Second))?$/,
        'a unit in the FOCUS unit format, such as GiB-Months, 1000 Requests or vCPU-Seconds',
      ),
    price: z.number().nonnegative('a price of 0 or more'),
    /** Where the figure comes from (a URL, or who agreed it). */
    source: z.string().min(1),
  })
  .strict();

const priceSheetSchema = z
  .object({
    apiVersion: z.literal('finmesh/v1'),
    kind: z.literal('PriceSheet'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as USD'),
    /** The date the prices were taken (YYYY-MM-DD). */
    asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2026-05-01'),
    prices: z.array(priceLineSchema),
  })
  .strict();

export type PriceLine = z.infer<typeof priceLineSchema>;

/** A price line as used: where it came from (the shipped sheet or the project's). */
export interface Price extends PriceLine {
  file: string;
  asOf: string;
}

/** The price sheet shipped with finmesh. */
export const SHIPPED_PRICES = fileURLToPath(new URL('./prices.yaml', import.meta.url));

/**
 * The prices a project's usage is rated with: the shipped sheet, with the project's own sheet (`cost.prices`, when the
 * file exists) replacing lines of the same id and region and adding others. A project in another currency than the
 * shipped sheet's uses its own lines only. Lookups pick the line for the project's region, else the line without one.
 */
export class PriceSheet {
  private constructor(
    readonly currency: string,
    readonly region: string,
    private readonly lines: Price[],
    /** The files read, shipped first. */
    readonly files: string[],
  ) {}

  /**
   * Loads the sheets. Throws `CONFIG_INVALID` naming the file, the path in it, what was expected and what was found,
   * for a sheet that does not parse or validate.
   */
  static load(project: Project): PriceSheet {
    const cost = project.config.cost;
    const shipped = readSheet(SHIPPED_PRICES, 'finmesh/prices.yaml');
    const ownPath = resolve(project.root, cost.prices);
    const own = existsSync(ownPath) ? readSheet(ownPath, relative(project.root, ownPath) || cost.prices) : undefined;
    const files = [shipped.file, ...(own ? [own.file] : [])];
    if (own && own.sheet.currency !== cost.currency)
      throw new FinmeshError(
        'CONFIG_INVALID',
        `${own.file}: currency: expected ${cost.currency} (finmesh.yaml cost.currency), found ${own.sheet.currency}`,
      );
    const base = shipped.sheet.currency === cost.currency ? tag(shipped) : [];
    const overrides = own ? tag(own) : [];
    const key = (l: PriceLine) => `${l.id}@${l.region ?? '*'}`;
    const merged = new Map(base.map((l) => [key(l), l]));
    for (const l of overrides) merged.set(key(l), l);
    return new PriceSheet(cost.currency, cost.region, [...merged.values()], files);
  }

  /** The price of `id` in the project's region; undefined when no line gives one. */
  find(id: string): Price | undefined {
    return this.lines.find((l) => l.id === id && l.region === this.region) ?? this.lines.find((l) => l.id === id && l.region === undefined);
  }

  /** Like `find`, but a missing price is a configuration error that says where to add it. */
  get(id: string): Price {
    const p = this.find(id);
    if (p) return p;
    throw new FinmeshError(
      'CONFIG_INVALID',
      `no price for ${id} in ${this.region} (${this.currency}): add a line with id ${id} to ${this.files.at(-1) ?? 'prices.yaml'}`,
    );
  }

  /** Every line that applies in the project's region. */
  all(): Price[] {
    const ids = [...new Set(this.lines.map((l) => l.id))];
    return ids.map((id) => this.find(id)).filter((p): p is Price => p !== undefined);
  }
}

function tag(s: { sheet: z.infer<typeof priceSheetSchema>; file: string }): Price[] {
  return s.sheet.prices.map((l) => ({ ...l, file: s.file, asOf: s.sheet.asOf }));
}

function readSheet(path: string, name: string): { sheet: z.infer<typeof priceSheetSchema>; file: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FinmeshError('CONFIG_INVALID', `${name}: cannot read the price sheet: ${(cause as Error).message}`, { cause });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new FinmeshError(
      'CONFIG_INVALID',
      `${name}:${(e?.linePos?.[0]?.line ?? 0) || ''}: expected YAML, found ${e?.message ?? 'a syntax error'}`,
    );
  }
  const raw = doc.toJS();
  const r = priceSheetSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(zodIssues(name, raw, r.error));
  return { sheet: r.data, file: name };
}

/** The problems of a project's price sheets, for `finmesh validate` (none when they load). */
export function priceSheetIssues(project: Project): ValidationIssue[] {
  try {
    PriceSheet.load(project);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    if (e instanceof FinmeshError) {
      const [file = project.config.cost.prices, ...rest] = e.message.split(': ');
      return [{ file, path: '', expected: 'a price sheet finmesh can read', found: rest.join(': ') || e.message }];
    }
    throw e;
  }
}
