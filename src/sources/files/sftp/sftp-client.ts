import { closeSync, ftruncateSync, open, write } from 'node:fs';
import { stat } from 'node:fs/promises';
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
  /** Set once the connection is gone (closed by either side, or failed): requests still waiting will get no answer. */
  private lost: Error | undefined;
  private readonly onLost = new Set<(e: Error) => void>();

  private constructor(
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
  ) {
    const lose = (e: Error) => {
      if (this.lost) return;
      this.lost = e;
      for (const f of this.onLost) f(e);
    };
    client.on('error', (e: Error) => lose(e));
    client.on('close', () => lose(new Error('the connection was closed')));
    sftp.on('close', () => lose(new Error('the SFTP session was closed')));
  }

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

  /**
   * Downloads `remote` (of `size` bytes) into `local`, continuing after what `local` already holds — a download
   * cut short earlier resumes instead of starting over. Reads are pipelined (`concurrency` requests in flight on
   * one handle) and written in place; on failure the local file is cut back to its longest complete prefix, so the
   * next attempt resumes from there. Returns the bytes transferred by this call.
   */
  async download(remote: string, local: string, size: number, o: { concurrency?: number; chunkSize?: number } = {}): Promise<number> {
    const concurrency = o.concurrency ?? 128;
    const chunkSize = o.chunkSize ?? 65_536;
    let have = 0;
    try {
      have = (await stat(local)).size;
    } catch {
      have = 0;
    }
    if (have > size) have = 0;
    const fd = await new Promise<number>((resolve, reject) =>
      open(local, have > 0 ? 'r+' : 'w', (err, f) => (err ? reject(err) : resolve(f))),
    );
    let handle: Buffer | undefined;
    let watermark = have;
    try {
      if (have > 0) ftruncateSync(fd, have);
      if (have === size) return 0;
      handle = await new Promise<Buffer>((resolve, reject) => this.sftp.open(remote, 'r', (err, h) => (err ? reject(err) : resolve(h))));
      const h = handle;
      // Ranges still to request, and ranges written (by start) not yet joined to the complete prefix.
      const pending: [number, number][] = [];
      for (let off = have; off < size; off += chunkSize) pending.push([off, Math.min(size, off + chunkSize)]);
      pending.reverse();
      const written = new Map<number, number>();
      // One buffer per request in flight, reused: a 1 GiB download allocates `concurrency` chunks, not 16k.
      const free: Buffer[] = Array.from({ length: Math.min(concurrency, pending.length) }, () => Buffer.allocUnsafe(chunkSize));
      let writing = 0;
      let settled: (() => void) | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          let failed = false;
          const fail = (e: Error) => {
            if (failed) return;
            failed = true;
            reject(e);
          };
          const pump = () => {
            while (!failed && free.length > 0 && pending.length > 0) {
              const [start, end] = pending.pop() as [number, number];
              const buf = free.pop() as Buffer;
              this.sftp.read(h, buf, 0, end - start, start, (err, n) => {
                if (failed) return;
                if (err) return fail(err);
                if (n === 0) return fail(new Error(`the file ends at ${start} bytes, not ${size}: it changed during the download`));
                // A server may answer with fewer bytes than asked; ask again for the rest.
                if (n < end - start) pending.push([start + n, end]);
                writing++;
                write(fd, buf, 0, n, start, (werr) => {
                  writing--;
                  free.push(buf);
                  if (writing === 0) settled?.();
                  if (werr) return fail(werr);
                  written.set(start, start + n);
                  for (let e = written.get(watermark); e !== undefined; e = written.get(watermark)) {
                    written.delete(watermark);
                    watermark = e;
                  }
                  if (watermark >= size) resolve();
                  else pump();
                });
              });
            }
          };
          if (this.lost) return fail(this.lost);
          this.onLost.add(fail);
          pump();
        });
      } finally {
        this.onLost.clear();
        // Writes still landing must finish before the file is cut back to its complete prefix.
        if (writing > 0)
          await new Promise<void>((r) => {
            settled = r;
          });
      }
      return size - have;
    } catch (cause) {
      try {
        ftruncateSync(fd, watermark);
      } catch {
        // The prefix check on the next attempt still holds: sizes beyond the watermark are cut then.
      }
      throw new FinmeshError(
        'UNAVAILABLE',
        `SFTP: download of ${remote} stopped at ${watermark} of ${size} bytes (resumes from there): ${(cause as Error).message}`,
        { cause },
      );
    } finally {
      closeSync(fd);
      // A lost connection answers nothing more: its handles went with it.
      if (handle && !this.lost) {
        const h = handle;
        await new Promise<void>((r) => this.sftp.close(h, () => r()));
      }
    }
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
