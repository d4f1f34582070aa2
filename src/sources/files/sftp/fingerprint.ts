import { createHash } from 'node:crypto';

/** OpenSSH's `SHA256:<base64, no padding>` fingerprint of a host key blob. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
