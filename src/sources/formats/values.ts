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

const TOKENS: Record<string, { re: string; part: 'y' | 'M' | 'd' | 'H' | 'm' | 's' | 'S' }> = {
  yyyy: { re: '(\\d{4})', part: 'y' },
  MM: { re: '(\\d{2})', part: 'M' },
  dd: { re: '(\\d{2})', part: 'd' },
  HH: { re: '(\\d{2})', part: 'H' },
  mm: { re: '(\\d{2})', part: 'm' },
  ss: { re: '(\\d{2})', part: 's' },
  SSS: { re: '(\\d{3})', part: 'S' },
};

/**
 * A date/timestamp pattern (yyyy MM dd HH mm ss SSS; anything else literal) → a parser returning ISO text
 * (`2026-11-27` or `2026-11-27 13:05:00.000`), or undefined when the text does not match or is not a real date.
 */
export function datePattern(pattern: string): (s: string) => string | undefined {
  let re = '';
  const parts: string[] = [];
  for (let i = 0; i < pattern.length; ) {
    const tok = ['yyyy', 'SSS', 'MM', 'dd', 'HH', 'mm', 'ss'].find((k) => pattern.startsWith(k, i));
    if (tok) {
      re += TOKENS[tok]?.re;
      parts.push(TOKENS[tok]?.part as string);
      i += tok.length;
    } else {
      re += (pattern[i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i++;
    }
  }
  if (!parts.includes('y') || !parts.includes('M') || !parts.includes('d'))
    throw new Error(`date pattern "${pattern}" needs yyyy, MM and dd (and for timestamps HH, mm, ss)`);
  const matcher = new RegExp(`^${re}$`);
  const timed = parts.includes('H');
  return (s) => {
    const m = matcher.exec(s);
    if (!m) return undefined;
    const v: Record<string, number> = { y: 0, M: 1, d: 1, H: 0, m: 0, s: 0, S: 0 };
    parts.forEach((p, i) => {
      v[p] = Number(m[i + 1]);
    });
    const d = new Date(Date.UTC(v.y as number, (v.M as number) - 1, v.d, v.H, v.m, v.s, v.S));
    if (d.getUTCFullYear() !== v.y || d.getUTCMonth() !== (v.M as number) - 1 || d.getUTCDate() !== v.d) return undefined;
    if (d.getUTCHours() !== v.H || d.getUTCMinutes() !== v.m || d.getUTCSeconds() !== v.s) return undefined;
    const iso = d.toISOString();
    return timed ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.slice(0, 10);
  };
}
