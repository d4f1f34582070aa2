import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { accessSync, closeSync as closeFd, constants, openSync, readSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FinmeshError } from '../../../core/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../file-source.js';
import { DEFAULT_KEEPALIVE_MS, DEFAULT_READY_TIMEOUT_MS, type SftpConnectOptions } from './sftp-client.js';

/**
 * Downloads through OpenSSH's own client, where it is installed: on loopback and fast links its C transfer loop
 * moves about twice what ssh2's JavaScript one does (bench row `sftp`). What the ssh2 path guarantees holds here too:
 *
 * - the host key stays pinned by its fingerprint: no known_hosts file or config file is read, and OpenSSH
 *   (`StrictHostKeyChecking=yes`) gets its known_hosts line from a `KnownHostsCommand` that answers only for the
 *   key whose fingerprint is `hostKeyFingerprint`; any other key is refused, with both fingerprints in the error;
 * - the private key goes to OpenSSH as a file (0600) in a private temporary folder (0700), never on a command line
 *   or in the environment, and the folder is removed when the source closes; password authentication stays on ssh2
 *   (OpenSSH reads passwords only from a terminal);
 * - downloads resume after what the local file holds (`get -a`), and a failed one leaves a complete prefix: OpenSSH
 *   cuts the file back to its last contiguous byte when it can, and when it could not (the connection died), the
 *   region reads were still in flight over is checked for blocks never written (`keptPrefix`);
 * - a server that stops sending fails the download as `TIMEOUT` after the request timeout.
 */

/** The name of the private temporary folders `OpenSshTransfer` makes (and removes), below the system's temp folder. */
export const OPENSSH_TEMP_PREFIX = 'finmesh-sftp-';

/** Reads `sftp` keeps in flight (`-R`); with SFTP's largest read (256 KiB) this bounds where a gap can be. */
const REQUESTS_IN_FLIGHT = 64;
const MAX_READ_BYTES = 256 * 1024;
/** Bytes from the end of what a failed transfer wrote within which a block may still be unwritten. */
export const IN_FLIGHT_BYTES = REQUESTS_IN_FLIGHT * MAX_READ_BYTES;

/** OpenSSH's `sftp` and `ssh` clients on PATH, or undefined when OpenSSH's client is not installed. */
export function findOpenSsh(path = process.env.PATH ?? ''): { sftp: string; ssh: string } | undefined {
  const find = (name: string) => {
    for (const dir of path.split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
    return undefined;
  };
  const sftp = find('sftp');
  const ssh = find('ssh');
  return sftp && ssh ? { sftp, ssh } : undefined;
}

/**
 * Why a download cannot go through OpenSSH (the ssh2 path takes it), or undefined when it can: `sftp` reads
 * passwords only from a terminal, and its batch language cannot carry every byte a name may hold.
 */
export function opensshUnsuitable(
  o: Pick<SftpConnectOptions, 'privateKey' | 'host' | 'username'>,
  remote: string,
  local: string,
): string | undefined {
  if (!o.privateKey) return 'password authentication (OpenSSH reads passwords only from a terminal)';
  // Backslashes are finmesh's escapes of raw name bytes (raw-names.ts); control characters would end a batch line.
  const plain = (s: string) => !/[\\\p{Cc}]/u.test(s);
  if (!plain(remote) || !plain(local)) return 'a path holding a backslash or control character';
  if (o.host.startsWith('-') || o.username.startsWith('-') || !plain(o.host) || !plain(o.username))
    return 'a host or user name OpenSSH would read as an option';
  return undefined;
}

/**
 * A path as one double-quoted word of an `sftp` batch line. Within quotes `sftp` escapes glob characters itself (a
 * `get` of `a*.csv` in quotes fetches that name only) and reads `\"` as a quote; backslashes never reach here
 * (`opensshUnsuitable`).
 */
function quote(path: string): string {
  return `"${path.replace(/"/g, '\\"')}"`;
}

/**
 * The longest prefix of `file` (which holds `written` bytes after a failed transfer that started at `from`) that is
 * surely the remote file's: OpenSSH writes each answer at its offset as it comes, so a block within
 * `IN_FLIGHT_BYTES` of the end may never have been written (a hole, read as zeros). The file is cut at the first
 * 4 KiB-aligned all-zero block in that region (a real run of zeros there only costs its download again).
 */
export function keptPrefix(file: string, from: number, written: number): number {
  const start = Math.max(from, written - IN_FLIGHT_BYTES);
  const block = 4096;
  let at = Math.ceil(start / block) * block;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(block);
    for (; at + block <= written; at += block) {
      const n = readSync(fd, buf, 0, block, at);
      if (n === block && buf.every((b) => b === 0)) return at;
    }
    return written;
  } finally {
    closeFd(fd);
  }
}

/** One `sftp` process, reading commands from its stdin. */
interface Session {
  child: ChildProcessWithoutNullStreams;
  stderr: string;
  exited: Promise<void>;
  /** Called when the command sent last is done (its `lpwd` answered). */
  onDone?: (() => void) | undefined;
}

/**
 * OpenSSH's client on one server: `sftp` processes (one per download running at once, each kept for the next
 * download, as an ssh2 connection is), so a source pays one handshake and one process start per connection, as
 * OpenSSH's own `sftp` does for its files. Its private folder (0700) holds the private key (0600) and the host-key
 * pin; it is removed on `close`.
 */
export class OpenSshTransfer {
  private closed = false;
  /** `sftp` processes: all of them, and those waiting for their next download. */
  private readonly sessions = new Set<Session>();
  private readonly idle: Session[] = [];

  private constructor(
    private readonly bin: { sftp: string; ssh: string },
    private readonly o: SftpConnectOptions,
    private readonly dir: string,
  ) {}

  private get where(): string {
    return `SFTP ${this.o.host}:${this.o.port}`;
  }

  /** Connects (the first `sftp` process), so a refused host key or credentials fails here as `PERMISSION`. */
  static async start(bin: { sftp: string; ssh: string }, o: SftpConnectOptions): Promise<OpenSshTransfer> {
    if (!o.privateKey) throw new FinmeshError('CONFIG_INVALID', `SFTP ${o.host}:${o.port}: OpenSSH transfers need a private key`);
    if (!/^SHA256:[A-Za-z0-9+/=]+$/.test(o.hostKeyFingerprint))
      throw new FinmeshError('CONFIG_INVALID', `SFTP ${o.host}:${o.port}: hostKeyFingerprint is not an OpenSSH SHA256 fingerprint`);
    const dir = await mkdtemp(join(tmpdir(), OPENSSH_TEMP_PREFIX));
    const t = new OpenSshTransfer(bin, o, dir);
    try {
      await chmod(dir, 0o700);
      await writeFile(join(dir, 'id'), o.privateKey.endsWith('\n') ? o.privateKey : `${o.privateKey}\n`, { mode: 0o600 });
      // The pin: OpenSSH asks this script for the known_hosts lines of the key the server offered (%f, %t, %K); it
      // answers one only for the pinned fingerprint, and notes the offered one for the error.
      await writeFile(
        join(dir, 'pin'),
        [
          '#!/bin/sh',
          `printf '%s\\n' "$1" > '${join(dir, 'offered')}'`,
          `[ "$1" = '${o.hostKeyFingerprint}' ] && printf 'finmesh-pinned %s %s\\n' "$2" "$3"`,
          'exit 0',
          '',
        ].join('\n'),
        { mode: 0o700 },
      );
      t.idle.push(await t.session());
      return t;
    } catch (e) {
      await t.close();
      throw e;
    }
  }

  /** The options every `ssh` of this transfer gets: nothing read from config files, the pin, the key, the limits. */
  private options(): string[] {
    const o = this.o;
    return [
      'BatchMode=yes',
      'IdentitiesOnly=yes',
      'IdentityAgent=none',
      `IdentityFile=${join(this.dir, 'id')}`,
      'PasswordAuthentication=no',
      'KbdInteractiveAuthentication=no',
      'StrictHostKeyChecking=yes',
      'UserKnownHostsFile=/dev/null',
      'GlobalKnownHostsFile=/dev/null',
      `KnownHostsCommand=/bin/sh ${join(this.dir, 'pin')} %f %t %K`,
      'HostKeyAlias=finmesh-pinned',
      'CheckHostIP=no',
      'UpdateHostKeys=no',
      `ConnectTimeout=${Math.max(1, Math.ceil((o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS) / 1000))}`,
      `ServerAliveInterval=${Math.max(1, Math.ceil((o.keepaliveMs ?? DEFAULT_KEEPALIVE_MS) / 1000))}`,
      'ServerAliveCountMax=3',
      `User=${o.username}`,
      `Port=${o.port}`,
    ].flatMap((opt) => ['-o', opt]);
  }

  /**
   * Downloads `remote` (`size` bytes) into `local`, resuming after what `local` holds. Returns the bytes
   * transferred; on failure `local` holds a complete prefix.
   */
  async download(remote: string, local: string, size: number): Promise<number> {
    if (this.closed) throw new FinmeshError('UNAVAILABLE', `${this.where}: the source is closed`);
    let have = await stat(local).then(
      (s) => s.size,
      () => 0,
    );
    if (have > size) {
      await truncate(local, 0);
      have = 0;
    }
    if (have === size) {
      if (size === 0) await writeFile(local, '', { flag: 'a' });
      return 0;
    }
    const session = await this.session();
    session.stderr = '';
    const timeoutMs = this.o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // A transfer is stalled when the local file has not grown for the request timeout.
    let stalled = false;
    let last = have;
    let grewAt = Date.now();
    const watch = setInterval(
      () => {
        stat(local)
          .then(
            (s) => s.size,
            () => last,
          )
          .then((n) => {
            if (n !== last) {
              last = n;
              grewAt = Date.now();
            } else if (Date.now() - grewAt >= timeoutMs && session.child.exitCode === null) {
              stalled = true;
              session.child.kill('SIGKILL');
            }
          });
      },
      Math.min(1000, timeoutMs),
    );
    // `sftp -b -` runs the commands as they come and ends at the first that fails; `lpwd` answers only once the
    // `get` before it succeeded.
    const code = await new Promise<number | null>((resolve) => {
      session.onDone = () => resolve(0);
      session.exited.then(() => resolve(session.child.exitCode ?? -1));
      session.child.stdin?.write(`get ${have > 0 ? '-a ' : ''}${quote(remote)} ${quote(local)}\nlpwd\n`);
    }).finally(() => {
      clearInterval(watch);
      session.onDone = undefined;
    });
    if (code === 0 && session.child.exitCode === null) this.idle.push(session);
    else session.child.kill('SIGKILL');
    const got = await stat(local).then(
      (s) => s.size,
      () => 0,
    );
    if (code === 0 && got >= size) {
      // A file that grew since it was listed is taken as listed, as the ssh2 path reads only `size` bytes.
      if (got > size) await truncate(local, size);
      return size - have;
    }
    if (got > have) await truncate(local, keptPrefix(local, have, got));
    const kept = await stat(local).then(
      (s) => s.size,
      () => 0,
    );
    if (code === 0)
      throw new FinmeshError(
        'UNAVAILABLE',
        `${this.where}: download of ${remote}: the file ends at ${got} bytes, not ${size}: it changed during the download`,
      );
    const prefix =
      kept > 0 ? `SFTP: download of ${remote} stopped at ${kept} of ${size} bytes (resumes from there)` : `SFTP: cannot download ${remote}`;
    throw await this.failure(session.stderr, stalled ? timeoutMs : undefined, prefix);
  }

  /**
   * An idle `sftp` process, connected and authenticated: one kept from before, or a new one (ready once it answers
   * an `lpwd`; one that ends first fails with what it said).
   */
  private async session(): Promise<Session> {
    for (let s = this.idle.pop(); s; s = this.idle.pop()) if (s.child.exitCode === null && s.child.signalCode === null) return s;
    if (this.closed) throw new FinmeshError('UNAVAILABLE', `${this.where}: the source is closed`);
    const args = ['-b', '-', '-F', 'none', '-R', String(REQUESTS_IN_FLIGHT), ...this.options()];
    const child = spawn(this.bin.sftp, [...args, this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: this.dir,
    });
    const session: Session = { child, stderr: '', exited: new Promise<void>((r) => child.once('close', () => r())) };
    this.sessions.add(session);
    session.exited.then(() => this.sessions.delete(session));
    child.once('error', () => undefined);
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (session.stderr.length < 16_384) session.stderr += d;
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('Local working directory: ')) session.onDone?.();
      }
    });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), (this.o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS) + 5000);
      session.onDone = () => {
        clearTimeout(timer);
        resolve(true);
      };
      session.exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      child.stdin.write('lpwd\n');
    });
    session.onDone = undefined;
    if (!ready) throw await this.failure(session.stderr, undefined, 'connecting');
    return session;
  }

  /** What OpenSSH's stderr says went wrong, as the ssh2 path would have said it. */
  private async failure(stderr: string, stalledMs: number | undefined, what: string): Promise<FinmeshError> {
    const o = this.o;
    const said = stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-3)
      .join(' ');
    if (/Host key verification failed|host key is known for/i.test(stderr)) {
      const offered = (await readFile(join(this.dir, 'offered'), 'utf8').catch(() => '')).trim() || 'offered (not recorded)';
      return new FinmeshError(
        'PERMISSION',
        `${this.where}: the host key ${offered} does not match the pinned ${o.hostKeyFingerprint}; refusing to connect`,
      );
    }
    if (/Permission denied \(/.test(stderr))
      return new FinmeshError('PERMISSION', `${this.where}: the server refused user ${o.username} with the configured private key`);
    if (stalledMs !== undefined)
      return new FinmeshError('TIMEOUT', `${what}: ${this.where}: no block came back within ${stalledMs} ms; the server stalled`);
    if (/not found|No such file/i.test(stderr)) return new FinmeshError('NOT_FOUND', `${what}: ${said}`);
    if (/Permission denied/i.test(stderr)) return new FinmeshError('PERMISSION', `${what}: ${said}`);
    return new FinmeshError('UNAVAILABLE', `${this.where}: ${what}: OpenSSH: ${said || 'it ended without saying why'}`);
  }

  /** Ends the `sftp` processes and removes the private folder (key, pin). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.sessions].map((session) => {
        session.child.kill('SIGTERM');
        return session.exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}
