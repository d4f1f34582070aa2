import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedSftpServer } from '../../../src/sources/files/sftp/embedded-sftp-server.js';
import { generateHostKey } from '../../../src/sources/files/sftp/host-key.js';
import { findOpenSsh } from '../../../src/sources/files/sftp/openssh-transfer.js';
import { SftpFileSource, type SftpFileSourceOptions } from '../../../src/sources/files/sftp/sftp-file-source.js';
import { describeFileSourceContract, type FileSourceFixture, localFolder } from '../../contracts/file-source-contract.js';
import { tempDir } from '../../helpers.js';
import { SSHD_BIN, skipUnless, startSshd } from '../../launchers.js';

/** A host key fingerprint no server here has. */
const STRANGER = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** The fixture of an SFTP server whose folder `dir` is `local` on this machine. */
function sftpFixture(o: {
  local: string;
  dir: string;
  port: number;
  fingerprint: string;
  credentials: Pick<SftpFileSourceOptions, 'username' | 'password' | 'privateKey'>;
  refused: Pick<SftpFileSourceOptions, 'username' | 'password' | 'privateKey'>;
  transfer?: SftpFileSourceOptions['transfer'];
  close: () => Promise<void>;
}): FileSourceFixture {
  const options = (port = o.port): SftpFileSourceOptions => ({
    host: '127.0.0.1',
    port,
    hostKeyFingerprint: o.fingerprint,
    ...o.credentials,
    transfer: o.transfer,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  return {
    dir: o.dir,
    port: o.port,
    ...localFolder(o.local),
    open: (x = {}) =>
      SftpFileSource.create({ ...options(x.port), attempts: x.attempts, backoff: { initialDelayMs: 50, onRetry: x.onRetry } }),
    openWithRefusedCredentials: () => SftpFileSource.create({ ...options(), password: undefined, privateKey: undefined, ...o.refused }),
    impostor: {
      open: () => SftpFileSource.create({ ...options(), hostKeyFingerprint: STRANGER }),
      pinned: STRANGER,
      offered: o.fingerprint,
    },
    close: o.close,
  };
}

describeFileSourceContract('sftp, finmesh’s embedded server', async () => {
  const root = tempDir('sftp-contract-');
  const server = await EmbeddedSftpServer.start({
    root,
    username: 'partner',
    password: 'pw-contract',
    hostKeyFile: join(tempDir(), 'host_key'),
  });
  return sftpFixture({
    local: join(root, 'contract'),
    dir: '/contract',
    port: server.port,
    fingerprint: server.fingerprint,
    credentials: { username: 'partner', password: 'pw-contract' },
    refused: { username: 'partner', password: 'not-the-password' },
    close: () => server.close(),
  });
});

for (const transfer of ['ssh2', 'openssh'] as const)
  describeFileSourceContract(
    `sftp, OpenSSH sshd, downloads through ${transfer === 'ssh2' ? 'ssh2' : 'OpenSSH’s sftp client'}`,
    async () => {
      const server = await startSshd();
      return sftpFixture({
        local: join(server.home, 'contract'),
        dir: join(server.home, 'contract'),
        port: server.port,
        fingerprint: server.fingerprint,
        credentials: { username: server.user, privateKey: readFileSync(server.clientKey, 'utf8') },
        refused: { username: server.user, privateKey: generateHostKey().privateKey },
        transfer,
        close: () => server.stop(),
      });
    },
    skipUnless(
      SSHD_BIN !== undefined && (transfer === 'ssh2' || findOpenSsh() !== undefined),
      transfer === 'ssh2' ? 'OpenSSH sshd' : 'OpenSSH sshd and sftp client',
      'Debian: apt-get install openssh-server openssh-client',
    ),
  );
