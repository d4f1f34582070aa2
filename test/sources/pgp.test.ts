import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { csvOptionsSchema } from '../../src/sources/formats/csv.js';
import { collectingSink } from '../../src/sources/formats/format.js';
import { type FileFormat, readFileRows } from '../../src/sources/formats/read-file.js';
import { tempDir } from '../helpers.js';
import { findBinary, skipUnless } from '../launchers.js';

const report = 'case_id;amount\nCB-1;10,50\nCB-2;3,00\n';

interface Keys {
  fintech: { privateKey: string; publicKey: string };
  partner: { privateKey: string; publicKey: string; keyId: string };
  stranger: { privateKey: string };
}

async function generate(): Promise<Keys> {
  const fintech = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Fintech', email: 'data@fintech.example' }],
    passphrase: 'fintech-pass',
    format: 'armored',
  });
  const partner = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Acquirer', email: 'edi@acquirer.example' }],
    format: 'armored',
  });
  const stranger = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Mallory', email: 'm@evil.example' }],
    format: 'armored',
  });
  const partnerKey = await openpgp.readKey({ armoredKey: partner.publicKey });
  return {
    fintech: { privateKey: fintech.privateKey, publicKey: fintech.publicKey },
    partner: { privateKey: partner.privateKey, publicKey: partner.publicKey, keyId: partnerKey.getKeyID().toHex().toUpperCase() },
    stranger: { privateKey: stranger.privateKey },
  };
}

async function encrypt(keys: Keys, data: string, signer?: string, armor = false): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: Buffer.from(data) });
  const encryptionKeys = await openpgp.readKey({ armoredKey: keys.fintech.publicKey });
  const signingKeys = signer ? await openpgp.readPrivateKey({ armoredKey: signer }) : undefined;
  if (armor) {
    const text = await openpgp.encrypt({ message, encryptionKeys, ...(signingKeys ? { signingKeys } : {}), format: 'armored' });
    return Buffer.from(text as string);
  }
  const bytes = await openpgp.encrypt({ message, encryptionKeys, ...(signingKeys ? { signingKeys } : {}), format: 'binary' });
  return Buffer.from(bytes as Uint8Array);
}

function format(keys: Keys, verify = true): FileFormat {
  return {
    format: 'csv',
    csv: csvOptionsSchema.parse({ delimiter: ';', decimalSeparator: ',' }),
    schema: [
      { name: 'case_id', type: 'VARCHAR' },
      { name: 'amount', type: 'DECIMAL(10,2)' },
    ],
    pgp: { privateKey: keys.fintech.privateKey, passphrase: 'fintech-pass', verificationKey: verify ? keys.partner.publicKey : undefined },
    limits: { maxBytes: 2 ** 20, maxRatio: 100, maxEntries: 10 },
  };
}

async function read(bytes: Buffer, name: string, fmt: FileFormat) {
  const dir = tempDir('pgp-');
  writeFileSync(join(dir, 'in'), bytes);
  const sink = collectingSink();
  const result = await readFileRows(join(dir, 'in'), name, fmt, dir, () => sink);
  return { result, rows: sink.rows };
}

describe('PGP-encrypted partner files', () => {
  let keys: Keys;
  before(async () => {
    keys = await generate();
  });

  it('decrypts with our key and checks the partner’s signature, binary or armored', async () => {
    for (const armor of [false, true]) {
      const { result, rows } = await read(await encrypt(keys, report, keys.partner.privateKey, armor), 'CB.csv.pgp', format(keys));
      assert.equal(result.integrityError, undefined);
      assert.equal(result.signedBy, keys.partner.keyId);
      assert.deepEqual(
        rows.map((r) => r.values),
        [
          { case_id: 'CB-1', amount: '10.50' },
          { case_id: 'CB-2', amount: '3.00' },
        ],
      );
    }
  });

  it('refuses an unsigned file, a file signed by someone else, a tampered file and a plain file', async () => {
    const unsigned = await read(await encrypt(keys, report), 'U.pgp', format(keys));
    assert.match(unsigned.result.integrityError ?? '', /U\.pgp: PGP signature check failed/);
    assert.deepEqual(unsigned.rows, [], 'nothing of a refused file reaches the sink');
    const forged = await read(await encrypt(keys, report, keys.stranger.privateKey), 'F.pgp', format(keys));
    assert.match(forged.result.integrityError ?? '', /F\.pgp: PGP signature check failed/);
    const good = await encrypt(keys, report, keys.partner.privateKey);
    good[good.length - 40] = (good[good.length - 40] as number) ^ 0xff;
    const tampered = await read(good, 'T.pgp', format(keys));
    assert.match(tampered.result.integrityError ?? '', /T\.pgp: PGP (cannot decrypt|signature check failed)/);
    const plain = await read(Buffer.from(report), 'P.csv', format(keys));
    assert.match(plain.result.integrityError ?? '', /P\.csv: the source expects PGP-encrypted files and this one is not encrypted/);
    const noSettings = await read(await encrypt(keys, report), 'N.pgp', { ...format(keys), pgp: undefined });
    assert.match(noSettings.result.integrityError ?? '', /N\.pgp: the file is PGP-encrypted but the source has no `pgp` settings/);
  });

  it('says which key setting is wrong when the passphrase is', async () => {
    const fmt = format(keys);
    if (fmt.pgp) fmt.pgp.passphrase = 'wrong';
    await assert.rejects(read(await encrypt(keys, report, keys.partner.privateKey), 'K.pgp', fmt), /PGP keys for K\.pgp: .*passphrase/i);
  });

  const gpg = findBinary('gpg');
  it(
    'reads a zip that GnuPG encrypted to us and signed with the partner’s key',
    skipUnless(gpg !== undefined && findBinary('zip') !== undefined, 'gpg and zip', 'apt-get install gnupg zip'),
    async () => {
      const dir = tempDir('gpg-');
      const home = join(dir, 'gnupg');
      mkdirSync(home, { mode: 0o700 });
      const env = { ...process.env, GNUPGHOME: home };
      writeFileSync(join(dir, 'fintech.asc'), keys.fintech.publicKey);
      writeFileSync(join(dir, 'partner.asc'), keys.partner.privateKey);
      execFileSync(gpg as string, ['--batch', '--quiet', '--import', join(dir, 'fintech.asc'), join(dir, 'partner.asc')], {
        env,
        stdio: 'pipe',
      });
      writeFileSync(join(dir, 'CB_20261127.csv'), report);
      execFileSync('zip', ['-q', 'CB_20261127.zip', 'CB_20261127.csv'], { cwd: dir });
      execFileSync(
        gpg as string,
        [
          '--batch',
          '--yes',
          '--trust-model',
          'always',
          '--local-user',
          'edi@acquirer.example',
          '--recipient',
          'data@fintech.example',
          '--sign',
          '--encrypt',
          '--output',
          'CB_20261127.zip.gpg',
          'CB_20261127.zip',
        ],
        { cwd: dir, env, stdio: 'pipe' },
      );
      const { result, rows } = await read(readFileSync(join(dir, 'CB_20261127.zip.gpg')), 'CB_20261127.zip.gpg', format(keys));
      assert.equal(result.integrityError, undefined);
      assert.deepEqual(result.members, ['CB_20261127.zip.gpg!CB_20261127.csv']);
      assert.equal(rows.length, 2);
      assert.equal(result.signedBy, keys.partner.keyId);
    },
  );
});
