import { createHash } from 'node:crypto';

/**
 * The inner and outer HMAC-SHA256 key pads (RFC 2104), hex: every engine builds `tokenize()` from them, so a token
 * made by DuckDB and one made by BigQuery are the same string.
 */
export function hmacPads(key: string): { ipad: string; opad: string } {
  let k = Buffer.from(key, 'utf8');
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  const ipad = Buffer.alloc(64);
  const opad = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = (block[i] ?? 0) ^ 0x36;
    opad[i] = (block[i] ?? 0) ^ 0x5c;
  }
  return { ipad: ipad.toString('hex'), opad: opad.toString('hex') };
}
