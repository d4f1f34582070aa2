import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { FinmeshError } from '../core/errors.js';
import { generateHostKey } from '../sources/files/sftp/host-key.js';
import { generatePgpKeys } from './simulator/partner-files.js';

export const EXAMPLE_PROJECT = fileURLToPath(new URL('../../examples/fintech', import.meta.url));
const MARKER = '.finmesh-demo-workspace';
const KEY_FILE = '.finmesh/secrets/tokenization.key';

/**
 * Lays out a fresh demo workspace: a copy of examples/fintech, a random tokenisation key in a 0600 file that the
 * copy's finmesh.yaml references, and a marker so a later demo may safely clear it. A folder that is not
 * empty and has no marker is never touched.
 */
export async function layoutDemoWorkspace(dir: string, options: { port?: number } = {}): Promise<string> {
  const root = resolve(dir);
  if (existsSync(root) && readdirSync(root).length > 0) {
    if (!existsSync(join(root, MARKER))) {
      throw new FinmeshError('CONFLICT', `${dir} exists, is not empty and is not a finmesh demo workspace; choose another --dir`);
    }
    rmSync(root, { recursive: true, force: true });
  }
  mkdirSync(root, { recursive: true });
  cpSync(EXAMPLE_PROJECT, root, { recursive: true, filter: (src) => !src.includes(`${EXAMPLE_PROJECT}/.finmesh`) });
  writeFileSync(join(root, MARKER), 'created by `finmesh demo`; the next demo in this folder clears it\n');
  mkdirSync(join(root, '.finmesh/secrets'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, KEY_FILE), randomBytes(32).toString('hex'), { mode: 0o600 });
  const file = join(root, 'finmesh.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['tokenization', 'key'], `file:${KEY_FILE}`);
  if (options.port !== undefined) doc.setIn(['server', 'port'], options.port);
  // The same project on Google Cloud's local stand-ins (`finmesh demo --target emulator`), reached through the standard
  // emulator variables: fake-gcs-server, the BigQuery emulator and Pub/Sub's emulator.
  if (!doc.hasIn(['targets', 'emulator']))
    doc.setIn(['targets', 'emulator'], {
      description: 'Google Cloud on local stand-ins (STORAGE_EMULATOR_HOST, BIGQUERY_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)',
      lake: { kind: 'gcs', bucket: 'fintech-lake', prefix: 'lake/', projectId: 'fintech-emulated' },
      engine: { kind: 'bigquery', projectId: 'fintech-emulated' },
      bus: { kind: 'pubsub', projectId: 'fintech-emulated' },
    });
  writeFileSync(file, doc.toString());
  await embedPartnerSftp(root);
  return root;
}

/** The demo's partner sources: each one's folder on the embedded server. */
const PARTNER_SOURCES = [
  { file: 'domains/partners/sources/acquirer-settlements.yaml', name: 'acquirer-settlements', folder: 'outbound/settlements' },
  { file: 'domains/partners/sources/acquirer-chargebacks.yaml', name: 'acquirer-chargebacks', folder: 'outbound/chargebacks' },
];

/**
 * The demo's acquirer: its SFTP sources are served by finmesh's embedded SFTP server (the real protocol, on
 * loopback) over `.finmesh/partner-sftp`, with a random password and a host key whose fingerprint each source
 * pins. Chargeback reports are PGP-encrypted: the workspace gets the fintech's key pair (passphrase-protected)
 * and the acquirer's, whose public half the source verifies signatures with.
 */
async function embedPartnerSftp(root: string): Promise<void> {
  const secrets = join(root, '.finmesh/secrets');
  const secret = (name: string, text: string) => writeFileSync(join(secrets, name), text, { mode: 0o600 });
  secret('partner-sftp.password', randomBytes(16).toString('hex'));
  for (const p of PARTNER_SOURCES) {
    const file = join(root, p.file);
    if (!existsSync(file)) continue;
    const hostKey = generateHostKey();
    secret(`${p.name}.host_key`, hostKey.privateKey);
    mkdirSync(join(root, '.finmesh/partner-sftp', p.folder), { recursive: true });
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.set('host', '127.0.0.1');
    doc.set('password', 'file:.finmesh/secrets/partner-sftp.password');
    doc.set('hostKeyFingerprint', hostKey.fingerprint);
    doc.set('stableMs', 500);
    doc.set('embedded', { root: '.finmesh/partner-sftp' });
    if (doc.has('pgp')) {
      const passphrase = randomBytes(16).toString('hex');
      const fintech = await generatePgpKeys('Fintech data platform (demo)', 'data@fintech.example', passphrase);
      const acquirer = await generatePgpKeys('Acquirer EDI (demo)', 'edi@acquirer.example');
      secret('fintech-pgp.key', fintech.privateKey);
      secret('fintech-pgp.pub', fintech.publicKey);
      secret('fintech-pgp.passphrase', passphrase);
      secret('acquirer-pgp.key', acquirer.privateKey);
      secret('acquirer-pgp.pub', acquirer.publicKey);
      doc.setIn(['pgp', 'privateKey'], 'file:.finmesh/secrets/fintech-pgp.key');
      doc.setIn(['pgp', 'passphrase'], 'file:.finmesh/secrets/fintech-pgp.passphrase');
      doc.setIn(['pgp', 'verifyWith'], 'file:.finmesh/secrets/acquirer-pgp.pub');
    }
    writeFileSync(file, doc.toString());
  }
}
