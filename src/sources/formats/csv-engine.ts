import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../../engine/engine.js';
import { type CsvColumn, type CsvOptions, csvOptionsSchema, csvParser, MAX_RECORD_CHARS, planByHeader } from './csv.js';
import { CsvScanner } from './csv-scanner.js';
import type { Encoding } from './decode.js';
import { parseText, type RowSink } from './format.js';
import type { FileFormat } from './read-file.js';
import { type DatePart, datePattern, dateTokens } from './values.js';

/**
 * A partner CSV read by the engine's own reader (DuckDB `read_csv`) instead of the JavaScript scanner, with the
 * scanner's results: the same typed rows with the same `_line`, and the same rejects (line, reason, raw text).
 *
 * DuckDB splits and types the rows; a value is taken from DuckDB only when a strict check shows the scanner would
 * read it the same (digits where a number is expected, the date pattern's exact shape, no blanks to trim…). Every
 * other row — DuckDB's rejects and the rows a check did not pass — is read again by the scanner from its raw line,
 * which gives its value or its reason. Good rows are numbered from their position (their row number in the staged
 * Parquet, which keeps the file's order): this holds only when each
 * physical line is one record, so the lines of the file are counted and must equal header + rows + rejects; when
 * they do not (blank lines, quoted line breaks, a header over two lines), or anything else is outside what this
 * path knows, it answers `undefined` and the caller reads the file with the scanner.
 */
export interface EngineCsvInput {
  /** The file on local disk, plain (not compressed, not encrypted). */
  path: string;
  /** The name rows and reasons carry (`_source_file`, `file: line n: …`). */
  name: string;
  options: CsvOptions;
  encoding: Encoding;
  /** The source's schema: wanted columns are those not starting with `_`. */
  schema: CsvColumn[];
  /** A folder for the staged rows (the engine must be able to write and read it). */
  workDir: string;
  /** The smallest file whose rows DuckDB writes under a lower memory limit (tests set a small one). */
  boundedFromBytes?: number;
  /** That lower limit (tests set one too low for the file, to see it read again under the engine's own). */
  copyMemoryBytes?: number;
}

export interface EngineCsvResult {
  /** A relation (SELECT) with every schema column, typed, `_source_file` and `_line` included: the good rows. */
  select: string;
  /** Rows the engine's checks left to the scanner, which read them as good. */
  rows: { line: number; values: Record<string, unknown> }[];
  /** Rows the scanner rejects, with the reason it gives and the raw line. */
  rejects: { line: number; reason: string; raw: string }[];
  /** Rows in `select`. */
  count: number;
}

/** Most rows left to the scanner before reading the whole file with it is simpler and as fast. */
const MAX_RECHECKED = 10_000;
/** Most rejects whose lines shift the numbering of good rows (each adds a branch to the line expression). */
const MAX_REJECTS = 512;
/**
 * The longest line DuckDB's reader takes (its default). A longer line is one of DuckDB's rejects, read again by the
 * scanner (or, when its text does not match, the whole file is).
 */
const ENGINE_MAX_LINE_BYTES = 2 * 1024 * 1024;
/**
 * DuckDB's read buffer (by default 16 times the longest line: 32 MiB). The staged Parquet is written in the file's
 * order, and DuckDB holds every buffer read ahead of the one being written: with 32 MiB buffers a 1M-row file (100
 * MB) peaked at 310 MB in DuckDB against 80 MB for 100k rows; with 4 MiB, 105 MB against 67 MB, at the same speed.
 */
const ENGINE_BUFFER_BYTES = 2 * ENGINE_MAX_LINE_BYTES;
/**
 * DuckDB's memory limit while it writes the staged Parquet (lowered only, and set back after). Written in the file's
 * order, the rows a thread reads ahead of the batch being written wait in memory until that batch is written; how
 * far ahead a thread gets is bounded only by the memory limit (80% of the machine's by default), so on a busy
 * machine — one thread descheduled, the other reading on — the waiting rows grew with the file: 17 MiB of them for
 * 100k rows, 96 MiB for 5M (`duckdb_memory()`, COLUMN_DATA). Under this limit DuckDB holds the thread that is ahead
 * instead (the rows it holds stay near 40 MiB at 5M rows, and the process's peak near that of 100k rows).
 */
const ENGINE_COPY_MEMORY_BYTES = 48 * 2 ** 20;
/**
 * The smallest file written under that limit. The limit costs speed — DuckDB then mostly keeps to the thread writing
 * (a 1M-row file: 0.75× DuckDB's own unordered `read_csv` without it, 0.46–0.53× under 48–96 MiB) — while below
 * this size the rows waiting stay small (a 1M-row file, 98 MiB: 1.09–1.24× the peak of 100k rows without the limit).
 */
const ENGINE_BOUNDED_FROM_BYTES = 128 * 2 ** 20;

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|INT[1248])$/;
const NUMBER = /^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|FLOAT[48])$/;
const TEXT = /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)$/;
const TIMESTAMP = /^(TIMESTAMP|DATETIME|TIMESTAMP_MS)$/;
const BOOLEAN = /^(BOOLEAN|BOOL)$/;
const baseType = (type: string) => type.toUpperCase().replace(/\(.*$/, '').trim();

/** Whether the engine's reader can stand in for the scanner with these settings (then `readCsvWithEngine` may still decline a file). */
export function engineCanReadCsv(engine: Engine, o: CsvOptions, encoding: Encoding, schema: CsvColumn[]): boolean {
  if (engine.kind !== 'duckdb') return false;
  if (encoding !== 'utf-8' && encoding !== 'latin1') return false;
  if (!o.header || o.comment !== undefined || o.delimiter.length !== 1) return false;
  // DuckDB drops an escape other than the quote before any character (the scanner keeps it but before a quote or
  // itself); the byte pass follows one-byte delimiters and quotes.
  if ((o.escape ?? o.quote) !== o.quote || o.delimiter.charCodeAt(0) > 127 || o.quote.charCodeAt(0) > 127) return false;
  if ([o.delimiter, o.quote, o.escape ?? o.quote].some((c) => c === '\n' || c === '\r' || c === "'" || c === '\\')) return false;
  const types = schema.filter((c) => !c.name.startsWith('_')).map((c) => baseType(c.type));
  return types.every((t) => INTEGER.test(t) || NUMBER.test(t) || TEXT.test(t) || TIMESTAMP.test(t) || BOOLEAN.test(t) || t === 'DATE');
}

export async function readCsvWithEngine(engine: Engine, input: EngineCsvInput): Promise<EngineCsvResult | undefined> {
  const { options: o, name } = input;
  if (!engineCanReadCsv(engine, o, input.encoding, input.schema)) return undefined;
  const d = engine.dialect;
  const wanted = input.schema.filter((c) => !c.name.startsWith('_'));
  const head = readHeader(input.path, o, input.encoding);
  if (!head) return undefined;
  const plan = planByHeader(head.fields, wanted, o, name, head.line);
  if (typeof plan === 'string') return undefined;
  const width = head.fields.length;
  const dataStart = head.line + 1;

  const tag = randomBytes(6).toString('hex');
  const rejectsTable = `finmesh_csv_rejects_${tag}`;
  const scansTable = `finmesh_csv_scans_${tag}`;
  const staged = join(input.workDir, `csv-${tag}.parquet`);
  // One column more than the header has, and no text DuckDB reads as NULL but a field that is not there (padded): a
  // line feed cannot be an unquoted value, and quoted values are never NULL. DuckDB drops empty fields past the
  // columns it was given (`x;1;2;` read as three columns is not one too many), and rejects a line with fewer; so
  // that both are the scanner's to judge, a row has the header's fields when its last is there and the one after
  // is not (the scanner then reads any other from its line).
  const columns = Array.from({ length: width + 1 }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const lit = (s: string) => d.quoteLiteral(s);
  const shaped = `c${width - 1} IS NOT NULL AND c${width} IS NULL`;
  const read = `read_csv(${lit(input.path)}, delim = ${lit(o.delimiter)}, quote = ${lit(o.quote)}, escape = ${lit(o.escape ?? o.quote)},
      header = true, skip = ${o.skipLines}, columns = {${columns}}, auto_detect = false, encoding = ${lit(input.encoding === 'latin1' ? 'latin-1' : 'utf-8')},
      allow_quoted_nulls = false, null_padding = true, nullstr = ${lit('\n')}, strict_mode = true, max_line_size = ${ENGINE_MAX_LINE_BYTES}, buffer_size = ${ENGINE_BUFFER_BYTES},
      store_rejects = true, rejects_table = ${lit(rejectsTable)}, rejects_scan = ${lit(scansTable)})`;
  // Each value is typed once (the inner SELECT); a row is `_ok` when every value the engine typed is the scanner's:
  // a cast that succeeded on text of the shape the scanner reads (one short regular expression a column). Text is
  // DuckDB's as it is, which is the scanner's unless an unquoted value has blanks at its ends that the scanner trims:
  // the pass over the file's bytes (`scanFile`) says whether any does, and only then is text checked row by row.
  const staging = (checkText: boolean) => {
    const inner: string[] = [];
    const outer: string[] = [];
    const checks: string[] = [];
    // What most rows pass: each typed value present and of its shape (a column's null values, and the shapes a
    // shorter test leaves out, are looked at only for the rows that do not pass it). Each implies its check.
    const usual: string[] = [];
    // DuckDB reads an empty field as the empty text, as the scanner does, and a field that is not there as NULL (such a
    // row is not `shaped`: the scanner reads it); both are taken as the empty text here. With the empty text the only
    // null value (the default), a typed column's value is NULL from either, as the scanner's is, so neither is
    // replaced and no other value needs replacing by NULL after typing. (This holds for every type `valueSql` reads —
    // TRY_CAST, strptime and the boolean CASE of '' or NULL are NULL — and must for any it adds.)
    const emptyOnly = o.nullValues.length === 1 && o.nullValues[0] === '';
    for (const p of plan) {
      const raw = `c${p.index}`;
      const c = emptyOnly ? raw : `coalesce(${raw}, '')`;
      const v = valueSql(c, p.column.type, o);
      if (!v) return undefined;
      const isNull = emptyOnly
        ? `(${raw} IS NULL OR ${raw} = '')`
        : o.nullValues.length > 0
          ? `${c} IN (${o.nullValues.map(lit).join(', ')})`
          : 'false';
      const name = d.quoteIdent(p.column.name);
      if (v.text) {
        // With the empty text a null value, a NULL (a field not there) needs no replacing first.
        const value = !o.nullValues.includes('')
          ? `CASE WHEN ${isNull} THEN NULL ELSE ${c} END`
          : o.nullValues.length === 1
            ? `nullif(${raw}, '')`
            : `CASE WHEN ${raw} IN (${o.nullValues.map(lit).join(', ')}) THEN NULL ELSE ${raw} END`;
        inner.push(`${value} AS ${name}`);
        if (checkText && v.fragment !== undefined) {
          checks.push(`(${isNull} OR regexp_full_match(${c}, ${lit(v.fragment)}))`);
          usual.push(checks[checks.length - 1] as string);
        }
      } else {
        const shape = v.test ?? (v.fragment === undefined ? 'true' : `regexp_full_match(${c}, ${lit(v.fragment)})`);
        // A number past a binary type's largest value is infinity to DuckDB, and a bad value to the scanner.
        const finite = v.finite ? ` AND isfinite(${name})` : '';
        // Other null values are found once (a column of the inner SELECT), for the check and to replace the value.
        const nulled = emptyOnly ? isNull : `"n${p.index}"`;
        if (!emptyOnly) inner.push(`${isNull} AS ${nulled}`);
        inner.push(`${v.value} AS ${name}`);
        checks.push(`(${nulled} OR (${name} IS NOT NULL AND ${shape}${finite}))`);
        usual.push(`(${name} IS NOT NULL AND ${v.usual ?? shape}${finite})`);
        outer.push(emptyOnly ? name : `CASE WHEN ${nulled} THEN NULL ELSE ${name} END AS ${name}`);
        continue;
      }
      outer.push(name);
    }
    const raws = [...new Set([...plan.map((p) => p.index), width - 1, width])].map((i) => `c${i}`).join(', ');
    // DuckDB evaluates the full checks only for the rows the usual shapes leave (a CASE's ELSE), not for every row.
    const ok = `CASE WHEN ${[shaped, ...usual].join(' AND ')} THEN true ELSE ${shaped} AND coalesce(${['true', ...checks].join(' AND ')}, false) END`;
    // The checks read the raw text: it is carried from the inner SELECT alongside the typed values.
    return `SELECT ${ok} AS _ok, ${outer.join(', ')} FROM (SELECT ${raws}, ${inner.join(', ')} FROM ${read})`;
  };
  const fast = staging(false);
  if (fast === undefined) return undefined;
  try {
    // The Parquet keeps the file's order (written in parallel, in order), so a row's position is its row number in
    // the Parquet: no numbering inside the query, which would make DuckDB read the file on one thread.
    const bounded = statSync(input.path).size >= (input.boundedFromBytes ?? ENGINE_BOUNDED_FROM_BYTES);
    // What the COPY wrote, from its own statistics when the engine returns them (`RETURN_STATS`: the rows, and
    // whether the least `_ok` is true), so the staged file need not be read again to know it.
    const copy = async (select: string): Promise<CopyStats | undefined> => {
      const sql = `COPY (${select}) TO ${lit(staged)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 32768, PRESERVE_ORDER true`;
      if (!bounded || !engine.execUnderMemoryLimit) return copyStats((await engine.query(`${sql}, RETURN_STATS)`)).rows[0]);
      try {
        await engine.execUnderMemoryLimit(`${sql})`, input.copyMemoryBytes ?? ENGINE_COPY_MEMORY_BYTES);
      } catch {
        // What does not fit under the lower limit (very wide rows) is read again under the engine's own.
        await engine.exec(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`);
        await engine.exec(`${sql})`);
      }
      return undefined;
    };
    let file: FileScan;
    let stats: CopyStats | undefined;
    try {
      const copied = copy(fast).then((s) => {
        stats = s;
      });
      // The pass over the bytes (line count, blanks at the ends of values) runs while DuckDB reads the file.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        file = scanFile(input.path, o, input.encoding);
      } finally {
        await copied;
      }
      if (file.strayCr || file.emptyLine || file.quotesDiffer) return undefined;
      if (file.blankEnds && o.trim) {
        await engine.exec(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`);
        stats = await copy(staging(true) as string);
      }
    } catch {
      // Whatever DuckDB cannot read (a line past its limit, an encoding error it refuses), the scanner reports.
      return undefined;
    }
    const rows0 = `read_parquet(${lit(staged)}, file_row_number = true)`;
    const summary =
      stats?.allOk === true
        ? { n: stats.count, bad: 0 }
        : (await engine.query(`SELECT count(*) AS n, count(*) FILTER (WHERE NOT _ok) AS bad FROM read_parquet(${lit(staged)})`)).rows[0];
    const count = Number(summary?.n ?? 0);
    const bad = Number(summary?.bad ?? 0);
    // DuckDB numbers a reject by records, and blank lines, from the top of the file: the physical line when, as the
    // line count checks below, each line is one record. Its text is compared with that line's, to be sure.
    const rejected = await engine.query(`SELECT DISTINCT line, csv_line FROM ${rejectsTable} ORDER BY line`);
    const rejectText = new Map<number, string>();
    for (const r of rejected.rows) {
      const line = Number(r.line);
      const text = String(r.csv_line ?? '').replace(/^[\r\n]+|[\r\n]+$/g, '');
      if (rejectText.has(line) && rejectText.get(line) !== text) return undefined;
      rejectText.set(line, text);
    }
    const rejectLines = [...rejectText.keys()];
    if (bad + rejectLines.length > MAX_RECHECKED || rejectLines.length > MAX_REJECTS) return undefined;
    // A row's position among DuckDB's rows (1-based) is its row number in the Parquet, plus one.
    const badOrds =
      bad === 0
        ? []
        : (await engine.query(`SELECT file_row_number + 1 AS _ord FROM ${rows0} WHERE NOT _ok ORDER BY _ord`)).rows.map((r) =>
            Number(r._ord),
          );

    // One record a line, no blank lines: the lines add up to the header, the rows and the rejects.
    if (file.lines !== head.line + count + rejectLines.length) return undefined;
    if (rejectLines.some((l) => l <= head.line)) return undefined;
    // Good row k (1-based position among DuckDB's rows) is on line dataStart - 1 + k plus the rejects before it.
    // The i-th reject (0-based) comes after `before[i]` good rows.
    const before = rejectLines.map((l, i) => l - dataStart - i);
    const lineOf = (ord: number) => {
      let shift = 0;
      while (shift < before.length && (before[shift] as number) < ord) shift++;
      return dataStart - 1 + ord + shift;
    };
    let lineSql = `${dataStart} + file_row_number`;
    if (before.length > 0) {
      const branches = before.map((g, i) => ({ g, k: i + 1 })).reverse();
      lineSql += ` + CASE ${branches.map((b) => `WHEN file_row_number >= ${b.g} THEN ${b.k}`).join(' ')} ELSE 0 END`;
    }

    // The rows left to the scanner, read again from their raw lines.
    const recheck = [...rejectLines, ...badOrds.map(lineOf)].sort((a, b) => a - b);
    const rows: EngineCsvResult['rows'] = [];
    const rejects: EngineCsvResult['rejects'] = [];
    if (recheck.length > 0) {
      const raws = readLines(input.path, recheck, input.encoding);
      const parse = csvParser({ ...o, skipLines: 0 }, input.schema);
      const prefix = `${name}: line 2: `;
      for (const line of recheck) {
        const raw = raws.get(line);
        // A line that does not decode (invalid UTF-8): the scanner fails the file whole, as it should.
        if (raw === undefined || raw.includes('\ufffd')) return undefined;
        if (rejectText.has(line) && rejectText.get(line) !== raw) return undefined;
        const one = await parseText(parse, `${head.raw}\n${raw}`, name);
        if (one.integrityError !== undefined || one.rows.length + one.rejects.length !== 1) return undefined;
        const row = one.rows[0];
        if (row) rows.push({ line, values: row.values });
        const reject = one.rejects[0];
        if (reject) {
          if (!reject.reason.startsWith(prefix)) return undefined;
          rejects.push({ line, reason: `${name}: line ${line}: ${reject.reason.slice(prefix.length)}`, raw });
        }
      }
    }
    const byName = new Map(plan.map((p) => [p.column.name, p]));
    const select = input.schema
      .map((c) => {
        if (c.name === '_source_file') return `${lit(name)} AS _source_file`;
        if (c.name === '_line') return `(${lineSql})::BIGINT AS _line`;
        if (byName.has(c.name)) return `${d.quoteIdent(c.name)}::${c.type} AS ${d.quoteIdent(c.name)}`;
        return `NULL::${c.type} AS ${d.quoteIdent(c.name)}`;
      })
      .join(', ');
    return { select: `SELECT ${select} FROM ${rows0} WHERE _ok`, rows, rejects, count: count - bad };
  } finally {
    await engine.exec(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`).catch(() => undefined);
  }
}

interface CopyStats {
  count: number;
  /** True when every row written has `_ok` true; false or unknown otherwise. */
  allOk: boolean;
}

/**
 * A COPY's `RETURN_STATS` row: its row count, and whether `_ok`'s least value is true (an empty file has none: all
 * of its rows are). Undefined when the row is not of that shape (the staged file is then read to count).
 */
function copyStats(row: Record<string, unknown> | undefined): CopyStats | undefined {
  const count = Number(row?.count);
  if (!Number.isSafeInteger(count)) return undefined;
  if (count === 0) return { count, allOk: true };
  const columns = row?.column_statistics;
  if (!Array.isArray(columns)) return undefined;
  const ok = columns.find((c) => (c as { key?: unknown })?.key === '"_ok"') as { value?: unknown } | undefined;
  if (!Array.isArray(ok?.value)) return undefined;
  const min = (ok.value as { key?: unknown; value?: unknown }[]).find((e) => e?.key === 'min')?.value;
  return { count, allOk: min === '1' || min === 'true' };
}

/**
 * The value of column `c` (text) as the scanner's converter gives it for `type` — NULL when the engine cannot type
 * it — and the shape (a regular expression, RE2, over the whole text) under which a value the engine typed is
 * certainly the scanner's. `text` for text columns, whose value is the text itself (their shape only matters when
 * values may carry blanks the scanner trims). Undefined for a type this path does not read.
 */
function valueSql(
  c: string,
  type: string,
  o: CsvOptions,
): { value: string; fragment?: string; test?: string; usual?: string; finite?: boolean; text?: boolean } | undefined {
  const t = baseType(type);
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  if (TEXT.test(t)) {
    // The scanner trims blanks around unquoted values; DuckDB keeps them, and cannot say whether a value was quoted.
    return { value: c, text: true, fragment: o.trim ? `|[^${BLANKS}]|[^${BLANKS}](?s:.)*[^${BLANKS}]` : undefined };
  }
  // Numbers are checked as the scanner reads them: grouping removed, a decimal comma made a point. The pattern is
  // applied to the raw text, so separators are allowed anywhere the scanner would drop them.
  const sep = o.thousandsSeparator ? `${reLiteral(o.thousandsSeparator)}*` : '';
  const digit = `[0-9]${sep}`;
  const lead = sep ? `${sep}[-+]?${sep}` : '[-+]?';
  if (INTEGER.test(t)) {
    const n = o.thousandsSeparator ? `replace(${c}, ${q(o.thousandsSeparator)}, '')` : c;
    // Without grouping, the same shape as GLOBs, which DuckDB tests faster than the expression (1M values: ~16 against
    // ~21 ms): a digit or a sign and a digit first, and no other character than a digit after the first.
    const test = o.thousandsSeparator ? undefined : `((${c} GLOB '[0-9]*' OR ${c} GLOB '[-+][0-9]*') AND NOT ${c} GLOB '?*[!0-9]*')`;
    // Digits alone, one GLOB (a value typed is not empty): what most integers are, and of the shape above.
    const usual = o.thousandsSeparator ? undefined : `NOT ${c} GLOB '*[!0-9]*'`;
    return { value: `TRY_CAST(${n} AS ${type})`, fragment: `${lead}(${digit})+`, ...(test ? { test } : {}), ...(usual ? { usual } : {}) };
  }
  if (NUMBER.test(t)) {
    let n = o.thousandsSeparator ? `replace(${c}, ${q(o.thousandsSeparator)}, '')` : c;
    if (o.decimalSeparator === ',') n = `replace(${n}, ',', '.')`;
    const point = reLiteral(o.decimalSeparator);
    return {
      value: `TRY_CAST(${n} AS ${type})`,
      fragment: `${lead}((${digit})+(${point}${sep}(${digit})*)?|${point}${sep}(${digit})+)([eE]${sep}[-+]?${sep}(${digit})+)?`,
      ...(/^(DECIMAL|NUMERIC)$/.test(t) ? {} : { finite: true }),
    };
  }
  if (t === 'DATE' || TIMESTAMP.test(t)) {
    const pattern = patternSql(c, t === 'DATE' ? o.dateFormat : o.timestampFormat);
    if (!pattern) return undefined;
    const parsed = pattern.strptime ? `try_strptime(${c}, ${q(pattern.strptime)})` : pattern.iso;
    return {
      value: `TRY_CAST(${parsed} AS ${type})`,
      fragment: pattern.regex,
      ...(pattern.glob ? { test: `${c} GLOB ${q(pattern.glob)}` } : {}),
    };
  }
  if (BOOLEAN.test(t)) {
    const yes = "('true', 't', '1', 'y', 'yes', 's', 'sim')";
    const no = "('false', 'f', '0', 'n', 'no', 'não', 'nao')";
    return { value: `CASE WHEN lower(${c}) IN ${yes} THEN true WHEN lower(${c}) IN ${no} THEN false END` };
  }
  return undefined;
}

/** A text matched literally in RE2. */
const reLiteral = (s: string) => s.replace(/[\\^$.|?*+()[\]{}-]/g, (m) => `\\${m}`).replaceAll('\x01', '\\x01');

/** What JavaScript's `String.prototype.trim` removes, inside an RE2 class. */
const BLANKS = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';

/** A date field's shape in RE2 and as a GLOB (none for the hour: RE2's alternation has no GLOB form). */
const SHAPES: Record<DatePart, [string, string]> = {
  y: ['[0-9]{4}', '[0-9][0-9][0-9][0-9]'],
  S: ['[0-9]{3}', '[0-9][0-9][0-9]'],
  M: ['[0-9]{2}', '[0-9][0-9]'],
  d: ['[0-9]{2}', '[0-9][0-9]'],
  H: ['([01][0-9]|2[0-3])', ''],
  m: ['[0-5][0-9]', '[0-5][0-9]'],
  s: ['[0-5][0-9]', '[0-5][0-9]'],
};
const STRPTIME: Record<DatePart, string> = { y: '%Y', S: '%g', M: '%m', d: '%d', H: '%H', m: '%M', s: '%S' };

/**
 * A date pattern (see `datePattern`) as a regular expression over the text, the ISO text the scanner makes of a
 * match, as SQL over column `c`, and — when it reads the same fields — the pattern as a `strptime` format, which
 * DuckDB applies faster than it builds and casts the ISO text (on text of the regular expression's exact shape both
 * give the same date or both fail).
 */
function patternSql(c: string, pattern: string): { regex: string; iso: string; strptime?: string; glob?: string } | undefined {
  datePattern(pattern);
  let regex = '';
  let strptime = '';
  // The same shape as a GLOB (every field a fixed run of digit classes), which DuckDB tests faster than the regular
  // expression (1M dd/MM/yyyy dates: ~22 against ~36 ms); none when an hour is read (RE2's alternation) or a literal
  // is one of GLOB's own characters.
  let glob: string | undefined = '';
  let repeated = false;
  const at = new Map<string, number>();
  let pos = 1;
  for (const t of dateTokens(pattern)) {
    if ('part' in t) {
      repeated ||= at.has(t.part);
      at.set(t.part, pos);
      const [re, shape] = SHAPES[t.part];
      regex += re;
      strptime += STRPTIME[t.part];
      if (glob !== undefined) glob = shape ? glob + shape : undefined;
      pos += t.width;
    } else {
      const ch = t.literal;
      if (ch.charCodeAt(0) > 127) return undefined;
      regex += /[A-Za-z0-9 ]/.test(ch) ? ch : `\\${ch}`;
      strptime += ch === '%' ? '%%' : ch;
      if (glob !== undefined) glob = /[*?[\]\\]/.test(ch) ? undefined : glob + ch;
      pos++;
    }
  }
  const part = (p: string, width: number, fallback: string) => {
    const from = at.get(p);
    return from === undefined ? `'${fallback}'` : `substr(${c}, ${from}, ${width})`;
  };
  let iso = `${part('y', 4, '')} || '-' || ${part('M', 2, '')} || '-' || ${part('d', 2, '')}`;
  if (at.has('H'))
    iso += ` || ' ' || ${part('H', 2, '00')} || ':' || ${part('m', 2, '00')} || ':' || ${part('s', 2, '00')} || '.' || ${part('S', 3, '000')}`;
  // The ISO text drops milliseconds without hours; a field given twice is read from its last place.
  const same = !repeated && (at.has('H') || !at.has('S'));
  return { regex, iso: `(${iso})`, ...(same ? { strptime } : {}), ...(glob ? { glob } : {}) };
}

/** The header: the first record after `skipLines`, read by the scanner, with its line and raw text. */
function readHeader(path: string, o: CsvOptions, encoding: Encoding): { fields: string[]; line: number; raw: string } | undefined {
  const fd = openSync(path, 'r');
  let bytes: Buffer;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    bytes = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
  // A BOM, or a header not within the first MiB: the scanner reads such files.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return undefined;
  let end = 0;
  for (let skipped = 0; skipped <= o.skipLines; skipped++) {
    // A quote in the lines skipped: DuckDB skips records, which a quoted line break makes fewer than the lines.
    if (skipped === o.skipLines && bytes.subarray(0, end).includes(o.quote.charCodeAt(0))) return undefined;
    const nl = bytes.indexOf(10, end);
    if (nl === -1) return undefined;
    end = nl + 1;
  }
  const text = encoding === 'latin1' ? bytes.toString('latin1', 0, end) : bytes.toString('utf8', 0, end);
  if (text.includes('\ufffd')) return undefined;
  let header: { fields: string[]; line: number; raw: string } | undefined;
  const scanner = new CsvScanner(
    {
      delimiter: o.delimiter,
      quote: o.quote,
      escape: o.escape ?? o.quote,
      skipLines: o.skipLines,
      trim: o.trim,
      maxRecordChars: MAX_RECORD_CHARS,
    },
    {
      record: (fields, line, raw) => {
        header ??= { fields, line, raw };
      },
      malformed: () => undefined,
    },
  );
  scanner.push(text.replaceAll('\r\n', '\n'));
  scanner.end();
  if (!header || header.line !== o.skipLines + 1 || header.raw.includes('\n')) return undefined;
  return header;
}

interface FileScan {
  /** Lines of the file (a last line without its line end counts). */
  lines: number;
  /**
   * Whether an unquoted value may begin or end with a blank JavaScript's `trim` removes (the scanner drops them,
   * DuckDB keeps them). False only when none does: quoted values are the same on both sides whatever they hold.
   */
  blankEnds: boolean;
  /**
   * Whether a carriage return that is not part of a line end is one DuckDB reads as a line end where the scanner does
   * not: at a line's start (DuckDB reads past it after the header; to the scanner it is a blank before the first
   * value, which makes a quote after it text), or the file's last byte (a closing quote before it is a reject to the
   * scanner). DuckDB's strict reader refuses one anywhere else outside quotes, or rejects its line.
   */
  strayCr: boolean;
  /**
   * Whether a line is empty (or a carriage return alone): DuckDB reads past it. The lines then add up to the records
   * only if DuckDB also read a line as two — at a carriage return inside a value after a blank, which it may take for
   * a line end — so such a file is the scanner's. (With no empty line, a line read as two makes the lines and the
   * records differ; DuckDB never reads two lines as one here: it refuses a line break inside quotes when it pads
   * missing fields.)
   */
  emptyLine: boolean;
  /**
   * Whether blanks beside a quote may be read otherwise by DuckDB than by the scanner. Before a quote at a value's
   * start, DuckDB skips one space and reads a quoted value — as the scanner does only when it trims — and after
   * other blanks (two or more, a tab…) reads the quote as text where the trimming scanner reads a quoted value (a
   * delimiter inside it then splits the value for DuckDB alone). After a closing quote, DuckDB drops spaces before a
   * delimiter or a line end (a reject to the scanner when it does not trim) and reads `"x" "y"` as `x y` (a reject).
   * Each such place counts only outside quoted values (a space after a doubled quote inside one does not).
   */
  quotesDiffer: boolean;
}

const IS_BLANK_BYTE = new Uint8Array(256);
for (const b of [9, 11, 12, 13, 32]) IS_BLANK_BYTE[b] = 1;

/**
 * One pass over the file's bytes: its lines, and whether any unquoted value has a blank at either end — tracking
 * quotes as DuckDB's reader does (a quote opens a value only at its start; a doubled quote inside is one quote).
 * Blanks are those of `trim`: ASCII tab, line feed, vertical tab, form feed, carriage return and space, and
 * U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF (in ISO-8859-1 only U+00A0 exists).
 * The delimiter and the quote are one ASCII byte each and the quote is its own escape (`engineCanReadCsv`, which
 * `readCsvWithEngine` checks first).
 *
 * The bytes are not visited one by one in JavaScript. Lines are counted with `indexOf` (memchr). A blank can only
 * begin or end a value where it touches a delimiter or a line's ends: those places are found from the spaces (with
 * `indexOf`, then a look at their neighbours) and from the rarer blanks alone; only the lines that have one are
 * walked, from one quoted value to the next, to see whether one is outside quotes (1M-row file: ~127 ms, against
 * ~155 ms following such a line value by value and looking at every line's ends, ~190 ms searching for the pairs
 * `; ` and ` ;`). A line is walked from the start of a value: this holds when each line is one record, which the
 * caller checks (the lines must add up to the records). Carriage returns are looked at only where a line begins and
 * at the file's end (`strayCr`), and empty lines found (`emptyLine`); elsewhere DuckDB's strict reader stops at one
 * outside quotes (the scanner then reads the file), rejects its line (the scanner reads that line), or reads the
 * line as two (then the lines do not add up to the records), and inside quotes both read it as text. Blanks beside
 * quotes are found from the same spaces and rarer blanks (`quotesDiffer`).
 */
function scanFile(path: string, o: CsvOptions, encoding: Encoding): FileScan {
  const delim = o.delimiter.charCodeAt(0);
  const quote = o.quote.charCodeAt(0);
  const utf8 = encoding !== 'latin1';
  // Where a blank may touch a delimiter or a line's ends: a space beside one (found from the spaces, which are fewer
  // than the delimiters: `indexOf` of the pair `; ` would stop at every delimiter), and the rarer blanks (and the
  // first bytes of the multi-byte ones) wherever they are. A blank that is the delimiter (a tab or a space) ends a
  // value rather than being part of one: it is not looked for.
  const spaces = delim !== 32;
  const singles = (
    utf8
      ? [[9], [11], [12], [0xc2, 0xa0], [0xe1, 0x9a, 0x80], [0xe2, 0x80], [0xe2, 0x81, 0x9f], [0xe3, 0x80, 0x80], [0xef, 0xbb, 0xbf]]
      : [[9], [11], [12], [0xa0]]
  )
    .filter((b) => b.length > 1 || b[0] !== delim)
    .map((b) => Buffer.from(b));
  const fd = openSync(path, 'r');
  const size = 1 << 20;
  // A read is cut after its last line end; the rest is kept for the next. Three bytes past the end are line ends, so
  // that a look at what follows a position stays in the line.
  let buf = Buffer.alloc(2 * size + 4, 10);
  let lines = 0;
  let strayCr = false;
  let emptyLine = false;
  let quotesDiffer = false;
  let blank = false;
  let kept = 0;
  let base = 0;
  // Positions in the current read where a blank touches a delimiter or a line's end (`hits`), and where blanks
  // beside a quote may be read otherwise (`quoteHits`), ascending: each one's line is walked once, for all of them,
  // to see whether one is outside quoted values.
  const hits = new Positions();
  const quoteHits = new Positions();
  const blankStart = (v: Buffer, i: number, b: number): boolean => {
    if (IS_BLANK_BYTE[b] === 1) return !(b === 13 && v[i + 1] === 10);
    if (b < 0x80) return false;
    if (!utf8) return b === 0xa0;
    const b1 = v[i + 1] as number;
    const b2 = v[i + 2] as number;
    if (b === 0xc2) return b1 === 0xa0;
    if (b === 0xe1) return b1 === 0x9a && b2 === 0x80;
    if (b === 0xe2)
      return (b1 === 0x80 && ((b2 >= 0x80 && b2 <= 0x8a) || b2 === 0xa8 || b2 === 0xa9 || b2 === 0xaf)) || (b1 === 0x81 && b2 === 0x9f);
    if (b === 0xe3) return b1 === 0x80 && b2 === 0x80;
    if (b === 0xef) return b1 === 0xbb && b2 === 0xbf;
    return false;
  };
  // The blanks from `i` (a value's start, if outside quotes) on: whether a quote after them may be read otherwise.
  const blanksBeforeQuote = (v: Buffer, i: number, cut: number) => {
    let j = i;
    let spaces = 0;
    let others = 0;
    while (j < cut) {
      const b = v[j] as number;
      if (!blankStart(v, j, b)) break;
      if (b === 32) spaces++;
      else others++;
      j += utf8 && b >= 0x80 ? (b === 0xc2 ? 2 : 3) : 1;
    }
    if (j < cut && v[j] === quote && !(o.trim && spaces === 1 && others === 0)) quoteHits.add(i);
  };
  // The spaces from `i`, just after a quote (a closing one, if outside quotes): whether what follows them may be
  // read otherwise.
  const spacesAfterQuote = (v: Buffer, i: number, cut: number) => {
    let j = i;
    while (j < cut && v[j] === 32) j++;
    const b = j < cut ? (v[j] as number) : 10;
    if (b === quote || (!o.trim && (b === delim || b === 10 || b === 13))) quoteHits.add(i);
  };
  // Whether one of `list`'s positions is outside the quoted values of its line, each line walked once.
  const outsideQuotes = (v: Buffer, cut: number, list: Positions): boolean => {
    for (let k = 0; k < list.n; ) {
      const at = list.at[k] as number;
      const s = at === 0 ? 0 : v.lastIndexOf(10, at - 1) + 1;
      const nl = v.indexOf(10, at);
      const e = nl === -1 ? cut : nl;
      let m = k + 1;
      while (m < list.n && (list.at[m] as number) < e) m++;
      if (hitOutsideQuotes(v, s, e, list.at, k, m)) return true;
      k = m;
    }
    return false;
  };
  // Whether one of the positions at[k..m), all on the line [s, e) (e: its line feed, or the end of the file), is
  // outside the line's quoted values — a blank touching a delimiter or a line end there begins or ends an unquoted value (or
  // what follows a closing quote). A quote opens a quoted value only at a value's start (the line's, or just after a
  // delimiter outside quoted values); a doubled quote inside is a quote; a quoted value still open at the line's end
  // runs to it. So the line is walked from one quoted value to the next (`indexOf`), not value by value: the hits
  // are mostly delimiters and blanks inside quoted text (1M-row file: 1 line in 7).
  const hitOutsideQuotes = (v: Buffer, s: number, e: number, at: Int32Array, k: number, m: number): boolean => {
    let h = k;
    let from = s;
    for (;;) {
      let q = v.indexOf(quote, from);
      if (q === -1 || q >= e) q = e;
      // A quote inside an unquoted value (or after a closing quote) is a character like any other.
      if (q < e && q !== s && v[q - 1] !== delim) {
        from = q + 1;
        continue;
      }
      if ((at[h] as number) < q) return true;
      if (q === e) return false;
      let c = q + 1;
      for (;;) {
        c = v.indexOf(quote, c);
        if (c === -1 || c >= e) return false;
        if (c + 1 < e && v[c + 1] === quote) c += 2;
        else break;
      }
      while (h < m && (at[h] as number) < c) h++;
      if (h === m) return false;
      from = c + 1;
    }
  };
  try {
    for (;;) {
      if (kept + size + 4 > buf.length) {
        // A line longer than the buffer: a larger one (DuckDB rejects lines past its limit; the file is read whole).
        const bigger = Buffer.alloc(2 * buf.length, 10);
        buf.copy(bigger, 0, 0, kept);
        buf = bigger;
      }
      const n = readSync(fd, buf, kept, size, base);
      base += n;
      const end = kept + n;
      const done = n === 0;
      // The whole lines read (all that is left at the end of the file).
      const cut = done ? end : buf.lastIndexOf(10, end - 1) + 1;
      if (!done && cut === 0) {
        kept = end;
        continue;
      }
      if (done) buf.fill(10, end, end + 3);
      const v = buf.subarray(0, cut);
      // The lines: a line feed ends each but perhaps the file's last. What begins a line is looked at after its line
      // feed (the bytes read so far reach past it but for the read's last byte, whose next line is looked at when the
      // read that begins with it comes: `kept` is 0 then).
      if (kept === 0 && buf[0] === 13 && end > 0) strayCr = true;
      if (done && end > 0 && buf[end - 1] === 13) strayCr = true;
      // The read begins just after a line feed (what was kept from the last read is the start of a line).
      let lastEnd = -1;
      for (let nl = v.indexOf(10); nl !== -1; nl = v.indexOf(10, nl + 1)) {
        lines++;
        if (nl === lastEnd + 1 || (nl === lastEnd + 2 && buf[nl - 1] === 13)) emptyLine = true;
        lastEnd = nl;
        if (buf[nl + 1] === 13 && nl + 1 < end) strayCr = true;
      }
      if (lastEnd + 1 < cut) lines++;
      hits.n = 0;
      quoteHits.n = 0;
      // Where a blank touches a delimiter or a line's ends (the read starts and ends with whole lines); at a value's
      // start, whether a quote follows the blanks (looked for in every read, even once a blank end is known).
      for (let at = spaces ? v.indexOf(32) : -1; at !== -1; at = v.indexOf(32, at + 1)) {
        const prev = at === 0 ? 10 : (v[at - 1] as number);
        const next = at + 1 < cut ? (v[at + 1] as number) : 10;
        const starts = prev === delim || prev === 10 || prev === 13;
        if (starts) blanksBeforeQuote(v, at, cut);
        else if (prev === quote) spacesAfterQuote(v, at, cut);
        if (starts || next === delim || next === 10 || next === 13) hits.add(at);
      }
      const pairs = hits.n;
      for (const needle of singles) {
        for (let at = v.indexOf(needle); at !== -1; at = v.indexOf(needle, at + 1)) {
          // Only a blank at a value's start or end counts: beside a delimiter, a line end, or the file's ends.
          const prev = at === 0 ? 10 : (v[at - 1] as number);
          const touches = prev === delim || prev === 10 || prev === 13;
          if (!blankStart(v, at, v[at] as number)) continue;
          if (touches) blanksBeforeQuote(v, at, cut);
          const width = utf8 && (v[at] as number) >= 0x80 ? ((v[at] as number) === 0xc2 ? 2 : 3) : 1;
          const next = at + width < v.length ? (v[at + width] as number) : 10;
          if (touches || next === delim || next === 10 || next === 13) hits.add(at);
        }
      }
      if (!blank) {
        if (hits.n > pairs) hits.at.subarray(0, hits.n).sort();
        if (outsideQuotes(v, cut, hits)) blank = true;
      }
      if (!quotesDiffer && quoteHits.n > 0) {
        quoteHits.at.subarray(0, quoteHits.n).sort();
        if (outsideQuotes(v, cut, quoteHits)) quotesDiffer = true;
      }
      if (done) break;
      buf.copy(buf, 0, cut, end);
      kept = end - cut;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, blankEnds: blank, strayCr, emptyLine, quotesDiffer };
}

/** Positions in a buffer, appended (and sorted when needed) by the pass over a file's bytes. */
class Positions {
  at = new Int32Array(1 << 12);
  n = 0;
  add(p: number): void {
    if (this.n === this.at.length) {
      const more = new Int32Array(2 * this.at.length);
      more.set(this.at);
      this.at = more;
    }
    this.at[this.n++] = p;
  }
}

/** The text of the given lines (1-based, sorted), without their line ends. */
function readLines(path: string, wanted: number[], encoding: Encoding): Map<number, string> {
  const out = new Map<number, string>();
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let line = 1;
  let base = 0;
  let next = 0;
  let partial: Buffer[] = [];
  const decode = (b: Buffer) => {
    let end = b.length;
    if (b[end - 1] === 13) end--;
    return encoding === 'latin1' ? b.toString('latin1', 0, end) : b.toString('utf8', 0, end);
  };
  try {
    while (next < wanted.length) {
      const n = readSync(fd, buf, 0, buf.length, base);
      if (n === 0) break;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        const end = nl === -1 || nl >= n ? n : nl;
        if (line === wanted[next]) partial.push(Buffer.from(buf.subarray(start, end)));
        if (end === n) break;
        if (line === wanted[next]) {
          out.set(line, decode(Buffer.concat(partial)));
          partial = [];
          next++;
        }
        line++;
        start = nl + 1;
        if (next >= wanted.length) break;
      }
      base += n;
    }
    if (next < wanted.length && line === wanted[next] && partial.length > 0) out.set(line, decode(Buffer.concat(partial)));
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * A received file read by the engine when its format allows (a plain CSV that `engineCanReadCsv`, and that
 * `readCsvWithEngine` does not decline): the rows the scanner had to read, and every reject, go to `sink` as
 * `readFileRows` would hand them; the other good rows are the relation returned, with `count` rows. Undefined
 * when the file must be read by `readFileRows` instead.
 */
export async function readFileWithEngine(
  engine: Engine,
  path: string,
  name: string,
  fmt: FileFormat,
  workDir: string,
  sink: RowSink,
): Promise<{ select: string; count: number } | undefined> {
  const encoding = fmt.encoding ?? 'utf-8';
  if (fmt.format !== 'csv' || fmt.pgp) return undefined;
  // A source without a `csv:` block reads with the defaults, as the scanner does (read-file.ts).
  const options = fmt.csv ?? csvOptionsSchema.parse({});
  // readCsvWithEngine declines what engineCanReadCsv refuses.
  const read = await readCsvWithEngine(engine, { path, name, options, encoding, schema: fmt.schema, workDir });
  if (!read) return undefined;
  for (const r of read.rows) sink.row(r.line, r.values);
  for (const r of read.rejects) sink.reject(r.line, r.reason, r.raw);
  return { select: read.select, count: read.count };
}
