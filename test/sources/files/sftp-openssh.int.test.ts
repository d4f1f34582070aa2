// Downloads through OpenSSH's own client (`transfer: openssh`, and `auto` where it is installed), against the real
// sshd: the private folder holding the key, names OpenSSH's batch language would misread, the fallback to ssh2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FinmeshError } from '../../../src/core/errors.js';
import { EmbeddedSftpServer } from '../../../src/sources/files/sftp/embedded-sftp-server.js';
import { findOpenSsh, IN_FLIGHT_BYTES, keptPrefix } from '../../../src/sources/files/sftp/openssh-transfer.js';
import { SftpFileSource, type SftpFileSourceOptions } from '../../../src/sources/files/sftp/sftp-file-source.js';
import { tempDir } from '../../helpers.js';
import { type Launched, SSHD_BIN, skipUnless, startSshd } from '../../launchers.js';

describe('a failed OpenSSH download keeps only what was surely written', () => {
  it('cuts at the first all-zero 4 KiB block within the in-flight region, never before where the attempt began', () => {
    const file = join(tempDir('kept-prefix-'), 'f');
    const data = randomBytes(IN_FLIGHT_BYTES + 1_000_000);
    const hole = data.length - 300_000;
    const start = Math.ceil(hole / 4096) * 4096;
    data.fill(0, start, start + 32_768);
    data.fill(0, 8192, 16_384); // zeros before the in-flight region: data, not a hole
    writeFileSync(file, data);
    assert.equal(keptPrefix(file, 0, data.length), start);
    assert.equal(keptPrefix(file, start + 32_768, data.length), data.length, 'a region all written is kept whole');
    const whole = randomBytes(100_000);
    writeFileSync(file, whole);
    assert.equal(keptPrefix(file, 0, whole.length), whole.length);
  });
});

const openssh = findOpenSsh();

describe(
  'SFTP downloads through OpenSSH’s client against OpenSSH sshd',
  skipUnless(
    SSHD_BIN !== undefined && openssh !== undefined,
    'OpenSSH sshd and sftp client',
    'Debian: apt-get install openssh-server openssh-client',
  ),
  () => {
    let server: (Launched & { user: string; clientKey: string; fingerprint: string; home: string }) | undefined;
    let options: SftpFileSourceOptions;
    before(async () => {
      server = await startSshd();
      options = {
        host: '127.0.0.1',
        port: server.port,
        username: server.user,
        privateKey: readFileSync(server.clientKey, 'utf8'),
        hostKeyFingerprint: server.fingerprint,
      };
    });
    after(async () => {
      await server?.stop();
    });

    it('keeps the private key in a 0700 folder as a 0600 file while the source is open, and removes it on close', async () => {
      const s = server as NonNullable<typeof server>;
      const tmp = tempDir('openssh-tmp-');
      const saved = process.env.TMPDIR;
      process.env.TMPDIR = tmp;
      let source: SftpFileSource;
      try {
        source = await SftpFileSource.create(options);
      } finally {
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
      }
      try {
        assert.equal(source.transfer, 'openssh', 'auto goes through OpenSSH where it is installed');
        const [folder, ...others] = readdirSync(tmp);
        assert.ok(folder && others.length === 0, `one private folder: ${readdirSync(tmp)}`);
        const dir = join(tmp, folder);
        assert.equal(statSync(dir).mode & 0o777, 0o700);
        assert.equal(statSync(join(dir, 'id')).mode & 0o777, 0o600);
        assert.equal(readFileSync(join(dir, 'id'), 'utf8').trim(), (options.privateKey as string).trim());
        const data = randomBytes(5 * 2 ** 20 + 7);
        mkdirSync(join(s.home, 'tmpcheck'), { recursive: true });
        writeFileSync(join(s.home, 'tmpcheck/a.bin'), data);
        const local = join(tempDir(), 'a.bin');
        assert.equal(await source.download(join(s.home, 'tmpcheck/a.bin'), local, data.length), data.length);
        assert.ok(readFileSync(local).equals(data));
      } finally {
        await source.close();
      }
      assert.deepEqual(readdirSync(tmp), [], 'the private folder is removed when the source closes');
    });

    it('downloads names with spaces, quotes and glob characters as named, not what the glob would match', async () => {
      const s = server as NonNullable<typeof server>;
      const dir = join(s.home, 'odd names');
      mkdirSync(dir, { recursive: true });
      const wanted = randomBytes(70_000);
      writeFileSync(join(dir, 'report [1] "final" *.csv'), wanted);
      writeFileSync(join(dir, 'report 1 "final" x.csv'), randomBytes(1000)); // what the glob would match
      const source = await SftpFileSource.create({ ...options, transfer: 'openssh' });
      try {
        const local = join(tempDir(), 'odd.csv');
        assert.equal(await source.download(join(dir, 'report [1] "final" *.csv'), local, wanted.length), wanted.length);
        assert.ok(readFileSync(local).equals(wanted));
      } finally {
        await source.close();
      }
    });

    it('falls back to ssh2 when OpenSSH is not on PATH (auto), and refuses transfer: openssh there, saying what to install', async () => {
      const s = server as NonNullable<typeof server>;
      const saved = process.env.PATH;
      process.env.PATH = tempDir('empty-path-');
      try {
        const source = await SftpFileSource.create(options);
        try {
          assert.equal(source.transfer, 'ssh2');
          const data = randomBytes(300_000);
          mkdirSync(join(s.home, 'fallback'), { recursive: true });
          writeFileSync(join(s.home, 'fallback/f.bin'), data);
          const local = join(tempDir(), 'f.bin');
          assert.equal(await source.download(join(s.home, 'fallback/f.bin'), local, data.length), data.length);
          assert.ok(readFileSync(local).equals(data));
        } finally {
          await source.close();
        }
        await assert.rejects(
          SftpFileSource.create({ ...options, transfer: 'openssh' }),
          (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && /openssh-client/.test(e.message),
        );
      } finally {
        process.env.PATH = saved;
      }
    });

    it('transfers with ssh2 when the source authenticates with a password, even where OpenSSH is installed', async () => {
      const server = await EmbeddedSftpServer.start({
        root: tempDir('openssh-password-'),
        username: 'partner',
        password: 'pw-openssh',
        hostKeyFile: join(tempDir(), 'host_key'),
      });
      try {
        const o = {
          host: '127.0.0.1',
          port: server.port,
          username: 'partner',
          password: 'pw-openssh',
          hostKeyFingerprint: server.fingerprint,
        };
        const source = await SftpFileSource.create(o);
        assert.equal(source.transfer, 'ssh2');
        await source.close();
        await assert.rejects(
          SftpFileSource.create({ ...o, transfer: 'openssh' }),
          (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && /privateKey/.test(e.message),
        );
      } finally {
        await server.close();
      }
    });
  },
);
