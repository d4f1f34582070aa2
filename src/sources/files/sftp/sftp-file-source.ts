import { stat } from 'node:fs/promises';
import { FinmeshError } from '../../../core/errors.js';
import { type RetryPolicy, retry } from '../../../core/retry.js';
import {
  type AfterCommitAction,
  archiveFolder,
  DEFAULT_ATTEMPTS,
  DEFAULT_MAX_CONNECTIONS,
  type FileSource,
  type ListOptions,
  type RemoteFile,
} from '../file-source.js';
import { ConnectionPool } from './connection-pool.js';
import { findOpenSsh, OpenSshTransfer, opensshUnsuitable } from './openssh-transfer.js';
import { SftpConnection, type SftpConnectOptions, sftpError } from './sftp-client.js';

export interface SftpFileSourceOptions extends SftpConnectOptions {
  /** Connections open at most (default `DEFAULT_MAX_CONNECTIONS`); each downloads one file at a time. */
  maxConnections?: number | undefined;
  /** Attempts at each connect, list, stat and download, the first included (default `DEFAULT_ATTEMPTS`). */
  attempts?: number | undefined;
  /** Backoff between attempts (core/retry's defaults otherwise), and a hook to log or count each retry. */
  backoff?: Partial<Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs' | 'onRetry'>> | undefined;
  /** Reads in flight on one file handle (default `DEFAULT_DOWNLOAD_CONCURRENCY`). */
  downloadConcurrency?: number | undefined;
  /** Bytes asked for by each read (default `DEFAULT_CHUNK_BYTES`). */
  chunkBytes?: number | undefined;
  /**
   * How files are downloaded: `ssh2` (in process), `openssh` (OpenSSH's `sftp` client, which must be installed; key
   * authentication only) or `auto` (the default: OpenSSH where it is installed and the source authenticates with a
   * private key, ssh2 otherwise). Listing, stat and after-commit actions always use ssh2.
   */
  transfer?: 'auto' | 'ssh2' | 'openssh' | undefined;
  /** Called once when the source closes, after its connections: stops what was started for it (an embedded server). */
  onClose?: (() => Promise<void>) | undefined;
}

/** Errors another attempt cannot heal: a refused key or credentials, a bad setting, a file that is not there, a listing too large. */
const FINAL = new Set(['PERMISSION', 'CONFIG_INVALID', 'NOT_FOUND', 'DATA_INVALID']);

/**
 * A partner's SFTP server, host key pinned, over a pool of at most `maxConnections` connections. Every operation
 * but the after-commit action is retried with backoff on a fresh connection; downloads resume from the exact prefix
 * a failed attempt kept, with pipelined reads written in place.
 */
export class SftpFileSource implements FileSource {
  readonly kind = 'sftp';
  readonly location: string;
  private readonly pool: ConnectionPool<SftpConnection>;
  private closing: Promise<void> | undefined;
  /** OpenSSH's client, when downloads go through it (`transfer`), and its `sftp` processes once started. */
  private openssh: { sftp: string; ssh: string } | undefined;
  private ssh: OpenSshTransfer | undefined;
  /** Downloads through OpenSSH running now, and those waiting for one of the `maxConnections` places. */
  private transfers = 0;
  private readonly queued: (() => void)[] = [];

  private constructor(private readonly o: SftpFileSourceOptions) {
    const transfer = o.transfer ?? 'auto';
    this.openssh = transfer === 'ssh2' || (transfer === 'auto' && !o.privateKey) ? undefined : findOpenSsh();
    if (transfer === 'openssh' && !this.openssh)
      throw new FinmeshError(
        'CONFIG_INVALID',
        `SFTP ${o.host}:${o.port}: transfer: openssh, but OpenSSH's sftp client is not installed (Debian: apt-get install openssh-client)`,
      );
    if (transfer === 'openssh' && !o.privateKey)
      throw new FinmeshError(
        'CONFIG_INVALID',
        `SFTP ${o.host}:${o.port}: transfer: openssh needs privateKey (OpenSSH reads passwords only from a terminal); use transfer: ssh2 or auto`,
      );
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    this.location = `sftp://${host}:${o.port}`;
    this.pool = new ConnectionPool(
      () => SftpConnection.connect(o),
      o.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      `SFTP ${o.host}:${o.port}`,
    );
  }

  /** How downloads go: `openssh` when through OpenSSH's `sftp` client (for files it can name), `ssh2` otherwise. */
  get transfer(): 'openssh' | 'ssh2' {
    return this.ssh ? 'openssh' : 'ssh2';
  }

  /** Connects once before returning, so a refused host key or credentials fails here (`PERMISSION`), not mid-cycle. */
  static async create(o: SftpFileSourceOptions): Promise<SftpFileSource> {
    const source = new SftpFileSource(o);
    try {
      const bin = source.openssh;
      if (bin) {
        try {
          source.ssh = await source.attempt(() => OpenSshTransfer.start(bin, o));
        } catch (e) {
          // `auto` falls back to ssh2 when OpenSSH cannot connect where ssh2 might (a server with several host keys,
          // OpenSSH negotiating another type than the pinned one; an old OpenSSH without KnownHostsCommand):
          // ssh2's own connection then says what is wrong, if anything is.
          if ((o.transfer ?? 'auto') === 'openssh') throw e;
          source.openssh = undefined;
        }
      }
      // The ssh2 connection lists, stats and acts after commit; with OpenSSH transferring, it opens when first needed.
      if (!source.ssh) await source.attempt(() => source.pool.use(async () => undefined));
    } catch (e) {
      await source.close();
      throw e;
    }
    return source;
  }

  async list(path: string, options: ListOptions = {}): Promise<RemoteFile[]> {
    // Refusals are reported from the attempt that succeeded only, once each.
    let refused: [string, string][] = [];
    const files = await this.attempt(() => {
      refused = [];
      return this.pool.use((c) => c.list(path, options.recursive ?? false, { onRefused: (p, why) => refused.push([p, why]) }));
    });
    for (const [p, why] of refused) options.onRefused?.(p, why);
    return files;
  }

  stat(path: string): Promise<RemoteFile | undefined> {
    return this.attempt(() => this.pool.use((c) => c.stat(path)));
  }

  async download(path: string, localFile: string, expectedSize: number): Promise<number> {
    const transfer = { concurrency: this.o.downloadConcurrency, chunkSize: this.o.chunkBytes };
    const had = await stat(localFile).then(
      (s) => (s.size <= expectedSize ? s.size : 0),
      () => 0,
    );
    const ssh = this.ssh && opensshUnsuitable(this.o, path, localFile) === undefined ? this.ssh : undefined;
    if (ssh) await this.bounded(() => this.attempt(() => ssh.download(path, localFile, expectedSize)));
    else await this.attempt(() => this.pool.use((c) => c.download(path, localFile, expectedSize, transfer)));
    return expectedSize - had;
  }

  async afterCommit(path: string, action: AfterCommitAction, archivePath?: string): Promise<void> {
    if (action === 'leave') return;
    // A refusal is the server's answer and final. Getting a connection, or losing it before the answer came, is
    // tried again on a fresh one (a move that did happen then answers NOT_FOUND, as the file is gone).
    let refused: FinmeshError | undefined;
    await this.attempt(() =>
      this.pool.use(async (c) => {
        try {
          if (action === 'delete') await c.remove(path);
          else {
            const archive = archiveFolder(path, archivePath);
            await c.mkdirs(archive);
            await c.rename(path, `${archive}/${path.slice(path.lastIndexOf('/') + 1)}`);
          }
        } catch (cause) {
          if (c.isLost) throw cause;
          refused = sftpError(`SFTP: cannot ${action} ${path}`, cause);
        }
      }),
    );
    if (refused) throw refused;
  }

  /** Runs `fn` within the `maxConnections` bound on downloads through OpenSSH, first come first served. */
  private async bounded<T>(fn: () => Promise<T>): Promise<T> {
    if (this.transfers >= (this.o.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) await new Promise<void>((r) => this.queued.push(r));
    else this.transfers++;
    try {
      return await fn();
    } finally {
      const next = this.queued.shift();
      if (next) next();
      else this.transfers--;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.pool.close();
      await this.ssh?.close();
      await this.o.onClose?.();
    })();
    return this.closing;
  }

  private attempt<T>(fn: () => Promise<T>): Promise<T> {
    const b = this.o.backoff ?? {};
    return retry(fn, {
      ...(b.initialDelayMs !== undefined ? { initialDelayMs: b.initialDelayMs } : {}),
      ...(b.maxDelayMs !== undefined ? { maxDelayMs: b.maxDelayMs } : {}),
      onRetry: b.onRetry,
      attempts: this.o.attempts ?? DEFAULT_ATTEMPTS,
      retryable: (e) => this.closing === undefined && !(e instanceof FinmeshError && FINAL.has(e.code)),
    });
  }
}
