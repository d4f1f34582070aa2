import { z } from 'zod';
import { ENCODINGS, splitLines } from './decode.js';
import { type ParsedFile, type ParseText, parseText, type RowSink, TruncatedInput } from './format.js';
import { decimalShape, fitsDecimal, foundText, integerJson, integerRange, shownValue } from './values.js';

const field = z
  .object({
    name: z.string(),
    /** 1-based position of the first character. */
    start: z.number().int().positive(),
    length: z.number().int().positive(),
    type: z.enum(['string', 'integer', 'decimal', 'date']).default('string'),
    /** Implied decimal places for `decimal` (EDI amounts carry no separator). */
    scale: z.number().int().nonnegative().default(2),
    /** For `date`: yyyyMMdd or ddMMyyyy. */
    format: z.enum(['yyyyMMdd', 'ddMMyyyy']).default('yyyyMMdd'),
  })
  .strict();

export const layoutSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    encoding: z.enum(ENCODINGS).default('utf-8'),
    /** Record length; shorter lines are padded, longer ones are an error. */
    recordLength: z.number().int().positive().optional(),
    records: z
      .array(
        z
          .object({
            type: z.string(),
            role: z.enum(['header', 'detail', 'trailer', 'other']),
            /** The record is this type when every position matches. */
            match: z.array(z.object({ start: z.number().int().positive(), value: z.string() }).strict()).min(1),
            fields: z.array(field).min(1),
          })
          .strict(),
      )
      .min(1),
    trailer: z
      .object({
        /** Trailer field that must equal the number of detail records. */
        count: z.string().optional(),
        /** Trailer field that must equal the sum of a detail field. */
        total: z.object({ field: z.string(), sumOf: z.string() }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Layout = z.infer<typeof layoutSchema>;

/**
 * A fixed-width layout as a streaming parser: detail rows out, bad lines rejected with record type, line and field.
 * A field named like a column of `schema` is also checked against that column's type (an integer's range, a
 * DECIMAL's digits), so that a value bronze cannot hold rejects its line rather than failing the file's load; a
 * sensitive column's value is kept out of rejection messages (the raw line still goes to quarantine).
 */
export function fixedWidthParser(layout: Layout, schema: { name: string; type: string; sensitive?: boolean }[] = []): ParseText {
  const columns = new Map(schema.map((c) => [c.name, c]));
  const records = layout.records.map((r) => ({ ...r, fields: r.fields.map((f) => compileField(f, columns.get(f.name))) }));
  return async (chunks, file, sink) => {
    const state = new FixedWidthState(layout, records, file, sink);
    for await (const { first, lines } of splitLines(chunks))
      for (let i = 0; i < lines.length; i++) state.line(lines[i] as string, first + i);
    return state.finish();
  };
}

type Field = z.infer<typeof field>;

/** A layout field with what its bronze column asks of it, worked out once per layout rather than per value. */
interface CompiledField extends Field {
  /** The bronze column's type, when a column has the field's name. */
  column?: string | undefined;
  /** An integer column's range. */
  range?: [bigint, bigint] | undefined;
  /** A DECIMAL column's precision and scale. */
  decimal?: [number, number] | undefined;
  /** The value may appear in rejection messages (not a sensitive column's). */
  show: boolean;
}

function compileField(f: Field, column: { type: string; sensitive?: boolean } | undefined): CompiledField {
  const type = column?.type;
  return {
    ...f,
    column: type,
    range: type && f.type === 'integer' ? integerRange(type) : undefined,
    decimal: type && f.type === 'decimal' && /^\s*(DECIMAL|NUMERIC)\b/i.test(type) ? decimalShape(type) : undefined,
    show: !column?.sensitive,
  };
}

type CompiledRecord = Omit<Layout['records'][number], 'fields'> & { fields: CompiledField[] };

/** Parses a whole fixed-width text in memory. */
export function parseFixedWidth(text: string, layout: Layout, file: string): Promise<ParsedFile> {
  return parseText(fixedWidthParser(layout), text, file);
}

class FixedWidthState {
  private details = 0;
  private rejected = 0;
  private trailer: Record<string, unknown> | undefined;
  private trailerLine = 0;
  /** Detail records (accepted or rejected) seen before the trailer. */
  private detailsBeforeTrailer = 0;
  /** Sum in cents of the trailer's `sumOf` field over every detail line, rejected ones included. */
  private totalCents = 0;
  private readonly sumOf: string | undefined;

  constructor(
    private readonly layout: Layout,
    private readonly records: CompiledRecord[],
    private readonly file: string,
    private readonly sink: RowSink,
  ) {
    this.sumOf = layout.trailer?.total?.sumOf;
  }

  line(raw: string, line: number): void {
    const { layout, file } = this;
    const rec = this.records.find((r) => r.match.every((m) => raw.substr(m.start - 1, m.value.length) === m.value));
    if (!rec) {
      this.reject(line, `${file}: line ${line}: no record type of layout ${layout.name} matches`, raw);
      return;
    }
    if (layout.recordLength && raw.length > layout.recordLength) {
      this.reject(
        line,
        `${file}: line ${line}: ${rec.type} record is ${raw.length} characters, the layout says ${layout.recordLength}`,
        raw,
      );
      return;
    }
    const values: Record<string, unknown> = {};
    for (const f of rec.fields) {
      const v = convert(raw.substr(f.start - 1, f.length), f);
      if (v instanceof Error) {
        if (rec.role === 'detail') {
          // Amounts of detail lines rejected for another field still count toward the trailer total.
          const sumField = rec.fields.find((x) => x.name === this.sumOf);
          const amount = sumField && sumField !== f ? convert(raw.substr(sumField.start - 1, sumField.length), sumField) : undefined;
          if (typeof amount === 'number' || typeof amount === 'string') this.totalCents += Math.round(Number(amount) * 100);
        }
        this.reject(
          line,
          `${file}: line ${line}: ${rec.type} record, field ${f.name} (positions ${f.start}-${f.start + f.length - 1}): ${v.message}`,
          raw,
        );
        return;
      }
      values[f.name] = v;
    }
    if (rec.role === 'detail') {
      this.details++;
      if (this.sumOf !== undefined) this.totalCents += Math.round(Number(values[this.sumOf]) * 100);
      this.sink.row(line, values);
    } else if (rec.role === 'trailer') {
      this.trailer = values;
      this.trailerLine = line;
      this.detailsBeforeTrailer = this.details + this.rejected;
    }
  }

  private reject(line: number, reason: string, raw: string): void {
    this.rejected++;
    this.sink.reject(line, reason, raw);
  }

  finish(): string | undefined {
    const { layout, file, trailer, trailerLine } = this;
    const checks = layout.trailer;
    if (!checks) return undefined;
    if (!trailer) throw new TruncatedInput(`${file}: no trailer record: the file is truncated`);
    if (checks.count) {
      const expected = Number(trailer[checks.count]);
      if (expected !== this.detailsBeforeTrailer)
        return `${file}: trailer (line ${trailerLine}) ${checks.count} says ${expected} detail records, the file has ${this.detailsBeforeTrailer}`;
    }
    if (checks.total) {
      const sum = this.totalCents / 100;
      const expected = Number(trailer[checks.total.field]);
      if (Math.abs(sum - expected) > 0.001)
        return `${file}: trailer (line ${trailerLine}) ${checks.total.field} says ${expected.toFixed(2)}, the details sum to ${sum.toFixed(2)}`;
    }
    return undefined;
  }
}

/** A field's text as the JSON value bronze reads, or an Error saying why not (checked against its bronze column). */
function convert(s: string, f: CompiledField): unknown {
  const t = s.trim();
  switch (f.type) {
    case 'string':
      return t;
    case 'integer': {
      if (!/^-?\d+$/.test(t)) return new Error(`expected an integer, ${foundText(t, f.show)}`);
      if (!f.range) return Number.isSafeInteger(Number(t)) ? Number(t) : t;
      return (
        integerJson(t, f.range) ??
        new Error(`expected an integer from ${f.range[0]} to ${f.range[1]} (${f.column}), ${foundText(t, f.show)}`)
      );
    }
    case 'decimal': {
      if (!/^-?\d+$/.test(t)) return new Error(`expected digits of an amount with ${f.scale} implied decimals, ${foundText(t, f.show)}`);
      // The amount as exact text (`-123.45`), never through binary floating point.
      const negative = t.startsWith('-');
      const digits = (negative ? t.slice(1) : t).padStart(f.scale + 1, '0');
      const text = `${negative ? '-' : ''}${f.scale > 0 ? `${digits.slice(0, -f.scale)}.${digits.slice(-f.scale)}` : digits}`;
      if (f.decimal && !fitsDecimal(text, f.decimal[0], f.decimal[1]))
        return new Error(
          `expected an amount of at most ${f.decimal[0] - f.decimal[1]} whole digits (${f.column}), ${foundText(t, f.show)}`,
        );
      return text;
    }
    case 'date': {
      const m = f.format === 'yyyyMMdd' ? /^(\d{4})(\d{2})(\d{2})$/.exec(t) : /^(\d{2})(\d{2})(\d{4})$/.exec(t);
      if (!m) return new Error(`expected a date ${f.format}, ${foundText(t, f.show)}`);
      const [y, mo, d] = (f.format === 'yyyyMMdd' ? [m[1], m[2], m[3]] : [m[3], m[2], m[1]]).map(Number) as [number, number, number];
      // A day the month has (JavaScript's Date.parse takes 2026-02-30 and rolls it into March; bronze's DATE does not).
      const date = new Date(0);
      date.setUTCFullYear(y, mo - 1, d);
      if (mo < 1 || mo > 12 || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d)
        return new Error(`not a valid date: ${shownValue(t, f.show)}`);
      return `${m[f.format === 'yyyyMMdd' ? 1 : 3]}-${m[2]}-${m[f.format === 'yyyyMMdd' ? 3 : 1]}`;
    }
  }
}
