import { join } from 'node:path';
import { FinmeshError } from '../../core/errors.js';
import { type CsvColumn, type CsvOptions, csvOptionsSchema, csvParser } from './csv.js';
import { type DecodeLimits, decodeText, type Encoding, openMembers, sniffContainer } from './decode.js';
import { fixedWidthParser, type Layout } from './fixed-width.js';
import { type ParseText, type RowSink, TruncatedInput } from './format.js';
import { parseNdjson } from './ndjson.js';
import { decryptPgpFile, type PgpKeys } from './pgp.js';

/** How a source's files are read: envelope (PGP, gzip, zip), text encoding, and record format. */
export interface FileFormat {
  format: 'ndjson' | 'fixed-width' | 'csv';
  layout?: Layout | undefined;
  csv?: CsvOptions | undefined;
  encoding?: Encoding | undefined;
  /** The source schema: CSV values are typed by it. */
  schema: CsvColumn[];
  pgp?: PgpKeys | undefined;
  limits: DecodeLimits;
}

export interface FileReadResult {
  /** Set when the file must not load at all: bad signature, decompression limit, truncation, trailer mismatch. */
  integrityError: string | undefined;
  /** The integrity error says the file ends before it is whole (`TruncatedInput`): it may still be being written. */
  truncated?: boolean;
  /** The files read: the file itself, or `file!entry` for each zip entry. */
  members: string[];
  /** Key id of the partner's verified PGP signature. */
  signedBy?: string | undefined;
}

/**
 * Reads a received file into rows: decrypts it when the source uses PGP (into `workDir`), opens gzip or zip
 * (bounded), decodes the text and parses each member with the source's format, handing rows and rejects to the
 * sink of that member. A data problem that condemns the whole file comes back as `integrityError`; the caller then
 * discards what the sinks received.
 */
export async function readFileRows(
  path: string,
  name: string,
  fmt: FileFormat,
  workDir: string,
  sinkFor: (member: string) => RowSink,
  /** Read a plain (not compressed, not encrypted) file up to this many bytes only. */
  plainBytes?: number,
): Promise<FileReadResult> {
  const members: string[] = [];
  let signedBy: string | undefined;
  try {
    let input = path;
    const container = await sniffContainer(path);
    if (fmt.pgp) {
      if (container !== 'pgp' && container !== 'pgp-armored')
        throw new FinmeshError('DATA_INVALID', `${name}: the source expects PGP-encrypted files and this one is not encrypted`);
      input = join(workDir, 'decrypted');
      ({ signedBy } = await decryptPgpFile(path, input, fmt.pgp, name, container === 'pgp-armored'));
    }
    const parse = parserFor(fmt);
    const encoding = fmt.encoding ?? fmt.layout?.encoding ?? 'utf-8';
    for await (const member of openMembers(input, name, fmt.limits, fmt.pgp ? undefined : container, fmt.pgp ? undefined : plainBytes)) {
      members.push(member.name);
      const error = await parse(decodeText(member.bytes, encoding, member.name), member.name, sinkFor(member.name));
      if (error) return { integrityError: error, members, signedBy };
    }
    return { integrityError: undefined, members, signedBy };
  } catch (e) {
    if (e instanceof FinmeshError && e.code === 'DATA_INVALID')
      return { integrityError: e.message, truncated: e instanceof TruncatedInput, members, signedBy };
    throw e;
  }
}

function parserFor(fmt: FileFormat): ParseText {
  switch (fmt.format) {
    case 'fixed-width':
      if (!fmt.layout) throw new FinmeshError('CONFIG_INVALID', 'a fixed-width source needs a layout');
      return fixedWidthParser(fmt.layout, fmt.schema);
    case 'csv':
      return csvParser(fmt.csv ?? csvOptionsSchema.parse({}), fmt.schema);
    case 'ndjson':
      return parseNdjson;
  }
}
