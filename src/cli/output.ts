/**
 * Output for people and for programs. Results go to stdout (tables for a person, JSON with `--json`); messages and
 * progress go to stderr. Colour only when the stream is a terminal, never with `NO_COLOR` (https://no-color.org) or
 * `TERM=dumb`; `FORCE_COLOR` forces it. Progress shows on a terminal as one line rewritten in place, and elsewhere
 * (a pipe, a CI log) as a plain line every few seconds, so long work is never silent.
 */

type Stream = NodeJS.WriteStream;

export function colorEnabled(stream: Stream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

const STYLES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof STYLES;

/** `text` in `style` when `stream` takes colour. */
export function paint(style: Style, text: string, stream: Stream = process.stdout): string {
  if (!colorEnabled(stream)) return text;
  const [on, off] = STYLES[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/** The colour a status word reads in: green for good, red for bad, yellow for neither. */
export function statusStyle(status: string): Style | undefined {
  if (/^(succeeded|pass|ok|valid|met)$/.test(status)) return 'green';
  if (/^(failed|fail|error|breaking|BREAKING|exhausted|breached)$/.test(status)) return 'red';
  if (/^(skipped|warning|running|late|no data)$/.test(status)) return 'yellow';
  return undefined;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}

/** A result line for a person, on stdout. */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A message for a person, on stderr (never mixed into results a program may read). */
export function say(line: string): void {
  process.stderr.write(`${printable(line)}\n`);
}

/**
 * Text safe for a terminal: control characters (but line ends and tabs), DEL, C1 controls and bidirectional
 * overrides written as `\xHH` / `\u{HHHH}`. A partner's file name or a server's message can hold an escape
 * sequence that would otherwise rewrite the screen or hide what follows.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters escaped
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).toUpperCase().padStart(2, '0')}` : `\\u{${n.toString(16).toUpperCase()}}`;
  });
}

/** Progress of long work, on stderr. */
export class Progress {
  private readonly tty: boolean;
  private last = '';
  private lastPlainAt = 0;
  constructor(
    private readonly stream: Stream = process.stderr,
    /** Off a terminal, at most one line this often. */
    private readonly plainEveryMs = 5000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }
  update(line: string): void {
    if (this.tty) {
      this.last = line;
      this.stream.write(`\r\x1b[2K${line}`);
      return;
    }
    const now = Date.now();
    if (line === this.last || now - this.lastPlainAt < this.plainEveryMs) return;
    this.last = line;
    this.lastPlainAt = now;
    this.stream.write(`${line}\n`);
  }
  done(): void {
    if (this.tty && this.last) this.stream.write('\r\x1b[2K');
    this.last = '';
  }
}

export interface Column<R> {
  key: keyof R & string;
  /** Header text (default: the key). */
  header?: string;
  /** Right-aligned by default when the column's values are numbers. */
  align?: 'left' | 'right';
  /** How a value reads (default: numbers with thousands separators, objects as JSON, nothing for null). */
  format?: (value: R[keyof R], row: R) => string;
  /** The colour a cell reads in, on a terminal. */
  style?: (value: R[keyof R], row: R) => Style | undefined;
}

/**
 * An aligned text table: numbers right-aligned with thousands separators, a header (bold on a terminal) and a rule.
 * Columns are given as keys or as `Column`s.
 */
export function formatTable<R extends object>(
  columns: (Column<R> | (keyof R & string))[],
  rows: R[],
  stream: Stream = process.stdout,
): string {
  const cols = columns.map((c) => (typeof c === 'string' ? ({ key: c } as Column<R>) : c));
  const cells = rows.map((r) => cols.map((c) => (c.format ? c.format(r[c.key], r) : formatValue(r[c.key]))));
  const numeric = cols.map((c) => c.align === 'right' || (c.align === undefined && rows.some((r) => isNumber(r[c.key]))));
  const widths = cols.map((c, i) => Math.max((c.header ?? c.key).length, ...cells.map((row) => row[i]?.length ?? 0)));
  const pad = (v: string, i: number) => (numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0));
  const line = (vals: string[], style?: (i: number) => Style | undefined) =>
    vals
      .map((v, i) => {
        const s = style?.(i);
        return s ? paint(s, pad(v, i), stream) : pad(v, i);
      })
      .join('  ')
      .trimEnd();
  return [
    line(
      cols.map((c) => c.header ?? c.key),
      () => 'bold',
    ),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map((vals, r) => {
      const row = rows[r] as R;
      return line(vals, (i) => {
        const c = cols[i];
        return c?.style?.(row[c.key], row);
      });
    }),
  ].join('\n');
}

function isNumber(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'bigint';
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? formatCount(v) : v.toLocaleString('en-US', { maximumFractionDigits: 4 });
  if (typeof v === 'bigint') return formatCount(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return printable(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));
  return printable(String(v));
}

export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US');
}

/** `1 transaction`, `2 transactions`. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

/** A duration for a person: `850 ms`, `2.4 s`, `3 min 5 s`, `2 h 10 min`. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m - h * 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A fraction as a percentage: `99.5%`. */
export function formatPercent(f: number | null | undefined, digits = 1): string {
  if (f === null || f === undefined || Number.isNaN(f)) return '';
  return `${(f * 100).toFixed(digits).replace(/\.0+$/, '')}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
