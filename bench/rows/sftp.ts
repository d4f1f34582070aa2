// SFTP transfer over loopback from OpenSSH's sshd: finmesh's SFTP source against OpenSSH's own `sftp` client, the
// same files. Both sides are timed from nothing to the files on disk: connect, handshake, host-key check (pinned on
// both: a known_hosts file for OpenSSH), transfer, close — OpenSSH's side includes starting its process, and
// finmesh's includes its ssh2 connection (which proves the pinned key) and, with `transfer: auto` where OpenSSH's
// client is installed, starting one `sftp` process per file (with its own handshake). `--set sftp-transfer=ssh2`
// measures the in-process ssh2 downloader instead.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { findOpenSsh } from '../../src/sources/files/sftp/openssh-transfer.js';
import { SftpFileSource } from '../../src/sources/files/sftp/sftp-file-source.js';
import { SSHD_BIN, startSshd } from '../../test/launchers.js';
import { type BenchRow, ratioBar, time, units } from '../harness.js';

const run = promisify(execFile);

export const sftp: BenchRow = {
  id: 'sftp',
  title: 'SFTP download over loopback',
  unit: units.mibPerSecond,
  bar: ratioBar('≥', 0.8),
  async open(env) {
    if (!SSHD_BIN) return { skip: 'OpenSSH sshd not found (Debian: apt-get install openssh-server)' };
    const server = await startSshd();
    const files = 4;
    const mib = Number(env.settings['sftp-mib'] ?? 1024);
    const size = Math.max(1, Math.round(mib / files)) * 2 ** 20;
    const remote = join(server.home, 'bench');
    mkdirSync(remote, { recursive: true });
    env.log(`writing ${files} × ${size / 2 ** 20} MiB on the SFTP server…`);
    for (let i = 0; i < files; i++) {
      const out = createWriteStream(join(remote, `f${i}.bin`));
      const chunk = randomBytes(2 ** 20);
      for (let w = 0; w < size; w += chunk.length) if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      await new Promise<void>((r) => out.end(() => r()));
    }
    const local = join(env.work, 'local');
    const knownHosts = join(env.work, 'known_hosts');
    const hostKey = readFileSync(join(dirname(server.home), 'host_key.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    writeFileSync(knownHosts, `[127.0.0.1]:${server.port} ${hostKey}\n`);
    const batch = join(env.work, 'batch');
    writeFileSync(
      batch,
      Array.from({ length: files }, (_, i) => `get ${join(remote, `f${i}.bin`)} ${join(local, `f${i}.bin`)}`).join('\n'),
    );
    const total = (files * size) / 2 ** 20;
    const transfer = (env.settings['sftp-transfer'] ?? 'auto') as 'auto' | 'ssh2' | 'openssh';
    if (!['auto', 'ssh2', 'openssh'].includes(transfer)) throw new Error(`--set sftp-transfer: auto, ssh2 or openssh, not ${transfer}`);
    const through = transfer === 'ssh2' || !findOpenSsh() ? 'ssh2' : 'openssh';
    const check = () => {
      for (let i = 0; i < files; i++) if (statSync(join(local, `f${i}.bin`)).size !== size) throw new Error(`f${i}.bin arrived incomplete`);
    };
    return {
      async reset() {
        rmSync(local, { recursive: true, force: true });
        mkdirSync(local, { recursive: true });
      },
      finmesh: {
        label: `finmesh SftpFileSource (transfer: ${transfer}, through ${through})`,
        async sample() {
          const s = await time(async () => {
            const source = await SftpFileSource.create({
              host: '127.0.0.1',
              port: server.port,
              username: server.user,
              privateKey: readFileSync(server.clientKey, 'utf8'),
              hostKeyFingerprint: server.fingerprint,
              transfer,
              maxConnections: 1,
            });
            if (source.transfer !== through) throw new Error(`downloads went through ${source.transfer}, not ${through}`);
            try {
              for (let i = 0; i < files; i++) await source.download(join(remote, `f${i}.bin`), join(local, `f${i}.bin`), size);
            } finally {
              await source.close();
            }
          });
          check();
          return total / s;
        },
      },
      reference: {
        label: 'OpenSSH sftp',
        async sample() {
          const s = await time(() =>
            run('sftp', [
              '-q',
              '-b',
              batch,
              '-i',
              server.clientKey,
              '-P',
              String(server.port),
              '-o',
              'StrictHostKeyChecking=yes',
              '-o',
              `UserKnownHostsFile=${knownHosts}`,
              `${server.user}@127.0.0.1`,
            ]),
          );
          check();
          return total / s;
        },
      },
      async close() {
        await server.stop();
      },
    };
  },
};
