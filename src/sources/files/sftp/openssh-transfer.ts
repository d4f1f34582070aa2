import { spawn } from 'node:child_process';
import { accessSync, closeSync as closeFd, constants, openSync, readSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FinmeshError } from '../../../core/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../file-source.js';
import { sshFingerprint } from './fingerprint.js';
import { DEFAULT_KEEPALIVE_MS, DEFAULT_READY_TIMEOUT_MS, type SftpConnectOptions } from './sftp-client.js';

/**
 * Downloads through OpenSSH's own `sftp` client, where it is installed: on loopback and fast links its C transfer
 * loop moves about twice what ssh2's JavaScript one does (bench row `sftp`). What the ssh2 path guarantees holds here
 * too:
 *
 * - the host key stays pinned: `sftp` is given a known_hosts file holding only the key the ssh2 connection proved
 *   against `hostKeyFingerprint` (`StrictHostKeyChecking=yes`, no other known_hosts, no config files read), so a
 *   server offering any other key is refused, with both fingerprints in the error;
 * - the private key goes to `sftp` as a file (0600) in a private temporary folder (0700) removed afterwards, never on
 *   a command line or in the environment; password authentication stays on ssh2 (`sftp` reads passwords only from a
 *   terminal);
 * - downloads resume after what the local file holds (`get -a`), and a failed one leaves a complete prefix: OpenSSH
 *   cuts the file back to its last contiguous byte when it can, and when it could not (the connection died), the
 *   region reads were still in flight over is checked for blocks never written (`keptPrefix`);
 * - a server that stops sending fails the download as `TIMEOUT` after the request timeout.
 */

/** The name of the private temporary folders `opensshDownload` makes (and removes), below the system's temp folder. */
export const OPENSSH_TEMP_PREFIX = 'finmesh-sftp-';

/** Reads `sftp` keeps in flight (`-R`); with SFTP's largest read (256 KiB) this bounds where a gap can be. */
const REQUESTS_IN_FLIGHT = 64;
const MAX_READ_BYTES = 256 * 1024;
/** Bytes from the end of what a failed transfer wrote within which a block may still be unwritten. */
export const IN_FLIGHT_BYTES = REQUESTS_IN_FLIGHT * MAX_READ_BYTES;

/** The `sftp` client on PATH, or undefined when OpenSSH's client is not installed. */
export function findOpenSshSftp(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const bin = join(dir, 'sftp');
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      // not here
    }
  }
  return undefined;
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

/** A path as one double-quoted word of an `sftp` batch line; glob characters are escaped (`get` globs remote paths). */
function quote(path: string, glob: boolean): string {
  const escaped = path.replace(/["\\]/g, '\\$&');
  return `"${glob ? escaped.replace(/[*?[\]]/g, '\\$&') : escaped}"`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`). */
function keyType(blob: Buffer): string {
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
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

/**
 * Downloads `remote` (`size` bytes) into `local` with OpenSSH `sftp` at `bin`, resuming after what `local` holds;
 * `hostKey` is the key blob an ssh2 connection to the same server proved against the pinned fingerprint. Returns the
 * bytes transferred; on failure `local` holds a complete prefix.
 */
export async function opensshDownload(
  bin: string,
  o: SftpConnectOptions,
  hostKey: Buffer,
  remote: string,
  local: string,
  size: number,
): Promise<number> {
  const where = `SFTP ${o.host}:${o.port}`;
  const offered = sshFingerprint(hostKey);
  if (offered !== o.hostKeyFingerprint)
    throw new FinmeshError(
      'PERMISSION',
      `${where}: the host key ${offered} does not match the pinned ${o.hostKeyFingerprint}; refusing to connect`,
    );
  if (!o.privateKey) throw new FinmeshError('CONFIG_INVALID', `${where}: OpenSSH transfers need a private key`);
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
  const dir = await mkdtemp(join(tmpdir(), OPENSSH_TEMP_PREFIX));
  try {
    await chmod(dir, 0o700);
    const key = join(dir, 'id');
    const knownHosts = join(dir, 'known_hosts');
    const batch = join(dir, 'batch');
    await writeFile(key, o.privateKey.endsWith('\n') ? o.privateKey : `${o.privateKey}\n`, { mode: 0o600 });
    await writeFile(knownHosts, `finmesh-pinned ${keyType(hostKey)} ${hostKey.toString('base64')}\n`, { mode: 0o600 });
    await writeFile(batch, `get ${have > 0 ? '-a ' : ''}${quote(remote, true)} ${quote(local, false)}\n`, { mode: 0o600 });
    const timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const type = keyType(hostKey);
    const args = [
      '-q',
      '-b',
      batch,
      '-F',
      'none',
      '-P',
      String(o.port),
      '-R',
      String(REQUESTS_IN_FLIGHT),
      '-i',
      key,
      ...[
        'BatchMode=yes',
        'IdentitiesOnly=yes',
        'IdentityAgent=none',
        'PasswordAuthentication=no',
        'KbdInteractiveAuthentication=no',
        'StrictHostKeyChecking=yes',
        `UserKnownHostsFile=${knownHosts}`,
        'GlobalKnownHostsFile=/dev/null',
        'HostKeyAlias=finmesh-pinned',
        `HostKeyAlgorithms=${type === 'ssh-rsa' ? 'rsa-sha2-512,rsa-sha2-256,ssh-rsa' : type}`,
        'CheckHostIP=no',
        'UpdateHostKeys=no',
        `ConnectTimeout=${Math.max(1, Math.ceil((o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS) / 1000))}`,
        `ServerAliveInterval=${Math.max(1, Math.ceil((o.keepaliveMs ?? DEFAULT_KEEPALIVE_MS) / 1000))}`,
        'ServerAliveCountMax=3',
        `User=${o.username}`,
      ].flatMap((opt) => ['-o', opt]),
      o.host.includes(':') ? `[${o.host}]` : o.host,
    ];
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 16_384) stderr += d;
    });
    // A transfer is stalled when the local file has not grown for the request timeout.
    let stalled = false;
    let last = have;
    let grewAt = Date.now();
    const watch = setInterval(
      () => {
        stat(local).then(
          (s) => {
            if (s.size !== last) {
              last = s.size;
              grewAt = Date.now();
            } else if (Date.now() - grewAt >= timeoutMs && child.exitCode === null) {
              stalled = true;
              child.kill('SIGKILL');
            }
          },
          () => {
            if (Date.now() - grewAt >= timeoutMs && child.exitCode === null) {
              stalled = true;
              child.kill('SIGKILL');
            }
          },
        );
      },
      Math.min(1000, timeoutMs),
    );
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    }).finally(() => clearInterval(watch));
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
        `${where}: download of ${remote}: the file ends at ${got} bytes, not ${size}: it changed during the download`,
      );
    throw opensshError(o, where, remote, stderr, stalled ? timeoutMs : undefined, kept, size);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What `sftp`'s stderr says went wrong, as the ssh2 path would have said it. */
function opensshError(
  o: SftpConnectOptions,
  where: string,
  remote: string,
  stderr: string,
  stalledMs: number | undefined,
  kept: number,
  size: number,
): FinmeshError {
  const said = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l &&
        !l.startsWith('@') &&
        !/^(IT IS POSSIBLE|Someone could|It is also possible|Please contact|Add correct|Offending|Host key for)/.test(l),
    )
    .slice(-3)
    .join(' ');
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No matching host key/i.test(stderr)) {
    const offered = /key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/=]+?)\.?\s/.exec(stderr)?.[1] ?? 'of another type';
    return new FinmeshError(
      'PERMISSION',
      `${where}: the host key ${offered} does not match the pinned ${o.hostKeyFingerprint}; refusing to connect`,
    );
  }
  if (/Permission denied \(/.test(stderr))
    return new FinmeshError('PERMISSION', `${where}: the server refused user ${o.username} with the configured private key`);
  const prefix =
    kept > 0 ? `SFTP: download of ${remote} stopped at ${kept} of ${size} bytes (resumes from there)` : `SFTP: cannot download ${remote}`;
  if (stalledMs !== undefined)
    return new FinmeshError('TIMEOUT', `${prefix}: ${where}: no block came back within ${stalledMs} ms; the server stalled`);
  if (/not found|No such file/i.test(stderr)) return new FinmeshError('NOT_FOUND', `${prefix}: ${said}`);
  if (/Permission denied/i.test(stderr)) return new FinmeshError('PERMISSION', `${prefix}: ${said}`);
  return new FinmeshError('UNAVAILABLE', `${prefix}: OpenSSH sftp: ${said || 'it ended without saying why'}`);
}
