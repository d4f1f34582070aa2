import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { generateHostKey } from '../../../src/sources/files/sftp/host-key.js';

describe('host keys for the embedded SFTP server', () => {
  it('are always usable: every generated key parses (ssh2 alone writes about 3 in 1,000 that its parser refuses)', () => {
    const fingerprints = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const key = generateHostKey();
      assert.ok(!(ssh2.utils.parseKey(key.privateKey) instanceof Error), `key ${i} parses`);
      fingerprints.add(key.fingerprint);
    }
    assert.equal(fingerprints.size, 3000);
  });
});
