/**
 * An RFC 4180 record scanner built for partner files, where every row must keep the line it starts on and a bad
 * row must not take good ones with it.
 *
 * Why not a library: `csv-parse` (the first choice, used until measured) reads ~80k rows/s here with the line and
 * raw-text tracking this needs — a tenth of DuckDB's `read_csv` on the same file (`npm run bench`) — and
 * papaparse, though fast, folds everything after a malformed quote into one field. This scanner splits lines
 * without quotes directly (the common case), walks quoted records character by character, and after a
 * malformed quote rejects that record's physical lines and picks up at the next line.
 */

export interface CsvDialect {
  delimiter: string;
  quote: string;
  /** Escapes a quote inside a quoted field; the quote itself by default (`""`). */
  escape: string;
  /** Lines starting with this character are skipped. */
  comment?: string | undefined;
  /** Physical lines skipped before the first record. */
  skipLines: number;
  /** Blanks around unquoted values are dropped. */
  trim: boolean;
  /** A record longer than this (an unclosed quote swallowing the file) stops the file. */
  maxRecordChars: number;
}

export interface CsvRecordSink {
  record(fields: string[], line: number, raw: string): void;
  malformed(reason: string, line: number, raw: string): void;
}

type Step =
  | { kind: 'record'; fields: string[]; end: number; lines: number }
  | { kind: 'bad'; reason: string; end: number; lines: number }
  | { kind: 'more' };

export class CsvScanner {
  private carry = '';
  /** Line number of the first character of `carry`. */
  private line = 1;
  private toSkip: number;
  /** Set when the input ended inside a quoted field: the line it opened on. */
  unclosedAt: number | undefined;
  /** Set when a record grew past `maxRecordChars`. */
  tooLongAt: number | undefined;

  constructor(
    private readonly d: CsvDialect,
    private readonly sink: CsvRecordSink,
  ) {
    this.toSkip = d.skipLines;
  }

  /** Scans what is complete in `chunk` (with what was left from before); keeps the incomplete tail. */
  push(chunk: string): void {
    if (this.tooLongAt !== undefined) return;
    this.scan(this.carry + chunk, false);
  }

  /** The input ended: the last record may lack its line end; an open quote is reported in `unclosedAt`. */
  end(): void {
    if (this.tooLongAt !== undefined) return;
    this.scan(this.carry, true);
    this.carry = '';
  }

  private scan(text: string, final: boolean): void {
    let p = 0;
    const n = text.length;
    while (p < n) {
      const nl = text.indexOf('\n', p);
      if (
        this.toSkip > 0 ||
        text.charCodeAt(p) === 10 ||
        (text.charCodeAt(p) === 13 && text.charCodeAt(p + 1) === 10) ||
        (this.d.comment !== undefined && text.startsWith(this.d.comment, p))
      ) {
        // A skipped line, an empty line, or a comment.
        if (nl === -1 && !final) break;
        if (this.toSkip > 0) this.toSkip--;
        p = nl === -1 ? n : nl + 1;
        this.line++;
        continue;
      }
      const step = this.record(text, p, final);
      if (step.kind === 'more') break;
      const rawEnd = step.end > p && text.charCodeAt(step.end - 1) === 10 ? step.end - 1 : step.end;
      const raw = text.slice(p, rawEnd > p && text.charCodeAt(rawEnd - 1) === 13 ? rawEnd - 1 : rawEnd);
      if (step.kind === 'record') this.sink.record(step.fields, this.line, raw);
      else this.sink.malformed(step.reason, this.line, raw);
      this.line += step.lines;
      p = step.end;
    }
    this.carry = text.slice(p);
    if (!final && this.carry.length > this.d.maxRecordChars) {
      this.tooLongAt = this.line;
      this.carry = '';
    }
  }

  /** One record starting at `p`: its fields, where the next begins, and how many line ends it spans. */
  private record(text: string, p: number, final: boolean): Step {
    const { delimiter, quote } = this.d;
    const nl = text.indexOf('\n', p);
    const lineEnd = nl === -1 ? text.length : nl;
    if (nl === -1 && !final) return { kind: 'more' };
    const q = text.indexOf(quote, p);
    if (q === -1 || q >= lineEnd) {
      // No quote on the line: the line is the record.
      let body = text.slice(p, lineEnd);
      if (body.charCodeAt(body.length - 1) === 13) body = body.slice(0, -1);
      const fields = body.split(delimiter);
      if (this.d.trim) for (let i = 0; i < fields.length; i++) fields[i] = (fields[i] as string).trim();
      return { kind: 'record', fields, end: nl === -1 ? text.length : nl + 1, lines: nl === -1 ? 0 : 1 };
    }
    return this.quotedRecord(text, p, final);
  }

  /**
   * Whether the character at `i` is a space or tab around a quoted value, which trimming drops — not when it is the
   * delimiter itself (a tab- or space-separated file: there it ends an empty value).
   */
  private padding(text: string, i: number): boolean {
    const c = text[i];
    return (c === ' ' || c === '\t') && !text.startsWith(this.d.delimiter, i);
  }

  private quotedRecord(text: string, start: number, final: boolean): Step {
    const { delimiter, quote, escape: esc } = this.d;
    const fields: string[] = [];
    let p = start;
    let lines = 0;
    const n = text.length;
    for (;;) {
      // At the start of a field.
      let lead = p;
      while (this.d.trim && this.padding(text, lead)) lead++;
      if (text.startsWith(quote, lead)) {
        let value = '';
        let from = lead + quote.length;
        for (;;) {
          const close = text.indexOf(quote, from);
          if (close === -1) {
            if (!final) return { kind: 'more' };
            this.unclosedAt = this.line + lines;
            return { kind: 'more' };
          }
          if (esc !== quote && close > from && text.startsWith(esc, close - esc.length)) {
            value += text.slice(from, close - esc.length) + quote;
            from = close + quote.length;
            continue;
          }
          if (esc === quote && text.startsWith(quote, close + quote.length)) {
            value += text.slice(from, close) + quote;
            from = close + 2 * quote.length;
            continue;
          }
          if (esc === quote && close + quote.length >= n && !final) return { kind: 'more' };
          value += text.slice(from, close);
          p = close + quote.length;
          break;
        }
        lines += countNewlines(value, 0, value.length);
        while (this.d.trim && this.padding(text, p)) p++;
        fields.push(value);
        if (!final && p + delimiter.length > n) return { kind: 'more' };
        if (text.startsWith(delimiter, p)) {
          p += delimiter.length;
          continue;
        }
        // The chunk may end right after the quote (or between CR and LF): wait for what follows.
        if (!final && (p >= n || (text.charCodeAt(p) === 13 && p + 1 >= n))) return { kind: 'more' };
        const endOfRecord = atLineEnd(text, p);
        if (endOfRecord !== undefined) return { kind: 'record', fields, end: endOfRecord, lines: lines + (endOfRecord > p ? 1 : 0) };
        // A quote closed a field but something else follows it: reject this record's lines, resume at the next.
        const nl = text.indexOf('\n', p);
        if (nl === -1 && !final) return { kind: 'more' };
        return {
          kind: 'bad',
          reason: `field ${fields.length}: a closing quote is followed by "${text[p]}" instead of the delimiter or the line end`,
          end: nl === -1 ? n : nl + 1,
          lines: lines + (nl === -1 ? 0 : 1),
        };
      }
      // An unquoted field runs to the next delimiter or line end; a quote inside it is kept as text.
      const nl = text.indexOf('\n', p);
      if (nl === -1 && !final) return { kind: 'more' };
      const lineEnd = nl === -1 ? n : nl;
      const del = text.indexOf(delimiter, p);
      if (del !== -1 && del < lineEnd) {
        fields.push(this.d.trim ? text.slice(p, del).trim() : text.slice(p, del));
        p = del + delimiter.length;
        continue;
      }
      let value = text.slice(p, lineEnd);
      if (value.charCodeAt(value.length - 1) === 13) value = value.slice(0, -1);
      fields.push(this.d.trim ? value.trim() : value);
      return { kind: 'record', fields, end: nl === -1 ? n : nl + 1, lines: lines + (nl === -1 ? 0 : 1) };
    }
  }
}

/** Where the record ends when `p` is at a line end (after it), or at the end of the text; undefined otherwise. */
function atLineEnd(text: string, p: number): number | undefined {
  if (p >= text.length) return text.length;
  if (text.charCodeAt(p) === 10) return p + 1;
  if (text.charCodeAt(p) === 13 && text.charCodeAt(p + 1) === 10) return p + 2;
  return undefined;
}

function countNewlines(s: string, from: number, to: number): number {
  let count = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) count++;
  return count;
}
