import { closeSync, ftruncateSync, open, write } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Client, type ConnectConfig, type FileEntryWithStats, type SFTPWrapper, type Stats } from 'ssh2';
import { type ErrorCode, FinmeshError } from '../../../core/errors.js';
import {
  DEFAULT_MAX_LIST_DEPTH,
  DEFAULT_MAX_LIST_ENTRIES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type ListOptions,
  type RemoteFile,
} from '../file-source.js';
import { sshFingerprint } from './fingerprint.js';
import { installRawNames } from './raw-names.js';

export interface SftpConnectOptions {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  /** The server's host key, pinned: anything else is refused. */
  hostKeyFingerprint: string;
  /** How long the connection and authentication may take (default `DEFAULT_READY_TIMEOUT_MS`). */
  readyTimeoutMs?: number | undefined;
  /**
   * How often an idle connection asks the server whether it is still there (default `DEFAULT_KEEPALIVE_MS`); three
   * unanswered asks lose the connection, so a server that stops answering fails the call (`TIMEOUT`) instead of
   * hanging it.
   */
  keepaliveMs?: number | undefined;
  /**
   * How long one request may go unanswered (a listing page, a stat, an open; during a download, any block) before
   * the connection is given up as stalled: `TIMEOUT` (default `DEFAULT_REQUEST_TIMEOUT_MS`). Keepalives alone do
   * not catch a server whose SSH layer answers while its SFTP subsystem hangs.
   */
  requestTimeoutMs?: number | undefined;
}

/** Transfer settings of `download`: with these, ssh2 reaches about 0.8× OpenSSH over loopback (DESIGN §9). */
export const DEFAULT_DOWNLOAD_CONCURRENCY = 128;
export const DEFAULT_CHUNK_BYTES = 65_536;
export const DEFAULT_READY_TIMEOUT_MS = 10_000;
export const DEFAULT_KEEPALIVE_MS = 10_000;

// SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 sets them on an error's `code`.
const EOF = 1;
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

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
    private readonly where: string,
    private readonly timeoutMs: number,
  ) {
    client.on('error', (e: Error) => this.lose(e));
    client.on('close', () => this.lose(new Error('the connection was closed')));
    sftp.on('close', () => this.lose(new Error('the SFTP session was closed')));
  }

  private lose(e: Error): void {
    if (this.lost) return;
    this.lost = e;
    for (const f of [...this.onLost]) f(e);
  }

  /**
   * Gives up a connection whose server stopped answering: requests still waiting fail with `e`, and the socket is
   * cut (an SFTP request cannot be cancelled, so the session cannot be trusted with another).
   */
  private abandon(e: FinmeshError): void {
    this.lose(e);
    this.client.end();
    (this.client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
  }

  /** One SFTP request, answered within the request timeout or failed as `TIMEOUT` (and the connection given up). */
  private request<T>(what: string, send: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.lost) return reject(this.lost);
      let settled = false;
      const finish = (err: Error | null | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLost.delete(finish);
        if (err) reject(err);
        else resolve(value as T);
      };
      const timer = setTimeout(
        () =>
          this.abandon(new FinmeshError('TIMEOUT', `${this.where}: no answer to ${what} within ${this.timeoutMs} ms; the server stalled`)),
        this.timeoutMs,
      );
      this.onLost.add(finish);
      try {
        send(finish);
      } catch (e) {
        finish(e as Error);
      }
    });
  }

  static async connect(o: SftpConnectOptions): Promise<SftpConnection> {
    const client = new Client();
    let offered: string | undefined;
    const where = `SFTP ${o.host}:${o.port}`;
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      password: o.password,
      privateKey: o.privateKey,
      readyTimeout: o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      keepaliveInterval: o.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        offered = sshFingerprint(key);
        return offered === o.hostKeyFingerprint;
      },
    };
    // ssh2 may emit several errors while connecting (a handshake timeout, then the lost socket): every one is
    // handled, or the process would crash on an unhandled 'error' event.
    const swallow = () => undefined;
    client.on('error', swallow);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        // A connection closed cleanly mid-handshake emits no error: without this the promise would never settle,
        // and with nothing else pending the process would end silently (exit 13, an unsettled top-level await).
        client.once('close', () => reject(new Error('the connection was closed during the SSH handshake')));
        client.connect(config);
      });
    } catch (cause) {
      client.end();
      if (offered && offered !== o.hostKeyFingerprint) {
        throw new FinmeshError(
          'PERMISSION',
          `${where}: the host key ${offered} does not match the pinned ${o.hostKeyFingerprint}; refusing to connect`,
          { cause },
        );
      }
      if ((cause as { level?: unknown }).level === 'client-authentication') {
        const method = o.privateKey ? 'private key' : 'password';
        throw new FinmeshError('PERMISSION', `${where}: the server refused user ${o.username} with the configured ${method}`, { cause });
      }
      throw sftpError(where, cause);
    }
    const timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new FinmeshError('TIMEOUT', `no SFTP session within ${timeoutMs} ms; the server stalled`)),
          timeoutMs,
        );
        const closed = () => {
          clearTimeout(timer);
          reject(new Error('the connection was closed before the SFTP session opened'));
        };
        client.once('close', closed);
        client.sftp((err, s) => {
          clearTimeout(timer);
          client.off('close', closed);
          if (err) reject(err);
          else resolve(s);
        });
      });
      installRawNames(sftp);
      const connection = new SftpConnection(client, sftp, where, timeoutMs);
      client.off('error', swallow);
      return connection;
    } catch (cause) {
      client.end();
      throw sftpError(`${where}: no SFTP session`, cause);
    }
  }

  /**
   * The most a server answers to one READ: 255 KiB from OpenSSH (its limits extension), about 33 KB from others.
   * ssh2 splits a larger read into two requests and sends the second only when the first is answered, behind every
   * read already in flight — so a chunk larger than this completes only near the end of a pipelined download, and a
   * download cut half-way would keep almost no prefix. ssh2 keeps the figure in a private field: read it if it is
   * there, and assume no limit otherwise.
   */
  private get maxReadBytes(): number {
    const n = (this.sftp as unknown as { _maxReadLen?: unknown })._maxReadLen;
    return typeof n === 'number' && n > 0 ? n : Number.POSITIVE_INFINITY;
  }

  /** Whether the connection is gone: a pool drops it instead of handing it out again. */
  get isLost(): boolean {
    return this.lost !== undefined;
  }

  /**
   * Regular files under `dir` (recursively when asked), with size and mtime, sorted by path. A name the server lists
   * that is not a plain name (holding `/`, or empty) is refused, never joined into a path; a folder met again
   * (the server resolves it to one already listed: a loop through links) or deeper than `maxDepth` is not entered.
   */
  async list(dir: string, recursive: boolean, o: ListOptions & { maxDepth?: number; maxEntries?: number } = {}): Promise<RemoteFile[]> {
    const out: RemoteFile[] = [];
    const maxDepth = o.maxDepth ?? DEFAULT_MAX_LIST_DEPTH;
    const maxEntries = o.maxEntries ?? DEFAULT_MAX_LIST_ENTRIES;
    const visited = new Map<string, string>();
    let entries = 0;
    const refuse = (path: string, reason: string) => o.onRefused?.(path, reason);
    const walk = async (d: string, depth: number) => {
      if (recursive) {
        const real = await this.realpath(d);
        const first = visited.get(real);
        if (first !== undefined) return refuse(d, `a folder loop: the server resolves it to ${first}, listed already; not entered`);
        visited.set(real, d);
      }
      for (const e of await this.readdir(d)) {
        if (e.filename === '.' || e.filename === '..') continue;
        if (++entries > maxEntries)
          throw new FinmeshError('DATA_INVALID', `SFTP: listing ${dir} passed ${maxEntries} entries; narrow the source's path or pattern`);
        const path = `${d.replace(/\/$/, '')}/${e.filename}`;
        if (e.filename === '' || e.filename.includes('/')) {
          refuse(path, 'the server listed a name that is not a plain file name (it holds "/" or is empty); refused, never opened');
          continue;
        }
        if (e.attrs.isDirectory()) {
          if (!recursive) continue;
          if (depth >= maxDepth) refuse(path, `a folder deeper than ${maxDepth} levels below ${dir}; not entered`);
          else await walk(path, depth + 1);
        } else if (e.attrs.isFile()) out.push({ path, size: e.attrs.size, mtime: new Date(e.attrs.mtime * 1000) });
      }
    };
    try {
      await walk(dir, 0);
    } catch (cause) {
      if (cause instanceof FinmeshError && cause.code === 'DATA_INVALID') throw cause;
      throw sftpError(`SFTP: cannot list ${dir}`, cause);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** A folder's entries, page by page, each page answered within the request timeout. */
  private async readdir(dir: string): Promise<FileEntryWithStats[]> {
    const handle = await this.request<Buffer>(`opendir ${dir}`, (done) => this.sftp.opendir(dir, done));
    const entries: FileEntryWithStats[] = [];
    try {
      for (;;) {
        const page = await this.request<FileEntryWithStats[] | false>(`readdir ${dir}`, (done) =>
          this.sftp.readdir(handle, (err, list) => {
            if (err && (err as { code?: unknown }).code === EOF) done(null, false);
            else done(err, list);
          }),
        );
        if (!page) break;
        entries.push(...page);
      }
    } finally {
      if (!this.lost) await this.request<void>(`close ${dir}`, (done) => this.sftp.close(handle, () => done(null))).catch(() => undefined);
    }
    return entries;
  }

  private realpath(path: string): Promise<string> {
    return this.request<string>(`realpath ${path}`, (done) => this.sftp.realpath(path, done));
  }

  /** The regular file at `path`, or `undefined` when there is none (absent, or not a regular file). */
  async stat(path: string): Promise<RemoteFile | undefined> {
    try {
      const s = await this.request<Stats>(`stat ${path}`, (done) => this.sftp.stat(path, done));
      return s.isFile() ? { path, size: s.size, mtime: new Date(s.mtime * 1000) } : undefined;
    } catch (cause) {
      if ((cause as { code?: unknown }).code === NO_SUCH_FILE) return undefined;
      throw sftpError(`SFTP: cannot stat ${path}`, cause);
    }
  }

  /**
   * Downloads `remote` (of `size` bytes) into `local`, continuing after what `local` already holds — a download
   * cut short earlier resumes instead of starting over. Reads are pipelined (`concurrency` requests in flight on
   * one handle) and written in place; on failure the local file is cut back to its longest complete prefix, so the
   * next attempt resumes from there. Returns the bytes transferred by this call.
   */
  async download(remote: string, local: string, size: number, o: { concurrency?: number; chunkSize?: number } = {}): Promise<number> {
    const concurrency = o.concurrency ?? DEFAULT_DOWNLOAD_CONCURRENCY;
    const chunkSize = Math.min(o.chunkSize ?? DEFAULT_CHUNK_BYTES, this.maxReadBytes);
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
      handle = await this.request<Buffer>(`open ${remote}`, (done) => this.sftp.open(remote, 'r', done));
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
          // A download is stalled when no block has come back for the request timeout, however long it runs.
          let answered = Date.now();
          const stall = setInterval(
            () => {
              if (Date.now() - answered < this.timeoutMs) return;
              const e = new FinmeshError(
                'TIMEOUT',
                `${this.where}: no block of ${remote} came back within ${this.timeoutMs} ms; the server stalled`,
              );
              fail(e);
              this.abandon(e);
            },
            Math.min(1000, this.timeoutMs),
          );
          const fail = (e: Error) => {
            if (failed) return;
            failed = true;
            clearInterval(stall);
            this.onLost.delete(fail);
            reject(e);
          };
          const pump = () => {
            while (!failed && free.length > 0 && pending.length > 0) {
              const [start, end] = pending.pop() as [number, number];
              const buf = free.pop() as Buffer;
              this.sftp.read(h, buf, 0, end - start, start, (err, n) => {
                answered = Date.now();
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
                  if (watermark >= size) {
                    clearInterval(stall);
                    this.onLost.delete(fail);
                    resolve();
                  } else pump();
                });
              });
            }
          };
          if (this.lost) return fail(this.lost);
          this.onLost.add(fail);
          pump();
        });
      } finally {
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
      if (handle === undefined) throw sftpError(`SFTP: cannot download ${remote}`, cause);
      throw sftpError(`SFTP: download of ${remote} stopped at ${watermark} of ${size} bytes (resumes from there)`, cause);
    } finally {
      closeSync(fd);
      // A lost connection answers nothing more: its handles went with it.
      if (handle && !this.lost) {
        const h = handle;
        await this.request<void>(`close ${remote}`, (done) => this.sftp.close(h, () => done(null))).catch(() => undefined);
      }
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await this.request<void>(`rename ${from}`, (done) => this.sftp.rename(from, to, done));
  }

  /**
   * Makes folder `dir` and its missing parents, as `mkdir -p` (SFTP's MKDIR makes one level). Refusals are not
   * reported here: the operation that needs the folder says what went wrong (a file in the way, no permission).
   */
  async mkdirs(dir: string): Promise<void> {
    const missing: string[] = [];
    for (
      let d = dir.replace(/\/+$/, '');
      d !== '' && d !== '.' && !(await this.isFolder(d));
      d = d.slice(0, Math.max(0, d.lastIndexOf('/')))
    )
      missing.unshift(d);
    for (const d of missing) await this.request<void>(`mkdir ${d}`, (done) => this.sftp.mkdir(d, () => done(null)));
  }

  private isFolder(path: string): Promise<boolean> {
    return this.request<boolean>(`stat ${path}`, (done) => this.sftp.stat(path, (err, s) => done(null, !err && s.isDirectory())));
  }

  async remove(path: string): Promise<void> {
    await this.request<void>(`remove ${path}`, (done) => this.sftp.unlink(path, done));
  }

  close(): void {
    this.client.end();
  }
}

/**
 * An ssh2 error as a `FinmeshError`: a missing file is `NOT_FOUND`, a refused operation `PERMISSION`, a server
 * that stopped answering `TIMEOUT`, anything else `UNAVAILABLE`. `what` says what was being done, and where.
 */
export function sftpError(what: string, cause: unknown): FinmeshError {
  if (cause instanceof FinmeshError) return new FinmeshError(cause.code, `${what}: ${cause.message}`, { cause });
  const e = cause as { code?: unknown; level?: unknown; message?: unknown };
  const code: ErrorCode =
    e.code === NO_SUCH_FILE
      ? 'NOT_FOUND'
      : e.code === PERMISSION_DENIED
        ? 'PERMISSION'
        : e.level === 'client-timeout'
          ? 'TIMEOUT'
          : 'UNAVAILABLE';
  return new FinmeshError(code, `${what}: ${typeof e.message === 'string' ? e.message : String(cause)}`, { cause });
}
