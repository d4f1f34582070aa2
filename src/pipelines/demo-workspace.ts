import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { parseDocument } from 'yaml';
import { FinmeshError } from '../core/errors.js';
import { sshFingerprint } from '../sources/sftp/fingerprint.js';

export const EXAMPLE_PROJECT = fileURLToPath(new URL('../../examples/fintech', import.meta.url));
const MARKER = '.finmesh-demo-workspace';
const KEY_FILE = '.finmesh/secrets/tokenization.key';

/**
 * Lays out a fresh demo workspace: a copy of examples/fintech, a random tokenisation key in a 0600 file that the
 * copy's finmesh.yaml references, and a marker so a later demo may safely clear it. A folder that is not
 * empty and has no marker is never touched.
 */
export function layoutDemoWorkspace(dir: string, options: { port?: number } = {}): string {
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
  writeFileSync(file, doc.toString());
  embedPartnerSftp(root);
  return root;
}

/**
 * The demo's acquirer: its SFTP source is served by finmesh's embedded SFTP server (the real protocol, on loopback)
 * over `.finmesh/partner-sftp`, with a random password and a host key whose fingerprint the source pins.
 */
function embedPartnerSftp(root: string): void {
  const file = join(root, 'domains/partners/sources/acquirer-settlements.yaml');
  if (!existsSync(file)) return;
  const secrets = join(root, '.finmesh/secrets');
  const keyFile = join(secrets, 'acquirer-settlements.host_key');
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  writeFileSync(keyFile, pair.private, { mode: 0o600 });
  const parsed = ssh2.utils.parseKey(pair.private);
  if (parsed instanceof Error) throw parsed;
  writeFileSync(join(secrets, 'partner-sftp.password'), randomBytes(16).toString('hex'), { mode: 0o600 });
  mkdirSync(join(root, '.finmesh/partner-sftp/outbound/settlements'), { recursive: true });
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.set('host', '127.0.0.1');
  doc.set('password', 'file:.finmesh/secrets/partner-sftp.password');
  doc.set('hostKeyFingerprint', sshFingerprint(parsed.getPublicSSH()));
  doc.set('stableMs', 500);
  doc.set('embedded', { root: '.finmesh/partner-sftp' });
  writeFileSync(file, doc.toString());
}
