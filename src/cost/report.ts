import type { Project } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import type { UsageRecord, UsageStore } from '../metadata/metadata-store.js';
import { Attributor } from './attribution.js';
import { PriceSheet } from './price-sheet.js';
import { type RatedLine, rate, total } from './rating.js';

export const COST_DIMENSIONS = ['product', 'domain', 'component', 'source', 'cost-center'] as const;
export type CostDimension = (typeof COST_DIMENSIONS)[number];

/** A calendar month (UTC), and the moment the report is made. */
export interface Period {
  month: string;
  start: Date;
  end: Date;
  now: Date;
}

/** The month `YYYY-MM` (default: the current one at `now`). Throws `CONFIG_INVALID` for another shape. */
export function monthPeriod(month: string | undefined, now: Date): Period {
  const m = month ?? now.toISOString().slice(0, 7);
  const match = /^(\d{4})-(\d{2})$/.exec(m);
  const year = Number(match?.[1]);
  const mon = Number(match?.[2]);
  if (!match || mon < 1 || mon > 12) throw new FinmeshError('CONFIG_INVALID', `--month: expected a month such as 2026-11, found "${m}"`);
  return { month: m, start: new Date(Date.UTC(year, mon - 1, 1)), end: new Date(Date.UTC(year, mon, 1)), now };
}

/** Everything a report is made from: the month's usage rows and their priced lines. */
export interface PricedUsage {
  period: Period;
  sheet: PriceSheet;
  records: UsageRecord[];
  lines: RatedLine[];
}

/** Reads the month's usage and prices it. */
export async function pricedUsage(project: Project, usage: UsageStore, period: Period): Promise<PricedUsage> {
  const sheet = PriceSheet.load(project);
  const records = await usage.list({ since: period.start, until: period.end });
  return { period, sheet, records, lines: rate(records, sheet, project.config.cost) };
}

/** Month to date, and a forecast to the month's end at the recent rate. */
export interface Spend {
  monthToDate: number;
  forecast: number;
}

/** The shortest window a rate is measured over: a burst of a few seconds is not extrapolated as if it were a day. */
const MIN_RATE_WINDOW_MS = 60_000;
/** The longest: the rate is the last week's. */
const MAX_RATE_WINDOW_MS = 7 * 86_400_000;

/**
 * Month to date is the sum of the lines' costs. The forecast adds the rest of the month at the rate of the last
 * week (or of the month so far, if shorter): the cost of the rows measured in that window over the window's length,
 * from the first of those measurements to now, at least a minute. A past month's forecast is what it cost.
 */
export function spend(lines: RatedLine[], period: Period): Spend {
  const monthToDate = total(lines);
  const now = Math.min(period.now.getTime(), period.end.getTime());
  if (now >= period.end.getTime()) return { monthToDate, forecast: monthToDate };
  const since = Math.max(period.start.getTime(), now - MAX_RATE_WINDOW_MS);
  const recent = lines.filter((l) => !l.avoided && l.record.lastAt.getTime() >= since);
  if (recent.length === 0) return { monthToDate, forecast: monthToDate };
  const first = Math.max(since, Math.min(...recent.map((l) => l.record.firstAt.getTime())));
  const window = Math.max(MIN_RATE_WINDOW_MS, now - first);
  const perMs = total(recent) / window;
  return { monthToDate, forecast: monthToDate + perMs * (period.end.getTime() - now) };
}

export interface CostRow extends Spend {
  /** The product, domain, component, source or cost centre. */
  name: string;
  domain?: string | undefined;
  costCenter?: string | undefined;
  /** By product: its own runs and storage, and its share of what it reads (allocated by bytes read). */
  direct?: number;
  upstream?: number;
  /** Month-to-date cost per service (Cloud Storage, BigQuery, …). */
  services: Record<string, number>;
}

export interface CostReport {
  month: string;
  currency: string;
  region: string;
  priceSheet: { files: string[] };
  by: CostDimension;
  /** Everything the month's usage cost (not double counting the shares of upstream products). */
  total: Spend;
  rows: CostRow[];
  /** Cost no product or source is attributed (the process between runs, metric samples, the metadata store). */
  shared: Spend;
}

/** The month's cost grouped by a dimension; by product, each product's own cost plus its share of what it reads. */
export function costReport(project: Project, priced: PricedUsage, by: CostDimension): CostReport {
  const { lines, period } = priced;
  const groups = new Map<string, RatedLine[]>();
  const keyOf = (l: RatedLine): string | undefined => {
    const r = l.record;
    switch (by) {
      case 'product':
        return r.product;
      case 'domain':
        return r.domain;
      case 'component':
        return r.component;
      case 'source':
        return r.source;
      case 'cost-center':
        return r.costCenter;
    }
  };
  const shared: RatedLine[] = [];
  for (const l of lines) {
    const k = keyOf(l);
    if (k === undefined) shared.push(l);
    else groups.set(k, [...(groups.get(k) ?? []), l]);
  }
  const rows: CostRow[] = [];
  if (by === 'product') {
    const allocation = allocate(project, priced.records, lines);
    for (const p of project.products) {
      const own = groups.get(p.name) ?? [];
      const up = allocation.upstream.get(`product:${p.name}`) ?? [];
      const direct = spend(own, period);
      const share = sumSpend(up.map((u) => scale(spend(u.lines, period), u.fraction)));
      rows.push({
        name: p.name,
        domain: p.domain,
        costCenter: p.settings.costCenter ?? project.domains.find((d) => d.name === p.domain)?.config.costCenter,
        direct: direct.monthToDate,
        upstream: share.monthToDate,
        monthToDate: direct.monthToDate + share.monthToDate,
        forecast: direct.forecast + share.forecast,
        services: byService([...own.map((l) => ({ l, f: 1 })), ...up.flatMap((u) => u.lines.map((l) => ({ l, f: u.fraction })))]),
      });
    }
  } else {
    for (const [name, ls] of groups) {
      const first = ls[0]?.record;
      rows.push({
        name,
        domain: by === 'source' ? first?.domain : undefined,
        ...spend(ls, period),
        services: byService(ls.map((l) => ({ l, f: 1 }))),
      });
    }
  }
  rows.sort((a, b) => b.monthToDate - a.monthToDate || a.name.localeCompare(b.name));
  return {
    month: period.month,
    currency: priced.sheet.currency,
    region: priced.sheet.region,
    priceSheet: { files: priced.sheet.files },
    by,
    total: spend(lines, period),
    rows,
    shared: spend(shared, period),
  };
}

function byService(ls: { l: RatedLine; f: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { l, f } of ls) if (!l.avoided) out[l.price.service] = (out[l.price.service] ?? 0) + l.cost * f;
  return out;
}

function scale(s: Spend, f: number): Spend {
  return { monthToDate: s.monthToDate * f, forecast: s.forecast * f };
}

function sumSpend(ss: Spend[]): Spend {
  return ss.reduce((a, b) => ({ monthToDate: a.monthToDate + b.monthToDate, forecast: a.forecast + b.forecast }), {
    monthToDate: 0,
    forecast: 0,
  });
}

/** A node of the mesh a cost is attributed to: `product:<name>` or `source:<name>`. */
type Node = string;

export interface Allocation {
  /** Bytes each reader read from each input this month (the product's own files excluded). */
  reads: Map<Node, Map<Node, number>>;
  /** Per reader, the lines of its upstream nodes (their own and, recursively, theirs) and the fraction it bears. */
  upstream: Map<Node, { from: Node; lines: RatedLine[]; fraction: number }[]>;
}

/**
 * Shares upstream cost by bytes read. Each product or source bears its own lines; a product that read `b` bytes from
 * an input of which all readers together read `B` also bears `b / B` of that input's full cost (its own lines and its
 * share of its own inputs, recursively). An input nobody read this month keeps its cost. Reads come from the
 * `engine.bytes_scanned` and `engine.bytes_billed` rows of the readers' runs, by the dataset they read (`input`).
 */
export function allocate(project: Project, records: UsageRecord[], lines: RatedLine[]): Allocation {
  const attributor = new Attributor(project);
  const nodeOf = (r: { product?: string | undefined; source?: string | undefined }): Node | undefined =>
    r.product ? `product:${r.product}` : r.source ? `source:${r.source}` : undefined;
  const own = new Map<Node, RatedLine[]>();
  for (const l of lines) {
    const n = nodeOf(l.record);
    if (n) own.set(n, [...(own.get(n) ?? []), l]);
  }
  // Reads come from every row, priced or not: a project on edition pricing still shares by bytes read.
  const reads = new Map<Node, Map<Node, number>>();
  const readers = new Map<Node, number>();
  for (const r of records) {
    if (r.meter !== 'engine.bytes_scanned' && r.meter !== 'engine.bytes_billed') continue;
    const reader = nodeOf(r);
    const input = r.attributes.input;
    if (!reader || !input || input === 'staging' || input === 'outside-the-lake') continue;
    const from = nodeOf(attributor.owner(input));
    if (!from || from === reader) continue;
    const m = reads.get(reader) ?? new Map<Node, number>();
    m.set(from, (m.get(from) ?? 0) + r.quantity);
    reads.set(reader, m);
    readers.set(from, (readers.get(from) ?? 0) + r.quantity);
  }
  const upstream = new Map<Node, { from: Node; lines: RatedLine[]; fraction: number }[]>();
  const full = (node: Node, path: Set<Node>): { from: Node; lines: RatedLine[]; fraction: number }[] => {
    const known = upstream.get(node);
    if (known) return known;
    const out: { from: Node; lines: RatedLine[]; fraction: number }[] = [];
    for (const [from, bytes] of reads.get(node) ?? []) {
      if (path.has(from)) continue;
      const fraction = bytes / (readers.get(from) ?? bytes);
      out.push({ from, lines: own.get(from) ?? [], fraction });
      for (const u of full(from, new Set([...path, from]))) out.push({ from: u.from, lines: u.lines, fraction: u.fraction * fraction });
    }
    upstream.set(node, out);
    return out;
  };
  for (const node of reads.keys()) full(node, new Set([node]));
  return { reads, upstream };
}
