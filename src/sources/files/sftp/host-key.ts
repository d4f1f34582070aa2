import ssh2 from 'ssh2';
import { FinmeshError } from '../../../core/errors.js';
import { sshFingerprint } from './fingerprint.js';

/**
 * A new Ed25519 SSH host key, in OpenSSH format, with its fingerprint. ssh2's generator now and then (about 3 keys in
 * 1,000) writes a private key its own parser refuses as "Malformed OpenSSH private key": such a key is generated
 * again rather than handed to a server that would fail to start with it.
 */
export function generateHostKey(): { privateKey: string; fingerprint: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error)) return { privateKey: pair.private, fingerprint: sshFingerprint(parsed.getPublicSSH()) };
  }
  throw new FinmeshError('UNAVAILABLE', 'could not generate a usable SSH host key in 20 attempts');
}
