import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import yauzl from 'yauzl';
import { FinmeshError } from '../../core/errors.js';
import { TruncatedInput } from './format.js';

export const ENCODINGS = ['utf-8', 'latin1', 'windows-1252'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export interface DecodeLimits {
  /** Largest decompressed size accepted (all members of an archive together). */
  maxBytes: number;
  /** Largest decompressed/compressed ratio accepted (a zip bomb exceeds it). */
  maxRatio: number;
  /** Most files an archive may hold. */
  maxEntries: number;
}

/** One file inside what was received: the file itself, the content of a gzip, or one entry of a zip. */
export interface Member {
  /** `name` for a plain or gzip file, `name!entry` for a zip entry. */
  name: string;
  bytes: Readable;
}

export type Container = 'plain' | 'gzip' | 'zip' | 'pgp' | 'pgp-armored';

/** What the first bytes say the file is. */
export async function sniffContainer(path: string): Promise<Container> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(32);
    const { bytesRead } = await fh.read(head, 0, 32, 0);
    const b = head.subarray(0, bytesRead);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6))) return 'zip';
    if (b.toString('latin1').startsWith('-----BEGIN PGP MESSAGE-----')) return 'pgp-armored';
    // A binary OpenPGP message opens with a public-key encrypted session key packet (tag 1), old or new format.
    if (b[0] === 0x84 || b[0] === 0x85 || b[0] === 0xc1) return 'pgp';
    return 'plain';
  } finally {
    await fh.close();
  }
}

/**
 * The files inside `path`, decompressed on the fly: a plain file is one member, a gzip its content, a zip each of
 * its file entries in order. Limits are enforced on the bytes actually produced (not only on what headers
 * declare), so a zip bomb stops at the limit with an error naming the file. Consume each member's stream before
 * asking for the next.
 */
export async function* openMembers(
  path: string,
  name: string,
  limits: DecodeLimits,
  /** What the file is, when the caller has looked already. */
  known?: Container,
  /** A plain file is read up to this many bytes only (its complete lines, while its last one is still being written). */
  plainBytes?: number,
): AsyncGenerator<Member> {
  const kind = known ?? (await sniffContainer(path));
  if (kind === 'pgp' || kind === 'pgp-armored')
    throw new FinmeshError('DATA_INVALID', `${name}: the file is PGP-encrypted but the source has no \`pgp\` settings to decrypt it`);
  if (kind === 'plain') {
    yield { name, bytes: createReadStream(path, plainBytes === undefined ? {} : { end: plainBytes - 1 }) };
    return;
  }
  const compressed = (await stat(path)).size;
  const budget = { produced: 0 };
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    // Small reads, so the compressed bytes consumed so far measure the expansion closely (see `limitBytes`).
    const source = createReadStream(path, { highWaterMark: 16 * 1024 });
    const limited = limitBytes(name, compressed, limits, budget, () => source.bytesRead);
    // `pipe` forwards no errors: a corrupt or truncated gzip must fail the reader, not hang it.
    source.on('error', (e) => limited.destroy(e));
    gunzip.on('error', (e) =>
      limited.destroy(
        new TruncatedInput(`${name}: not a valid gzip stream (${e.message}); the file is corrupt or cut short`, { cause: e }),
      ),
    );
    yield { name: name.replace(/\.gz$/i, ''), bytes: source.pipe(gunzip).pipe(limited) };
    return;
  }
  yield* zipMembers(path, name, compressed, limits, budget);
}

async function* zipMembers(
  path: string,
  name: string,
  compressed: number,
  limits: DecodeLimits,
  budget: { produced: number },
): AsyncGenerator<Member> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: true, strictFileNames: true }, (err, z) =>
      err || !z ? reject(zipError(name, err)) : resolve(z),
    ),
  );
  try {
    if (zip.entryCount > limits.maxEntries)
      throw new FinmeshError(
        'DATA_INVALID',
        `${name}: the archive holds ${zip.entryCount} entries, above the limit of ${limits.maxEntries}`,
      );
    let files = 0;
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (e: yauzl.Entry) => {
          zip.off('end', onEnd);
          zip.off('error', onError);
          resolve(e);
        };
        const onEnd = () => {
          zip.off('entry', onEntry);
          zip.off('error', onError);
          resolve(undefined);
        };
        const onError = (e: Error) => {
          zip.off('entry', onEntry);
          zip.off('end', onEnd);
          reject(zipError(name, e));
        };
        zip.once('entry', onEntry);
        zip.once('end', onEnd);
        zip.once('error', onError);
        zip.readEntry();
      });
      if (!entry) break;
      if (entry.fileName.endsWith('/')) continue;
      files++;
      const entryName = `${name}!${entry.fileName}`;
      if (entry.isEncrypted())
        throw new FinmeshError('DATA_INVALID', `${entryName}: the entry is password-protected; finmesh reads PGP, not zip passwords`);
      if (budget.produced + entry.uncompressedSize > limits.maxBytes)
        throw new FinmeshError(
          'DATA_INVALID',
          `${entryName}: declares ${entry.uncompressedSize} bytes, which takes the archive above the limit of ${limits.maxBytes}`,
        );
      if (entry.uncompressedSize / Math.max(1, entry.compressedSize) > limits.maxRatio)
        throw new FinmeshError(
          'DATA_INVALID',
          `${entryName}: declares an expansion of ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))}×, above the limit of ${limits.maxRatio}×`,
        );
      const stream = await new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) => (err || !s ? reject(zipError(entryName, err)) : resolve(s))),
      );
      const limited = stream.pipe(limitBytes(entryName, compressed, limits, budget));
      stream.on('error', (e) => limited.destroy(zipError(entryName, e)));
      yield { name: entryName, bytes: limited };
    }
    if (files === 0) throw new FinmeshError('DATA_INVALID', `${name}: the archive holds no files`);
  } finally {
    zip.close();
  }
}

function zipError(name: string, cause: unknown): FinmeshError {
  if (cause instanceof FinmeshError) return cause;
  // A zip is read from its end (the central directory): one still being written, or cut short, has none.
  return new TruncatedInput(`${name}: not a readable zip archive (${(cause as Error | undefined)?.message ?? 'unknown error'})`, { cause });
}

/**
 * Counts what decompression produces and stops it at the size or ratio limit. With `consumed` (the compressed bytes
 * read so far) the ratio is judged as the bytes come, so a bomb stops within its first megabytes, before any parser
 * limit (a record length) could speak first and hide what it is; otherwise against the whole compressed size.
 */
function limitBytes(
  name: string,
  compressed: number,
  limits: DecodeLimits,
  budget: { produced: number },
  consumed?: () => number,
): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      budget.produced += chunk.length;
      if (budget.produced > limits.maxBytes)
        return done(new FinmeshError('DATA_INVALID', `${name}: decompresses to more than the limit of ${limits.maxBytes} bytes`));
      const base = Math.max(1, consumed ? Math.min(compressed, consumed()) : compressed);
      if (budget.produced > 1024 * 1024 && budget.produced / base > limits.maxRatio)
        return done(
          new FinmeshError(
            'DATA_INVALID',
            `${name}: expands more than ${limits.maxRatio}× (${budget.produced} bytes from the first ${base} of its ${compressed} compressed bytes), above the limit of ${limits.maxRatio}×`,
          ),
        );
      done(null, chunk);
    },
    flush(done) {
      if (budget.produced / Math.max(1, compressed) > limits.maxRatio)
        return done(
          new FinmeshError(
            'DATA_INVALID',
            `${name}: expands ${Math.round(budget.produced / Math.max(1, compressed))}× when decompressed, above the limit of ${limits.maxRatio}×`,
          ),
        );
      done();
    },
  });
}

/**
 * Bytes → text in the declared encoding, chunk by chunk, without a BOM. ISO-8859-1 is decoded as ISO-8859-1
 * proper (the WHATWG decoder would read it as Windows-1252). Text that is not valid UTF-8 where UTF-8 is
 * declared is an error naming the byte range, not a silent U+FFFD.
 */
export async function* decodeText(bytes: AsyncIterable<Buffer>, encoding: Encoding, name: string): AsyncGenerator<string> {
  const decoder = encoding === 'latin1' ? undefined : new TextDecoder(encoding, { fatal: encoding === 'utf-8' });
  let offset = 0;
  let first = true;
  for await (const chunk of bytes) {
    let text: string;
    try {
      text = decoder ? decoder.decode(chunk, { stream: true }) : chunk.toString('latin1');
    } catch (cause) {
      throw new FinmeshError(
        'DATA_INVALID',
        `${name}: not valid UTF-8 within bytes ${offset}-${offset + chunk.length - 1}; if the partner sends ISO-8859-1 or Windows-1252, set \`encoding\``,
        { cause },
      );
    }
    offset += chunk.length;
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    if (text.length > 0) yield text;
  }
  if (decoder) {
    let tail: string;
    try {
      tail = decoder.decode();
    } catch (cause) {
      throw new TruncatedInput(`${name}: ends inside a UTF-8 character (the file is cut short?)`, { cause });
    }
    if (tail) yield tail;
  }
}

/** Lines of a text stream in batches (one per chunk), numbered from 1, without their line end (LF or CRLF). */
export async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<{ first: number; lines: string[] }> {
  let rest = '';
  let n = 0;
  for await (const chunk of chunks) {
    const text = rest + chunk;
    const lines = text.split('\n');
    rest = lines.pop() as string;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i] as string;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    if (lines.length > 0) {
      yield { first: n + 1, lines };
      n += lines.length;
    }
  }
  if (rest.length > 0) yield { first: n + 1, lines: [rest.endsWith('\r') ? rest.slice(0, -1) : rest] };
}
