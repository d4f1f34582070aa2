// A deliberately misbehaving SFTP server for tests of what finmesh does with a partner server it cannot trust: it
// speaks the real protocol (ssh2's server side) over a virtual tree, and lists names a real filesystem would not
// hold (`../x`, `a/b`), names with control characters or bytes that are not UTF-8, folders that loop forever, and
// it can stop answering mid-read or mid-listing while its SSH layer stays alive (keepalives still answered).
import type { AddressInfo } from 'node:net';
import ssh2, { type Connection, type SFTPWrapper } from 'ssh2';
import { sshFingerprint } from '../src/sources/files/sftp/fingerprint.js';
import { generateHostKey } from '../src/sources/files/sftp/host-key.js';
import { installRawNames } from '../src/sources/files/sftp/raw-names.js';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

/** One entry of a folder: a file with its bytes, or a folder. Names in finmesh's escaped form (`\xE7`). */
export interface HostileEntry {
  name: string;
  data?: Buffer;
  folder?: boolean;
  /** Seconds since the epoch. */
  mtime?: number;
}

export interface HostileOptions {
  username?: string;
  password?: string;
  /** The entries of folder `path` (escaped form, no trailing slash); undefined when there is no such folder. */
  list(path: string): HostileEntry[] | undefined;
  /** What REALPATH answers (default: the path as asked, a server that resolves nothing). */
  realpath?: (path: string) => string;
  /** Stop answering READ once this many bytes were served on a connection… */
  stallReadsAfterBytes?: number;
  /** …on this many connections, the first ones (default: every connection). */
  stallConnections?: number;
  /** Never answer READDIR. */
  stallListing?: boolean;
}

export interface HostileServer {
  port: number;
  fingerprint: string;
  username: string;
  password: string;
  /** Every path a client opened, stat'ed, renamed (both ends), removed or made, as asked. */
  touched: string[];
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startHostileSftp(o: HostileOptions): Promise<HostileServer> {
  const username = o.username ?? 'partner';
  const password = o.password ?? 'pw-hostile';
  // ssh2's generator writes a key its own parser refuses about 4 times in 1,000: the product's helper draws again.
  const key = { private: generateHostKey().privateKey };
  const parsed = utils.parseKey(key.private);
  if (parsed instanceof Error) throw parsed;
  const touched: string[] = [];
  let connections = 0;
  const sockets = new Set<{ destroy(): void }>();
  const server = new Server({ hostKeys: [key.private] }, (client: Connection) => {
    const n = ++connections;
    const sock = (client as unknown as { _sock: { destroy(): void } })._sock;
    sockets.add(sock);
    client.on('close', () => sockets.delete(sock));
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === username && ctx.password === password) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          installRawNames(sftp, 'server');
          const stalls = o.stallReadsAfterBytes !== undefined && n <= (o.stallConnections ?? Number.POSITIVE_INFINITY);
          serve(sftp, o, touched, stalls ? (o.stallReadsAfterBytes as number) : undefined);
        });
      });
    });
    client.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: sshFingerprint(parsed.getPublicSSH()),
    username,
    password,
    touched,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function serve(sftp: SFTPWrapper, o: HostileOptions, touched: string[], stallAfter: number | undefined): void {
  const handles = new Map<number, { data?: Buffer; dir?: HostileEntry[] }>();
  let next = 1;
  let served = 0;
  const handle = (h: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(h);
    return b;
  };
  const parent = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf('/'))) || '/';
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  const find = (p: string): HostileEntry | undefined => {
    const clean = p.replace(/\/+$/, '') || '/';
    if (o.list(clean)) return { name: base(clean), folder: true };
    return o.list(parent(clean))?.find((e) => e.name === base(clean));
  };
  const attrs = (e: HostileEntry) => ({
    mode: e.folder ? 0o040755 : 0o100644,
    uid: 0,
    gid: 0,
    size: e.data?.length ?? 0,
    atime: e.mtime ?? 1_700_000_000,
    mtime: e.mtime ?? 1_700_000_000,
  });
  const stat = (reqid: number, p: string) => {
    touched.push(p);
    const e = find(p);
    if (!e) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    sftp.attrs(reqid, attrs(e));
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('REALPATH', (reqid, p) => {
    const real = o.realpath ? o.realpath(p) : p;
    sftp.name(reqid, [{ filename: real, longname: real, attrs: {} as never }]);
  });
  sftp.on('OPEN', (reqid, p) => {
    touched.push(p);
    const e = find(p);
    if (!e?.data) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    const h = next++;
    handles.set(h, { data: e.data });
    sftp.handle(reqid, handle(h));
  });
  sftp.on('READ', (reqid, h, offset, length) => {
    const e = handles.get(h.readUInt32BE(0));
    if (!e?.data) return sftp.status(reqid, STATUS_CODE.FAILURE);
    // A stalled server: the request is read and never answered.
    if (stallAfter !== undefined && served >= stallAfter) return;
    if (offset >= e.data.length) return sftp.status(reqid, STATUS_CODE.EOF);
    const chunk = e.data.subarray(offset, Math.min(e.data.length, offset + length));
    served += chunk.length;
    sftp.data(reqid, chunk);
  });
  sftp.on('OPENDIR', (reqid, p) => {
    touched.push(p);
    const entries = o.list(p.replace(/\/+$/, '') || '/');
    if (!entries) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    const h = next++;
    handles.set(h, { dir: [...entries] });
    sftp.handle(reqid, handle(h));
  });
  sftp.on('READDIR', (reqid, h) => {
    if (o.stallListing) return;
    const e = handles.get(h.readUInt32BE(0));
    if (!e?.dir) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if (e.dir.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.name(
      reqid,
      e.dir.splice(0, 50).map((x) => ({ filename: x.name, longname: x.name, attrs: attrs(x) })),
    );
  });
  sftp.on('CLOSE', (reqid, h) => {
    handles.delete(h.readUInt32BE(0));
    sftp.status(reqid, STATUS_CODE.OK);
  });
  for (const op of ['RENAME', 'REMOVE', 'MKDIR'] as const)
    sftp.on(op as 'REMOVE', (reqid: number, ...paths: unknown[]) => {
      for (const p of paths) if (typeof p === 'string') touched.push(p);
      sftp.status(reqid, STATUS_CODE.OK);
    });
}
