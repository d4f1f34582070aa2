import { FinmeshError } from '../../core/errors.js';

/** Where a parser puts what it reads: good rows, and bad rows with the reason and the raw text. */
export interface RowSink {
  row(line: number, values: Record<string, unknown>): void;
  reject(line: number, reason: string, raw: string): void;
}

/**
 * Reads one file's text into a sink. Returns an integrity error when the file as a whole cannot be trusted
 * (trailer mismatch, truncation, a header without the expected columns): then nothing of it may load.
 */
export type ParseText = (chunks: AsyncIterable<string>, file: string, sink: RowSink) => Promise<string | undefined>;

export interface ParsedFile {
  rows: { line: number; values: Record<string, unknown> }[];
  rejects: { line: number; reason: string; raw: string }[];
  /** Set when the file as a whole fails integrity: nothing may load. */
  integrityError: string | undefined;
}

/** A sink that keeps everything in memory (tests, small files). */
export function collectingSink(): RowSink & Omit<ParsedFile, 'integrityError'> {
  const rows: ParsedFile['rows'] = [];
  const rejects: ParsedFile['rejects'] = [];
  return {
    rows,
    rejects,
    row: (line, values) => rows.push({ line, values }),
    reject: (line, reason, raw) => rejects.push({ line, reason, raw }),
  };
}

/** Parses a whole text in memory with a streaming parser. */
export async function parseText(parse: ParseText, text: string, file: string): Promise<ParsedFile> {
  const sink = collectingSink();
  let integrityError: string | undefined;
  try {
    integrityError = await parse(
      (async function* () {
        yield text;
      })(),
      file,
      sink,
    );
  } catch (e) {
    if (!(e instanceof FinmeshError && e.code === 'DATA_INVALID')) throw e;
    integrityError = e.message;
  }
  return { rows: sink.rows, rejects: sink.rejects, integrityError };
}

/**
 * The input ends before it is whole — no trailer record yet, a gzip or zip cut short, a quoted field or a UTF-8
 * character still open at the end: what a file still being written looks like. The ingest job waits for such a
 * file while it is young and quarantines it as truncated once it has held still long enough.
 */
export class TruncatedInput extends FinmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA_INVALID', message, options);
    this.name = 'TruncatedInput';
  }
}
