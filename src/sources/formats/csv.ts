import { z } from 'zod';
import { FinmeshError } from '../../core/errors.js';
import { CsvScanner } from './csv-scanner.js';
import { type ParseText, TruncatedInput } from './format.js';
import { type Convert, converterFor, datePattern } from './values.js';

export const csvOptionsSchema = z
  .object({
    delimiter: z.string().min(1).max(4).default(','),
    quote: z.string().length(1).default('"'),
    /** Escape character inside quoted fields; by default the quote itself ("" inside "..."). */
    escape: z.string().length(1).optional(),
    /** The first record names the columns. */
    header: z.boolean().default(true),
    /** Lines to skip before the header (a title line some partners add). */
    skipLines: z.number().int().nonnegative().default(0),
    comment: z.string().length(1).optional(),
    /**
     * Where each schema column is in the file: a header name (`gross_amount: "Valor Bruto"`) or a 1-based position.
     * Columns not listed match a header whose name, lower-cased and without accents, equals theirs.
     */
    columns: z.record(z.string(), z.union([z.string().min(1), z.number().int().positive()])).optional(),
    decimalSeparator: z.enum(['.', ',']).default('.'),
    thousandsSeparator: z.enum(['', '.', ',', ' ']).default(''),
    dateFormat: z.string().default('yyyy-MM-dd'),
    timestampFormat: z.string().default('yyyy-MM-dd HH:mm:ss'),
    nullValues: z.array(z.string()).default(['']),
    /** Drop blanks around values. */
    trim: z.boolean().default(true),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.thousandsSeparator !== '' && o.thousandsSeparator === o.decimalSeparator)
      ctx.addIssue({ code: 'custom', path: ['thousandsSeparator'], message: 'a separator other than the decimal separator' });
    if (o.decimalSeparator === ',' && o.delimiter === ',')
      ctx.addIssue({
        code: 'custom',
        path: ['delimiter'],
        message: 'a delimiter other than "," (the amounts use decimal commas), such as ";"',
      });
    if (!o.header && Object.values(o.columns ?? {}).some((c) => typeof c === 'string'))
      ctx.addIssue({ code: 'custom', path: ['columns'], message: '1-based positions (the file has no header)' });
    for (const key of ['dateFormat', 'timestampFormat'] as const) {
      try {
        datePattern(o[key]);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [key], message: (e as Error).message });
      }
    }
  });
export type CsvOptions = z.infer<typeof csvOptionsSchema>;

export interface CsvColumn {
  name: string;
  type: string;
  /** Values of sensitive columns are kept out of rejection messages (the raw line still goes to quarantine). */
  sensitive?: boolean;
}

/** `Valor Líquido` → `valor_liquido`. */
export const normalizeHeader = (h: string) =>
  h
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

/**
 * CSV with the partner's conventions (delimiter, quoting, header, decimal comma, date formats), scanned as a
 * stream (see `CsvScanner`), typed by the source schema. A row whose fields do not fit goes to the sink's
 * rejects with its first line; a quoted field left open at the end means the file was cut short, so the file
 * fails whole. Every row keeps the line it starts on, including rows whose quoted fields span lines.
 */
export function csvParser(options: CsvOptions, schema: CsvColumn[]): ParseText {
  const wanted = schema.filter((c) => !c.name.startsWith('_'));
  return async (chunks, file, sink) => {
    let plan: { index: number; column: CsvColumn; convert: Convert; label: string }[] | undefined;
    let width = 0;
    let headerError: string | undefined;
    if (!options.header) {
      plan = planByPosition(wanted, options, file);
      width = Math.max(...plan.map((p) => p.index + 1));
    }
    const scanner = new CsvScanner(
      {
        delimiter: options.delimiter,
        quote: options.quote,
        escape: options.escape ?? options.quote,
        comment: options.comment,
        skipLines: options.skipLines,
        trim: options.trim,
        maxRecordChars: MAX_RECORD_CHARS,
      },
      {
        malformed: (reason, line, raw) => sink.reject(line, `${file}: line ${line}: ${reason}`, raw),
        record: (fields, line, raw) => {
          if (headerError) return;
          if (!plan) {
            const planned = planByHeader(fields, wanted, options, file, line);
            if (typeof planned === 'string') headerError = planned;
            else {
              plan = planned;
              width = fields.length;
            }
            return;
          }
          if (options.header ? fields.length !== width : fields.length < width) {
            sink.reject(
              line,
              `${file}: line ${line}: ${fields.length} fields, the ${options.header ? 'header has' : 'layout needs'} ${width}`,
              raw,
            );
            return;
          }
          const values: Record<string, unknown> = {};
          for (const p of plan) {
            const v = p.convert(fields[p.index] as string);
            if (v instanceof Error) {
              sink.reject(line, `${file}: line ${line}: column ${p.column.name} (${p.label}): ${v.message}`, raw);
              return;
            }
            values[p.column.name] = v;
          }
          sink.row(line, values);
        },
      },
    );
    for await (const chunk of lfOnly(chunks)) {
      scanner.push(chunk);
      if (headerError) return headerError;
      if (scanner.tooLongAt !== undefined)
        return `${file}: line ${scanner.tooLongAt}: a record runs past ${MAX_RECORD_CHARS} characters (a quote never closed?); the file is malformed`;
    }
    scanner.end();
    if (headerError) return headerError;
    if (scanner.unclosedAt !== undefined)
      throw new TruncatedInput(
        `${file}: line ${scanner.unclosedAt}: a quoted field opened on this line is never closed; the file is cut short or malformed`,
      );
    if (!plan) throw new TruncatedInput(`${file}: no header line; the file is empty or cut short`);
    return undefined;
  };
}

/** Longest record accepted: far above any real row, low enough that an unclosed quote stops early. */
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

/** Where each wanted column is in a header, or the message saying which are missing. */
export function planByHeader(header: string[], wanted: CsvColumn[], o: CsvOptions, file: string, line: number) {
  const normalized = header.map(normalizeHeader);
  const plan = [];
  const missing: string[] = [];
  for (const column of wanted) {
    const spec = o.columns?.[column.name];
    let index: number;
    if (typeof spec === 'number') index = spec - 1;
    else if (typeof spec === 'string') {
      index = header.indexOf(spec);
      if (index < 0) index = normalized.indexOf(normalizeHeader(spec));
    } else index = normalized.indexOf(column.name);
    if (index < 0 || index >= header.length) {
      missing.push(spec === undefined ? column.name : `${column.name} ("${spec}")`);
      continue;
    }
    plan.push(step(column, index, `"${header[index]}"`, o));
  }
  if (missing.length > 0)
    return `${file}: line ${line}: the header has no column for ${missing.join(', ')} (it has ${header.map((h) => `"${h}"`).join(', ')}); map them under csv.columns`;
  return plan;
}

function planByPosition(wanted: CsvColumn[], o: CsvOptions, file: string) {
  return wanted.map((column) => {
    const spec = o.columns?.[column.name];
    if (typeof spec !== 'number')
      throw new FinmeshError('CONFIG_INVALID', `${file}: without a header, csv.columns must give ${column.name} a position`);
    return step(column, spec - 1, `field ${spec}`, o);
  });
}

const step = (column: CsvColumn, index: number, label: string, o: CsvOptions) => ({
  index,
  column,
  label,
  convert: converterFor(column.type, o, !column.sensitive),
});

/** CRLF → LF across chunk boundaries: values spanning lines read the same from CRLF and LF files. */
async function* lfOnly(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let held = '';
  for await (const chunk of chunks) {
    let text = held + chunk;
    held = '';
    if (text.endsWith('\r')) {
      held = '\r';
      text = text.slice(0, -1);
    }
    yield text.includes('\r\n') ? text.replaceAll('\r\n', '\n') : text;
  }
  if (held) yield held;
}
