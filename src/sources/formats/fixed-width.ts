import { z } from 'zod';

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
    encoding: z.enum(['utf-8', 'latin1', 'windows-1252']).default('utf-8'),
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

export interface ParsedFile {
  rows: { line: number; values: Record<string, unknown> }[];
  rejects: { line: number; reason: string; raw: string }[];
  /** Set when the file as a whole fails integrity (trailer mismatch, missing trailer): nothing may load. */
  integrityError: string | undefined;
}

/** Parses a fixed-width file: detail rows out, bad lines rejected with record type, line and field named. */
export function parseFixedWidth(text: string, layout: Layout, file: string): ParsedFile {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const rows: ParsedFile['rows'] = [];
  const rejects: ParsedFile['rejects'] = [];
  let trailer: Record<string, unknown> | undefined;
  let trailerLine = 0;
  // Amounts of detail lines rejected for another field still count toward the trailer total.
  let rejectedTotal = 0;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const rec = layout.records.find((r) => r.match.every((m) => raw.substr(m.start - 1, m.value.length) === m.value));
    if (!rec) {
      rejects.push({ line, reason: `${file}: line ${line}: no record type of layout ${layout.name} matches`, raw });
      return;
    }
    if (layout.recordLength && raw.length > layout.recordLength) {
      rejects.push({
        line,
        reason: `${file}: line ${line}: ${rec.type} record is ${raw.length} characters, the layout says ${layout.recordLength}`,
        raw,
      });
      return;
    }
    const values: Record<string, unknown> = {};
    for (const f of rec.fields) {
      const s = raw.substr(f.start - 1, f.length);
      const v = convert(s, f);
      if (v instanceof Error) {
        rejects.push({
          line,
          reason: `${file}: line ${line}: ${rec.type} record, field ${f.name} (positions ${f.start}-${f.start + f.length - 1}): ${v.message}`,
          raw,
        });
        const sumField = rec.role === 'detail' ? rec.fields.find((x) => x.name === layout.trailer?.total?.sumOf) : undefined;
        const amount = sumField ? convert(raw.substr(sumField.start - 1, sumField.length), sumField) : undefined;
        if (typeof amount === 'number') rejectedTotal += Math.round(amount * 100);
        return;
      }
      values[f.name] = v;
    }
    if (rec.role === 'detail') rows.push({ line, values });
    else if (rec.role === 'trailer') {
      trailer = values;
      trailerLine = line;
    }
  });
  let integrityError: string | undefined;
  const checks = layout.trailer;
  if (checks && !trailer) integrityError = `${file}: no trailer record: the file is truncated`;
  else if (checks && trailer) {
    if (checks.count) {
      const expected = Number(trailer[checks.count]);
      const found = rows.length + rejects.filter((r) => r.line < trailerLine).length;
      if (expected !== found)
        integrityError = `${file}: trailer (line ${trailerLine}) ${checks.count} says ${expected} detail records, the file has ${found}`;
    }
    if (!integrityError && checks.total) {
      const sum = (rows.reduce((a, r) => a + Math.round(Number(r.values[checks.total?.sumOf ?? '']) * 100), 0) + rejectedTotal) / 100;
      const expected = Number(trailer[checks.total.field]);
      if (Math.abs(sum - expected) > 0.001)
        integrityError = `${file}: trailer (line ${trailerLine}) ${checks.total.field} says ${expected.toFixed(2)}, the details sum to ${sum.toFixed(2)}`;
    }
  }
  return { rows, rejects, integrityError };
}

function convert(s: string, f: z.infer<typeof field>): unknown {
  const t = s.trim();
  switch (f.type) {
    case 'string':
      return t;
    case 'integer':
      if (!/^-?\d+$/.test(t)) return new Error(`expected an integer, found "${t}"`);
      return Number(t);
    case 'decimal':
      if (!/^-?\d+$/.test(t)) return new Error(`expected digits of an amount with ${f.scale} implied decimals, found "${t}"`);
      return Number(t) / 10 ** f.scale;
    case 'date': {
      const m = f.format === 'yyyyMMdd' ? /^(\d{4})(\d{2})(\d{2})$/.exec(t) : /^(\d{2})(\d{2})(\d{4})$/.exec(t);
      if (!m) return new Error(`expected a date ${f.format}, found "${t}"`);
      const [y, mo, d] = f.format === 'yyyyMMdd' ? [m[1], m[2], m[3]] : [m[3], m[2], m[1]];
      const iso = `${y}-${mo}-${d}`;
      if (Number.isNaN(Date.parse(iso))) return new Error(`not a valid date: "${t}"`);
      return iso;
    }
  }
}
