import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, normalize, resolve, sep } from 'node:path';
import ssh2, { type Connection, type SFTPWrapper } from 'ssh2';
import { sshFingerprint } from './fingerprint.js';
import { generateHostKey } from './host-key.js';

const { Server, utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = utils.sftp;

export interface EmbeddedSftpOptions {
  /** The folder served as `/`. */
  root: string;
  username: string;
  password: string;
  /** Where the host key is kept (created once), so its fingerprint stays the same across starts. */
  hostKeyFile: string;
  port?: number;
  /** Fault injection for tests of resumption: end the client's connection once this many file bytes were served. */
  dropConnectionAfterBytes?: number;
}

/** What the server has sent, for tests and the demo's report. */
interface ServedBytes {
  total: number;
  dropAfter: number | undefined;
}

/**
 * A real SFTP server (the ssh2 library's server side, the real protocol) on loopback, serving a folder read-mostly:
 * the partner simulator of `finmesh demo`, and a server for tests. Not for production use.
 */
export class EmbeddedSftpServer {
  private constructor(
    private readonly server: InstanceType<typeof Server>,
    readonly port: number,
    readonly fingerprint: string,
    private readonly served: ServedBytes,
  ) {}

  /** File bytes served by READ requests since the server started. */
  get bytesServed(): number {
    return this.served.total;
  }

  static async start(o: EmbeddedSftpOptions): Promise<EmbeddedSftpServer> {
    if (!existsSync(o.hostKeyFile)) {
      writeFileSync(o.hostKeyFile, generateHostKey().privateKey, { mode: 0o600 });
    }
    const hostKey = readFileSync(o.hostKeyFile);
    const parsed = utils.parseKey(hostKey);
    if (parsed instanceof Error) throw parsed;
    const fingerprint = sshFingerprint(parsed.getPublicSSH());
    const root = resolve(o.root);
    mkdirSync(root, { recursive: true });
    const served: ServedBytes = { total: 0, dropAfter: o.dropConnectionAfterBytes };
    const server = new Server({ hostKeys: [hostKey] }, (client: Connection) => {
      client.on('authentication', (ctx) => {
        if (ctx.method === 'password' && ctx.username === o.username && ctx.password === o.password) ctx.accept();
        else ctx.reject(['password']);
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('sftp', (acceptSftp) =>
            // A dropped connection is a cut socket, as when the network fails, not a polite goodbye.
            serve(acceptSftp(), root, served, () => (client as unknown as { _sock: { destroy(): void } })._sock.destroy()),
          );
        });
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(o.port ?? 0, '127.0.0.1', () => r()));
    return new EmbeddedSftpServer(server, (server.address() as AddressInfo).port, fingerprint, served);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function serve(sftp: SFTPWrapper, root: string, served: ServedBytes, drop: () => void): void {
  const handles = new Map<number, { fd?: number; dir?: string[]; path: string }>();
  let next = 1;
  const local = (p: string) => {
    const full = resolve(root, `.${normalize(`/${p}`)}`);
    return full === root || full.startsWith(root + sep) ? full : undefined;
  };
  const handle = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const attrs = (s: Stats) => ({
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    atime: Math.floor(s.atimeMs / 1000),
    mtime: Math.floor(s.mtimeMs / 1000),
  });
  const fail = (reqid: number, e: unknown) =>
    sftp.status(reqid, (e as NodeJS.ErrnoException).code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);
  sftp.on('REALPATH', (reqid, p) => sftp.name(reqid, [{ filename: normalize(`/${p}`), longname: '', attrs: {} as never }]));
  const stat = (reqid: number, p: string) => {
    const l = local(p);
    try {
      if (!l) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      sftp.attrs(reqid, attrs(statSync(l)));
    } catch (e) {
      fail(reqid, e);
    }
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('OPEN', (reqid, p, flags) => {
    const l = local(p);
    if (!l || flags & OPEN_MODE.WRITE) return sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED);
    try {
      const fd = openSync(l, 'r');
      const h = next++;
      handles.set(h, { fd, path: l });
      sftp.handle(reqid, handle(h));
    } catch (e) {
      fail(reqid, e);
    }
  });
  sftp.on('FSTAT', (reqid, h) => {
    const e = handles.get(h.readUInt32BE(0));
    if (e?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
    sftp.attrs(reqid, attrs(fstatSync(e.fd)));
  });
  sftp.on('READ', (reqid, h, offset, length) => {
    const e = handles.get(h.readUInt32BE(0));
    if (e?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const buf = Buffer.alloc(length);
    const n = readSync(e.fd, buf, 0, length, offset);
    if (n === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, buf.subarray(0, n));
    served.total += n;
    if (served.dropAfter !== undefined && served.total >= served.dropAfter) {
      served.dropAfter = undefined;
      drop();
    }
  });
  sftp.on('OPENDIR', (reqid, p) => {
    const l = local(p);
    try {
      if (!l) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      const h = next++;
      handles.set(h, { dir: readdirSync(l), path: l });
      sftp.handle(reqid, handle(h));
    } catch (e) {
      fail(reqid, e);
    }
  });
  sftp.on('READDIR', (reqid, h) => {
    const e = handles.get(h.readUInt32BE(0));
    if (!e?.dir) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if (e.dir.length === 0) return sftp.status(reqid, STATUS_CODE.EOF);
    const names = e.dir
      .splice(0, 100)
      .map((filename) => ({ filename, longname: filename, attrs: attrs(statSync(join(e.path, filename))) }));
    sftp.name(reqid, names);
  });
  sftp.on('CLOSE', (reqid, h) => {
    const n = h.readUInt32BE(0);
    const e = handles.get(n);
    if (e?.fd !== undefined) closeSync(e.fd);
    handles.delete(n);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('RENAME', (reqid, from, to) => {
    const a = local(from);
    const b = local(to);
    try {
      if (!a || !b) throw new Error('outside');
      renameSync(a, b);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (e) {
      fail(reqid, e);
    }
  });
  sftp.on('REMOVE', (reqid, p) => {
    const l = local(p);
    try {
      if (!l) throw new Error('outside');
      unlinkSync(l);
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (e) {
      fail(reqid, e);
    }
  });
  sftp.on('MKDIR', (reqid, p) => {
    const l = local(p);
    try {
      if (!l) throw new Error('outside');
      mkdirSync(l, { recursive: true });
      sftp.status(reqid, STATUS_CODE.OK);
    } catch (e) {
      fail(reqid, e);
    }
  });
}
