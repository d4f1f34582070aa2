import type { SFTPWrapper } from 'ssh2';

/**
 * File names over SFTP are bytes. Partner servers hold names in ISO-8859-1 or with control characters, and ssh2
 * decodes every name as UTF-8 (an invalid byte becomes U+FFFD, so the file can never be asked for again) and puts
 * control characters into strings that reach terminals and logs raw. finmesh therefore names remote files by an
 * escaped form, the same on every path it shows, stores and asks for:
 *
 * - a name that is valid UTF-8 without control characters or backslashes is itself;
 * - otherwise each byte that is not part of a printable UTF-8 character (an invalid byte, a C0/C1 control or DEL,
 *   a bidirectional override) is written `\xHH`, and a backslash `\\`.
 *
 * The escaped form is ASCII-safe for those bytes, is never ambiguous (finmesh writes a backslash only as `\\` or
 * `\xHH` in an escaped name) and turns back into the exact bytes (`rawPath`). `installRawNames` rewrites an ssh2
 * SFTP session's packets so names arrive escaped and paths leave as their bytes.
 */
export function escapeName(raw: Buffer): string {
  if (isPlain(raw)) return raw.toString('latin1');
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const n = sequenceLength(raw, i);
    if (n === 0) {
      out += hex(raw[i] as number);
      i++;
      continue;
    }
    const ch = raw.toString('utf8', i, i + n);
    const cp = ch.codePointAt(0) as number;
    if (cp === 0x5c) out += '\\\\';
    else if (isUnsafe(cp)) for (let k = i; k < i + n; k++) out += hex(raw[k] as number);
    else out += ch;
    i += n;
  }
  return out;
}

/** The bytes an escaped path names: `\xHH` is byte HH, `\\` a backslash, anything else its UTF-8. */
export function rawPath(escaped: string): Buffer {
  if (!escaped.includes('\\')) return Buffer.from(escaped, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; ) {
    if (escaped[i] === '\\' && escaped[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 2;
    } else if (escaped[i] === '\\' && escaped[i + 1] === 'x' && /^[0-9A-Fa-f]{2}$/.test(escaped.slice(i + 2, i + 4))) {
      bytes.push(Number.parseInt(escaped.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const cp = escaped.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      i += ch.length;
    }
  }
  return Buffer.from(bytes);
}

/** True when a name shows and prints as itself (`escapeName` leaves it alone). */
export function isPrintableName(name: string): boolean {
  return escapeName(Buffer.from(name, 'utf8')) === name && !name.includes('\uFFFD');
}

const hex = (b: number) => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/** Printable ASCII without a backslash: the common case, shown as it is without decoding. */
function isPlain(raw: Buffer): boolean {
  for (const b of raw) if (b < 0x20 || b >= 0x7f || b === 0x5c) return false;
  return true;
}

/** Controls (C0, DEL, C1) and the bidirectional formatting characters that reorder what a terminal shows. */
function isUnsafe(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  );
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates or code points past U+10FFFF); 0 if none. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// SFTP v3 packet types (draft-ietf-secsh-filexfer-02) whose strings are paths or names.
const NAME = 104;
/** Requests → how many path strings follow the request id. */
const PATH_REQUESTS = new Map<number, number>([
  [3, 1], // OPEN
  [7, 1], // LSTAT
  [9, 1], // SETSTAT
  [11, 1], // OPENDIR
  [13, 1], // REMOVE
  [14, 1], // MKDIR
  [15, 1], // RMDIR
  [16, 1], // REALPATH
  [17, 1], // STAT
  [18, 2], // RENAME
  [19, 1], // READLINK
  [20, 2], // SYMLINK
]);
/** A packet larger than this is not ours to rewrite: it passes on as it is and ssh2 judges it. */
const MAX_REWRITE_BYTES = 4 << 20;

interface SftpInternals {
  push(data: Buffer | null): unknown;
  _protocol?: { channelData(id: number, data: Buffer): unknown };
}

/**
 * Rewrites one SFTP session's packets so the escaped names above hold on it. On a client: names in NAME answers
 * arrive escaped, and paths in requests leave as the bytes they name. On a server (the test's misbehaving server,
 * which must send bytes that are not UTF-8): the other way round. ssh2 keeps no public hook for this, so the
 * session's `push` (what the channel delivers) and its protocol's `channelData` (what it sends) are wrapped; both
 * are pinned by the tests against OpenSSH. Returns false, changing nothing, when the session does not look as
 * expected (a future ssh2): names then stay as ssh2 decodes them.
 */
export function installRawNames(sftp: SFTPWrapper, side: 'client' | 'server' = 'client'): boolean {
  const s = sftp as unknown as SftpInternals;
  const protocol = s._protocol;
  if (typeof s.push !== 'function' || !protocol || typeof protocol.channelData !== 'function') return false;
  const push = s.push.bind(sftp);
  const inbound = new PacketStream(
    side === 'client' ? (t) => t === NAME : (t) => PATH_REQUESTS.has(t),
    side === 'client' ? (p) => rewriteNames(p, escapeName) : (p) => rewritePaths(p, escapeName),
    (b) => push(b),
  );
  s.push = (data: Buffer | null) => (data === null ? push(null) : inbound.push(data));
  let outbound: PacketStream | undefined;
  s._protocol = new Proxy(protocol, {
    get(target, key) {
      if (key === 'channelData')
        return (id: number, data: Buffer) => {
          outbound ??= new PacketStream(
            side === 'client' ? (t) => PATH_REQUESTS.has(t) : (t) => t === NAME,
            side === 'client' ? (p) => rewritePaths(p, decodeText) : (p) => rewriteNames(p, decodeText),
            (b) => target.channelData(id, b),
          );
          return outbound.push(data);
        };
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return true;
}

/** Escaped text (as UTF-8 bytes) → the raw bytes it names. */
const decodeText = (bytes: Buffer): Buffer => (bytes.includes(0x5c) ? rawPath(bytes.toString('utf8')) : bytes);

/**
 * Splits a byte stream into SFTP packets (`uint32 length`, then `length` bytes starting with the type) and hands
 * them on; packets of a type `wants` are collected whole and `rewrite`n, every other byte goes on at once, unchanged.
 */
class PacketStream {
  /** Bytes of the current packet still to pass on unchanged. */
  private pass = 0;
  /** The start of a packet not yet complete (a header, or a packet to rewrite). */
  private pending: Buffer | undefined;

  constructor(
    private readonly wants: (type: number) => boolean,
    private readonly rewrite: (packet: Buffer) => Buffer,
    private readonly forward: (bytes: Buffer) => unknown,
  ) {}

  push(chunk: Buffer): unknown {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let result: unknown;
    let run = 0;
    let p = 0;
    const flush = (end: number) => {
      if (end > run) result = this.forward(data.subarray(run, end));
    };
    while (p < data.length) {
      if (this.pass > 0) {
        const n = Math.min(this.pass, data.length - p);
        this.pass -= n;
        p += n;
        continue;
      }
      if (data.length - p < 5) {
        flush(p);
        this.pending = Buffer.from(data.subarray(p));
        return result;
      }
      const total = 4 + data.readUInt32BE(p);
      if (!this.wants(data[p + 4] as number) || total > MAX_REWRITE_BYTES) {
        this.pass = total;
        continue;
      }
      if (data.length - p < total) {
        flush(p);
        this.pending = Buffer.from(data.subarray(p));
        return result;
      }
      flush(p);
      result = this.forward(this.rewrite(data.subarray(p, p + total)));
      p += total;
      run = p;
    }
    flush(p);
    return result;
  }
}

/** A NAME packet with each filename and longname passed through `map`. */
function rewriteNames(packet: Buffer, map: (bytes: Buffer) => Buffer | string): Buffer {
  try {
    const r = new Reader(packet, 9);
    const count = r.u32();
    const parts: Buffer[] = [packet.subarray(0, 13)];
    let changed = false;
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 2; k++) {
        const s = r.string();
        const m = toBytes(map(s));
        if (!m.equals(s)) changed = true;
        parts.push(lengthOf(m), m);
      }
      const start = r.pos;
      r.attrs();
      parts.push(packet.subarray(start, r.pos));
    }
    if (!changed) return packet;
    return withLength(Buffer.concat(parts));
  } catch {
    return packet;
  }
}

/** A request packet with its leading path string(s) passed through `map`. */
function rewritePaths(packet: Buffer, map: (bytes: Buffer) => Buffer | string): Buffer {
  try {
    const n = PATH_REQUESTS.get(packet[4] as number) ?? 0;
    const r = new Reader(packet, 9);
    const parts: Buffer[] = [packet.subarray(0, 9)];
    let changed = false;
    for (let i = 0; i < n; i++) {
      const s = r.string();
      const m = toBytes(map(s));
      if (!m.equals(s)) changed = true;
      parts.push(lengthOf(m), m);
    }
    if (!changed) return packet;
    parts.push(packet.subarray(r.pos));
    return withLength(Buffer.concat(parts));
  } catch {
    return packet;
  }
}

const toBytes = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

function lengthOf(b: Buffer): Buffer {
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return l;
}

/** The packet with its length field set to what follows it. */
function withLength(packet: Buffer): Buffer {
  packet.writeUInt32BE(packet.length - 4, 0);
  return packet;
}

class Reader {
  constructor(
    private readonly b: Buffer,
    public pos: number,
  ) {}

  u32(): number {
    if (this.pos + 4 > this.b.length) throw new RangeError('short packet');
    const v = this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  string(): Buffer {
    const n = this.u32();
    if (this.pos + n > this.b.length) throw new RangeError('short packet');
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Skips an ATTRS structure. */
  attrs(): void {
    const flags = this.u32();
    if (flags & 0x1) this.skip(8);
    if (flags & 0x2) this.skip(8);
    if (flags & 0x4) this.skip(4);
    if (flags & 0x8) this.skip(8);
    if (flags & 0x80000000) {
      const n = this.u32();
      for (let i = 0; i < 2 * n; i++) this.string();
    }
  }

  private skip(n: number): void {
    if (this.pos + n > this.b.length) throw new RangeError('short packet');
    this.pos += n;
  }
}
