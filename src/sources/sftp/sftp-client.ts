import { Client, type ConnectConfig, type FileEntryWithStats, type SFTPWrapper } from 'ssh2';
import { FinmeshError } from '../../core/errors.js';
import { sshFingerprint } from './fingerprint.js';

export interface SftpConnectOptions {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  /** The server's host key, pinned: anything else is refused. */
  hostKeyFingerprint: string;
  readyTimeoutMs?: number;
}

export interface RemoteFile {
  path: string;
  size: number;
  mtime: Date;
}

/**
 * A connection to a partner's SFTP server. The host key is pinned by its SHA256 fingerprint: an unknown or changed
 * key fails the connection with an error saying which key was offered, never silently accepted.
 */
export class SftpConnection {
  private constructor(
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
  ) {}

  static async connect(o: SftpConnectOptions): Promise<SftpConnection> {
    const client = new Client();
    let offered: string | undefined;
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      password: o.password,
      privateKey: o.privateKey,
      readyTimeout: o.readyTimeoutMs ?? 10_000,
      hostVerifier: (key: Buffer) => {
        offered = sshFingerprint(key);
        return offered === o.hostKeyFingerprint;
      },
    };
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        client.connect(config);
      });
    } catch (cause) {
      client.end();
      if (offered && offered !== o.hostKeyFingerprint) {
        throw new FinmeshError(
          'PERMISSION',
          `SFTP ${o.host}:${o.port}: the host key ${offered} does not match the pinned ${o.hostKeyFingerprint}; refusing to connect`,
          { cause },
        );
      }
      throw new FinmeshError('UNAVAILABLE', `SFTP ${o.host}:${o.port}: ${(cause as Error).message}`, { cause });
    }
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    return new SftpConnection(client, sftp);
  }

  /** Files under `dir` (recursively when asked), with size and mtime. */
  async list(dir: string, recursive: boolean): Promise<RemoteFile[]> {
    const out: RemoteFile[] = [];
    const walk = async (d: string) => {
      const entries = await new Promise<FileEntryWithStats[]>((resolve, reject) =>
        this.sftp.readdir(d, (err, list) => (err ? reject(err) : resolve(list))),
      );
      for (const e of entries) {
        if (e.filename === '.' || e.filename === '..') continue;
        const path = `${d.replace(/\/$/, '')}/${e.filename}`;
        if (e.attrs.isDirectory()) {
          if (recursive) await walk(path);
        } else if (e.attrs.isFile()) out.push({ path, size: e.attrs.size, mtime: new Date(e.attrs.mtime * 1000) });
      }
    };
    try {
      await walk(dir);
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `SFTP: cannot list ${dir}: ${(cause as Error).message}`, { cause });
    }
    return out;
  }

  /** Downloads with parallel reads (the transfer settings decide throughput). */
  async download(remote: string, local: string): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.sftp.fastGet(remote, local, { concurrency: 128, chunkSize: 65_536 }, (err) =>
        err ? reject(new FinmeshError('UNAVAILABLE', `SFTP: cannot download ${remote}: ${err.message}`, { cause: err })) : resolve(),
      ),
    );
  }

  async rename(from: string, to: string): Promise<void> {
    await new Promise<void>((resolve, reject) => this.sftp.rename(from, to, (err) => (err ? reject(err) : resolve())));
  }

  async mkdir(dir: string): Promise<void> {
    await new Promise<void>((resolve) => this.sftp.mkdir(dir, () => resolve()));
  }

  async remove(path: string): Promise<void> {
    await new Promise<void>((resolve, reject) => this.sftp.unlink(path, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.client.end();
  }
}

/** `*`, `?` and `**` glob to a regular expression over a path relative to the source folder. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
