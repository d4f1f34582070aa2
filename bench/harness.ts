// The bench's method (DESIGN §9): finmesh and its reference alternate (A-B, B-A) for at least five pairs in one
// process tree, each side timing the same scope, and a row reports min, median and max of each side, the median of
// the pairwise ratios, its bar and whether the bar is met. A row is one module under bench/rows/.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

/** What a row's figures are: how to print one (without the unit's name), and which way is better. */
export interface Unit {
  name: string;
  better: 'higher' | 'lower';
  format(v: number): string;
}

const si = (v: number) =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);

export const units = {
  rowsPerSecond: { name: 'rows/s', better: 'higher', format: si },
  eventsPerSecond: { name: 'events/s', better: 'higher', format: si },
  mibPerSecond: { name: 'MiB/s', better: 'higher', format: (v) => v.toFixed(0) },
  seconds: { name: 's', better: 'lower', format: (v) => (v < 10 ? v.toFixed(3) : v.toFixed(1)) },
  mib: { name: 'MiB', better: 'lower', format: (v) => v.toFixed(0) },
} satisfies Record<string, Unit>;

/** A figure with its unit. */
export function show(unit: Unit, v: number): string {
  return `${unit.format(v)} ${unit.name}`;
}

/** One measurement of one side: its figure in the row's unit, and anything else it observed (printed, in JSON). */
export interface Sample {
  value: number;
  extra?: Record<string, number>;
}

export interface Side {
  /** What ran, e.g. "DuckDB COPY read_json → parquet". */
  label: string;
  /** Runs once and returns its figure. The side times its own scope: the reference's scope must be the same. */
  sample(): Promise<number | Sample>;
}

/** A row opened and ready to sample: finmesh, and the reference it is compared with (if any). */
export interface Trial {
  finmesh: Side;
  reference?: Side;
  /** Untimed, before every sample of either side: back to the same starting state. */
  reset?(): Promise<void>;
  close?(): Promise<void>;
}

export interface Bar {
  /** As printed, e.g. "≥ 0.8×" or "≥ 200k events/s". */
  text: string;
  met(r: RowResult): boolean;
}

export interface BenchRow {
  /** Short name for `--only`. */
  id: string;
  title: string;
  unit: Unit;
  bar?: Bar;
  /** Prepares the row (fixtures, servers); `{ skip }` with the reason when something it needs is missing. */
  open(env: BenchEnv): Promise<Trial | { skip: string }>;
}

export interface BenchEnv {
  /** A scratch folder for this row, empty at open. */
  work: string;
  /** Where fixtures live across rows and runs (generated once, reused). */
  fixtures: string;
  /** Scale: rows of the main fixtures. */
  rows: number;
  pairs: number;
  /** Other `--set key=value` options, for rows with their own knobs. */
  settings: Record<string, string>;
  log(message: string): void;
}

export interface Stats {
  n: number;
  min: number;
  median: number;
  max: number;
  values: number[];
}

export interface RowResult {
  id: string;
  title: string;
  unit: string;
  finmesh?: { label: string; stats: Stats; extra: Record<string, Stats> };
  reference?: { label: string; stats: Stats; extra: Record<string, Stats> };
  /** finmesh ÷ reference per pair, in the row's unit; the median is the row's ratio. */
  ratio?: Stats;
  bar?: string;
  met?: boolean;
  skipped?: string;
  error?: string;
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length === 0 ? Number.NaN : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { n: s.length, min: s[0] ?? Number.NaN, median, max: s.at(-1) ?? Number.NaN, values };
}

/** Bar on the median of pairwise ratios (finmesh ÷ reference in the row's unit). */
export function ratioBar(op: '≥' | '≤', x: number, what = ''): Bar {
  return {
    text: `${op} ${x}×${what ? ` ${what}` : ''}`,
    met: (r) => r.ratio !== undefined && (op === '≥' ? r.ratio.median >= x : r.ratio.median <= x),
  };
}

/** Bar on finmesh's median figure. */
export function valueBar(op: '≥' | '<' | '≤', x: number, unit: Unit): Bar {
  return {
    text: `${op} ${show(unit, x)}`,
    met: (r) => {
      const m = r.finmesh?.stats.median;
      if (m === undefined) return false;
      return op === '≥' ? m >= x : op === '<' ? m < x : m <= x;
    },
  };
}

/** Seconds taken by `fn`. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function collect(samples: Sample[]): { stats: Stats; extra: Record<string, Stats> } {
  const keys = new Set(samples.flatMap((s) => Object.keys(s.extra ?? {})));
  const extra: Record<string, Stats> = {};
  for (const k of keys) extra[k] = stats(samples.map((s) => s.extra?.[k]).filter((v): v is number => v !== undefined));
  return { stats: stats(samples.map((s) => s.value)), extra };
}

/**
 * What the bench wrote is flushed to disk (`sync`) before what is timed next: a row that wrote gigabytes (the Kafka
 * broker's log) otherwise has them written back, and its folder's removal journaled, during the next row's first
 * samples; so are a row's fixtures, written as it opens. (Right after `stream-kafka` the latency row's first p99 read
 * 3.1 and 4.5 s in two runs, against 1.3 s run alone; with the flush, 0.95 s in one run and 3.3 s in the next — the
 * write-back is not all of what the row before leaves behind.)
 */
function settle(log: (m: string) => void): void {
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
  } catch (e) {
    // No `sync` (not a Unix): nothing to flush. Anything else is said, and the bench goes on.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`  sync before the next samples failed: ${(e as Error).message}`);
  }
}

/** Opens a row, samples it in alternating pairs, closes it and judges it against its bar. */
export async function runRow(row: BenchRow, env: BenchEnv): Promise<RowResult> {
  const result: RowResult = { id: row.id, title: row.title, unit: row.unit.name, bar: row.bar?.text };
  let trial: Trial | { skip: string } | undefined;
  try {
    trial = await row.open(env);
    if ('skip' in trial) {
      result.skipped = trial.skip;
      return result;
    }
    const t = trial;
    settle(env.log);
    const fin: Sample[] = [];
    const ref: Sample[] = [];
    const one = async (side: Side, into: Sample[], i: number) => {
      await t.reset?.();
      const s = await side.sample();
      const sample = typeof s === 'number' ? { value: s } : s;
      into.push(sample);
      const extra = Object.entries(sample.extra ?? {})
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`)
        .join(', ');
      env.log(`  ${row.id} ${i + 1}/${env.pairs} ${side.label}: ${show(row.unit, sample.value)}${extra ? ` (${extra})` : ''}`);
    };
    for (let i = 0; i < env.pairs; i++) {
      // A-B, then B-A: whatever the order costs or gives (caches, a neighbour's load) falls on both sides alike.
      const order: [Side, Sample[]][] = [[t.finmesh, fin]];
      if (t.reference) order.push([t.reference, ref]);
      if (i % 2 === 1) order.reverse();
      for (const [side, into] of order) await one(side, into, i);
    }
    result.finmesh = { label: t.finmesh.label, ...collect(fin) };
    if (t.reference) {
      result.reference = { label: t.reference.label, ...collect(ref) };
      result.ratio = stats(fin.map((f, i) => f.value / (ref[i]?.value ?? Number.NaN)));
    }
    if (row.bar) result.met = row.bar.met(result);
  } catch (e) {
    result.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    if (row.bar) result.met = false;
  } finally {
    if (trial && !('skip' in trial)) await trial.close?.().catch((e) => env.log(`  ${row.id}: close failed: ${(e as Error).message}`));
  }
  return result;
}

export interface BenchReport {
  date: string;
  node: string;
  cpus: number;
  pairs: number;
  rows: number;
  /** 1-minute load average before and after: this machine is shared, and the figures are only as quiet as it was. */
  loadavg: { before: number; after: number };
  results: RowResult[];
}

export function report(results: RowResult[], o: { pairs: number; rows: number; loadBefore: number }): BenchReport {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    pairs: o.pairs,
    rows: o.rows,
    loadavg: { before: o.loadBefore, after: loadavg()[0] ?? 0 },
    results,
  };
}

/** The report as a table: each side's median [min–max], the median pairwise ratio, the bar, and BELOW BAR where missed. */
export function formatReport(r: BenchReport, rowsById: Map<string, BenchRow>): string {
  const header = ['row', 'finmesh: median [min–max]', 'reference: median [min–max]', 'ratio', 'bar', ''];
  const lines: string[][] = [];
  const notes: string[] = [];
  for (const res of r.results) {
    const unit = rowsById.get(res.id)?.unit ?? units.seconds;
    const side = (s: RowResult['finmesh']) =>
      s ? `${unit.format(s.stats.median)} [${unit.format(s.stats.min)}–${unit.format(s.stats.max)}] ${unit.name}` : '-';
    if (res.skipped || res.error) {
      lines.push([
        res.title,
        res.skipped ? `skipped: ${res.skipped}` : 'failed (below)',
        '',
        '',
        res.bar ?? 'no bar',
        res.error ? (res.bar ? 'BELOW BAR' : 'failed') : '',
      ]);
      if (res.error) notes.push(`${res.id} failed: ${res.error.split('\n').slice(0, 4).join('\n    ')}`);
      continue;
    }
    lines.push([
      res.title,
      side(res.finmesh),
      side(res.reference),
      res.ratio ? `${res.ratio.median.toFixed(2)}×` : '-',
      res.bar ?? 'no bar',
      res.met === false ? 'BELOW BAR' : res.met ? 'met' : res.bar ? '' : 'figures only',
    ]);
    const labels = [res.finmesh, res.reference].filter((s) => s !== undefined).map((s) => s.label);
    notes.push(`${res.id}: ${labels.join(' vs ')}`);
    for (const s of [res.finmesh, res.reference]) {
      if (!s) continue;
      const extra = Object.entries(s.extra).map(([k, v]) => `${k} ${fmt(v.median)} [${fmt(v.min)}–${fmt(v.max)}]`);
      if (extra.length > 0) notes.push(`  ${s.label}: ${extra.join('; ')}`);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const line = (v: string[]) =>
    v
      .map((x, i) => x.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  return [
    `finmesh bench — ${r.pairs} alternating pairs per row (A-B, B-A), ${r.rows.toLocaleString('en-US')} rows, Node ${r.node}, ${r.cpus} CPUs, load average ${r.loadavg.before.toFixed(1)} → ${r.loadavg.after.toFixed(1)}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...lines.map(line),
    '',
    'ratio: the median over pairs of finmesh ÷ reference, in the row’s unit (for seconds and MiB: × the reference’s).',
    'what ran (finmesh vs reference), and the medians [min–max] of what else each side observed:',
    ...notes.map((n) => `  ${n}`),
  ].join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString('en-US') : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
}
