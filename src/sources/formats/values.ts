/** Text of a delimited file → typed values, by the source schema's column types, in the partner's locale. */

export interface LocaleOptions {
  /** `,` for Brazilian amounts such as 1.234,56. */
  decimalSeparator: '.' | ',';
  /** Digit grouping to drop before parsing (`.` in 1.234,56); empty for none. */
  thousandsSeparator: '' | '.' | ',' | ' ';
  /** Pattern of dates: yyyy, MM, dd (and literals), e.g. dd/MM/yyyy. */
  dateFormat: string;
  /** Pattern of timestamps: adds HH, mm, ss and optionally SSS, e.g. dd/MM/yyyy HH:mm:ss. */
  timestampFormat: string;
  /** Texts read as NULL. */
  nullValues: string[];
}

export type Convert = (text: string) => unknown;

/** A converter for a DuckDB column type: returns the JSON value the bronze writer reads, or an Error saying why not. */
export function converterFor(type: string, o: LocaleOptions, showValue = true): Convert {
  const found = (s: string) => (showValue ? `found "${s}"` : 'found a value withheld from messages (sensitive column)');
  const t = type.toUpperCase().replace(/\(.*$/, '').trim();
  const nulls = new Set(o.nullValues);
  const wrap =
    (f: (s: string) => unknown): Convert =>
    (s) =>
      nulls.has(s) ? null : f(s);
  if (/^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|INT[1248])$/.test(t)) {
    return wrap((s) => {
      const n = o.thousandsSeparator ? s.replaceAll(o.thousandsSeparator, '') : s;
      if (!/^[-+]?\d+$/.test(n)) return new Error(`expected an integer, ${found(s)}`);
      const v = Number(n);
      return Number.isSafeInteger(v) ? v : n.replace(/^\+/, '');
    });
  }
  if (/^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|FLOAT[48])$/.test(t)) {
    const exact = t === 'DECIMAL' || t === 'NUMERIC';
    return wrap((s) => {
      let n = o.thousandsSeparator ? s.replaceAll(o.thousandsSeparator, '') : s;
      if (o.decimalSeparator === ',') n = n.replace(',', '.');
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(n))
        return new Error(`expected a number with "${o.decimalSeparator}" for decimals, ${found(s)}`);
      // Exact types travel as text so DuckDB casts them without a trip through binary floating point.
      return exact ? n.replace(/^\+/, '') : Number(n);
    });
  }
  if (t === 'DATE') {
    const parse = datePattern(o.dateFormat);
    return wrap((s) => parse(s) ?? new Error(`expected a date ${o.dateFormat}, ${found(s)}`));
  }
  if (t === 'TIMESTAMP' || t === 'DATETIME' || t === 'TIMESTAMP_MS') {
    const parse = datePattern(o.timestampFormat);
    return wrap((s) => parse(s) ?? new Error(`expected a timestamp ${o.timestampFormat}, ${found(s)}`));
  }
  if (t === 'BOOLEAN' || t === 'BOOL') {
    return wrap((s) => {
      const v = s.toLowerCase();
      if (['true', 't', '1', 'y', 'yes', 's', 'sim'].includes(v)) return true;
      if (['false', 'f', '0', 'n', 'no', 'não', 'nao'].includes(v)) return false;
      return new Error(`expected a boolean, ${found(s)}`);
    });
  }
  return wrap((s) => s);
}

const TOKENS = [
  ['yyyy', 'y'],
  ['SSS', 'S'],
  ['MM', 'M'],
  ['dd', 'd'],
  ['HH', 'H'],
  ['mm', 'm'],
  ['ss', 's'],
] as const;
type Part = (typeof TOKENS)[number][1];

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A date/timestamp pattern (yyyy MM dd HH mm ss SSS; anything else literal) → a parser returning ISO text
 * (`2026-11-27` or `2026-11-27 13:05:00.000`), or undefined when the text does not match or is not a real date.
 * Every token has a fixed width, so the parser checks positions and digits directly (no regex, no Date): partner
 * files carry millions of dates.
 */
export function datePattern(pattern: string): (s: string) => string | undefined {
  const fields: { part: Part; at: number; width: number }[] = [];
  const literals: { at: number; code: number }[] = [];
  let at = 0;
  for (let i = 0; i < pattern.length; ) {
    const tok = TOKENS.find(([k]) => pattern.startsWith(k, i));
    if (tok) {
      fields.push({ part: tok[1], at, width: tok[0].length });
      at += tok[0].length;
      i += tok[0].length;
    } else {
      literals.push({ at, code: pattern.charCodeAt(i) });
      at++;
      i++;
    }
  }
  const has = (p: Part) => fields.some((f) => f.part === p);
  if (!has('y') || !has('M') || !has('d'))
    throw new Error(`date pattern "${pattern}" needs yyyy, MM and dd (and for timestamps HH, mm, ss)`);
  const width = at;
  const timed = has('H');
  const digitsAt = fields.flatMap((f) => Array.from({ length: f.width }, (_, k) => f.at + k));
  const slot = (p: Part) => fields.find((f) => f.part === p);
  const [y, mo, d, h, mi, se, ms] = (['y', 'M', 'd', 'H', 'm', 's', 'S'] as const).map(slot);
  const num = (s: string, f: { at: number; width: number } | undefined) => {
    if (!f) return 0;
    let v = 0;
    for (let k = 0; k < f.width; k++) v = v * 10 + (s.charCodeAt(f.at + k) - 48);
    return v;
  };
  const text = (s: string, f: { at: number; width: number } | undefined, fallback: string) => (f ? s.substr(f.at, f.width) : fallback);
  return (s) => {
    if (s.length !== width) return undefined;
    for (const l of literals) if (s.charCodeAt(l.at) !== l.code) return undefined;
    for (const k of digitsAt) {
      const c = s.charCodeAt(k);
      if (c < 48 || c > 57) return undefined;
    }
    const year = num(s, y);
    const month = num(s, mo);
    const day = num(s, d);
    if (month < 1 || month > 12 || day < 1) return undefined;
    const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (day > (DAYS[month - 1] as number) + (leap ? 1 : 0)) return undefined;
    const date = `${text(s, y, '')}-${text(s, mo, '')}-${text(s, d, '')}`;
    if (!timed) return date;
    if (num(s, h) > 23 || num(s, mi) > 59 || num(s, se) > 59) return undefined;
    return `${date} ${text(s, h, '00')}:${text(s, mi, '00')}:${text(s, se, '00')}.${text(s, ms, '000')}`;
  };
}
