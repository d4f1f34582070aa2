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

/** A bad value as a rejection message shows it: quoted, or withheld (a sensitive column's). */
export function shownValue(value: string, showValue: boolean): string {
  return showValue ? `"${value}"` : 'a value withheld from messages (sensitive column)';
}

/** What a rejection message says it found. */
export function foundText(value: string, showValue: boolean): string {
  return `found ${shownValue(value, showValue)}`;
}

/** A converter for a DuckDB column type: returns the JSON value the bronze writer reads, or an Error saying why not. */
export function converterFor(type: string, o: LocaleOptions, showValue = true): Convert {
  const found = (s: string) => foundText(s, showValue);
  const t = type.toUpperCase().replace(/\(.*$/, '').trim();
  const nulls = new Set(o.nullValues);
  const wrap =
    (f: (s: string) => unknown): Convert =>
    (s) =>
      nulls.has(s) ? null : f(s);
  const range = INTEGER_RANGES[t];
  if (range) {
    // A value out of the column type's range is a bad value here, with its reason, not a failed load of the file.
    return wrap((s) => {
      const n = o.thousandsSeparator ? s.replaceAll(o.thousandsSeparator, '') : s;
      if (!/^[-+]?\d+$/.test(n)) return new Error(`expected an integer, ${found(s)}`);
      return integerJson(n, range) ?? new Error(`expected an integer from ${range[0]} to ${range[1]} (${t}), ${found(s)}`);
    });
  }
  if (/^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|FLOAT[48])$/.test(t)) {
    const exact = t === 'DECIMAL' || t === 'NUMERIC';
    const [precision, scale] = exact ? decimalShape(type) : [0, 0];
    const single = t === 'FLOAT' || t === 'REAL' || t === 'FLOAT4';
    return wrap((s) => {
      let n = o.thousandsSeparator ? s.replaceAll(o.thousandsSeparator, '') : s;
      if (o.decimalSeparator === ',') n = n.replace(',', '.');
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(n))
        return new Error(`expected a number with "${o.decimalSeparator}" for decimals, ${found(s)}`);
      if (exact) {
        if (!fitsDecimal(n, precision, scale))
          return new Error(
            `expected a number of at most ${precision - scale} digits before the decimal separator (${t}(${precision},${scale})), ${found(s)}`,
          );
        // Exact types travel as text so DuckDB casts them without a trip through binary floating point.
        return n.replace(/^\+/, '');
      }
      const v = Number(n);
      // Past the type's largest value DuckDB reads infinity, and JSON has no infinity: a bad value, not a NULL.
      if (!Number.isFinite(single ? Math.fround(v) : v)) return new Error(`expected a finite number (${t}), ${found(s)}`);
      return v;
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

/** The integer types' ranges, by DuckDB's names. */
const INTEGER_RANGES: Record<string, [bigint, bigint]> = (() => {
  const signed = (bits: bigint): [bigint, bigint] => [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
  const unsigned = (bits: bigint): [bigint, bigint] => [0n, 2n ** bits - 1n];
  return {
    TINYINT: signed(8n),
    INT1: signed(8n),
    SMALLINT: signed(16n),
    INT2: signed(16n),
    INTEGER: signed(32n),
    INT: signed(32n),
    INT4: signed(32n),
    BIGINT: signed(64n),
    INT8: signed(64n),
    HUGEINT: signed(128n),
    UTINYINT: unsigned(8n),
    USMALLINT: unsigned(16n),
    UINTEGER: unsigned(32n),
    UBIGINT: unsigned(64n),
  };
})();

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The range of an integer column type (`INTEGER`, `UBIGINT`…); undefined for other types. */
export function integerRange(type: string): [bigint, bigint] | undefined {
  return INTEGER_RANGES[type.toUpperCase().replace(/\(.*$/, '').trim()];
}

/**
 * Integer text (`[-+]digits`) as the JSON value bronze reads — a number when exact in JavaScript, else its digits as
 * text — or undefined when it is outside `range`.
 */
export function integerJson(n: string, range: [bigint, bigint]): number | string | undefined {
  const [lo, hi] = range;
  const v = Number(n);
  if (Number.isSafeInteger(v)) {
    const inside = hi <= MAX_SAFE ? v >= Number(lo) && v <= Number(hi) : lo !== 0n || v >= 0;
    return inside ? v : undefined;
  }
  const big = BigInt(n);
  return big < lo || big > hi ? undefined : big.toString();
}

/** A DECIMAL type's precision and scale (DuckDB's DECIMAL alone is DECIMAL(18,3); DECIMAL(p) has scale 0). */
export function decimalShape(type: string): [number, number] {
  const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(type);
  if (!m) return [18, 3];
  return [Number(m[1]), Number(m[2] ?? 0)];
}

/**
 * Whether a number's text (`[-+]digits[.digits][e±exponent]`) fits DECIMAL(precision, scale) as DuckDB casts it:
 * rounded half away from zero to `scale` decimals, at most `precision` digits in all.
 */
export function fitsDecimal(text: string, precision: number, scale: number): boolean {
  const m = /^[-+]?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return false;
  const fraction = m[2] ?? '';
  const all = `${m[1] ?? ''}${fraction}`;
  const digits = all.replace(/^0+/, '');
  if (digits === '') return true;
  // The value is digits × 10^shift; scaled to `scale` decimals, its whole part has `whole` digits (before rounding).
  const shift = Number(m[3] ?? 0) - fraction.length;
  const whole = digits.length + shift + scale;
  if (whole < precision) return true;
  if (whole > precision) return false;
  // Exactly `precision` digits: rounding up may carry into one more (9.995 in DECIMAL(3,2)).
  const dropped = digits.length - whole;
  return !(dropped > 0 && /^9+$/.test(digits.slice(0, whole)) && (digits[whole] as string) >= '5');
}

/** The fields of a date pattern: their letters (longest first where they share one) and the part they stand for. */
const TOKENS = [
  ['yyyy', 'y'],
  ['SSS', 'S'],
  ['MM', 'M'],
  ['dd', 'd'],
  ['HH', 'H'],
  ['mm', 'm'],
  ['ss', 's'],
] as const;
export type DatePart = (typeof TOKENS)[number][1];
/** A date pattern's field (a fixed run of digits) or one literal character. */
export type DateToken = { part: DatePart; width: number } | { literal: string };

/** A date pattern (yyyy MM dd HH mm ss SSS; anything else literal) as its tokens, in order. */
export function dateTokens(pattern: string): DateToken[] {
  const tokens: DateToken[] = [];
  for (let i = 0; i < pattern.length; ) {
    const tok = TOKENS.find(([k]) => pattern.startsWith(k, i));
    if (tok) {
      tokens.push({ part: tok[1], width: tok[0].length });
      i += tok[0].length;
    } else tokens.push({ literal: pattern[i++] as string });
  }
  return tokens;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A date/timestamp pattern (yyyy MM dd HH mm ss SSS; anything else literal) → a parser returning ISO text
 * (`2026-11-27` or `2026-11-27 13:05:00.000`), or undefined when the text does not match or is not a real date.
 * Every token has a fixed width, so the parser checks positions and digits directly (no regex, no Date): partner
 * files carry millions of dates.
 */
export function datePattern(pattern: string): (s: string) => string | undefined {
  const fields: { part: DatePart; at: number; width: number }[] = [];
  const literals: { at: number; code: number }[] = [];
  let at = 0;
  for (const t of dateTokens(pattern)) {
    if ('part' in t) {
      fields.push({ part: t.part, at, width: t.width });
      at += t.width;
    } else literals.push({ at: at++, code: t.literal.charCodeAt(0) });
  }
  const has = (p: DatePart) => fields.some((f) => f.part === p);
  if (!has('y') || !has('M') || !has('d'))
    throw new Error(`date pattern "${pattern}" needs yyyy, MM and dd (and for timestamps HH, mm, ss)`);
  const width = at;
  const timed = has('H');
  const digitsAt = fields.flatMap((f) => Array.from({ length: f.width }, (_, k) => f.at + k));
  const slot = (p: DatePart) => fields.find((f) => f.part === p);
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
