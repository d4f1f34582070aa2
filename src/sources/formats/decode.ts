import { gunzipSync } from 'node:zlib';
import { FinmeshError } from '../../core/errors.js';

export interface DecodeLimits {
  /** Largest decompressed size accepted. */
  maxBytes: number;
  /** Largest decompressed/compressed ratio accepted (a zip bomb exceeds it). */
  maxRatio: number;
}

/**
 * Bytes as received → text: gunzip (bounded by size and ratio), then the declared encoding (UTF-8, ISO-8859-1,
 * Windows-1252), without a BOM, with LF line ends.
 */
export function decodeFile(bytes: Buffer, name: string, encoding: 'utf-8' | 'latin1' | 'windows-1252', limits: DecodeLimits): string {
  let data = bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      data = gunzipSync(bytes, { maxOutputLength: limits.maxBytes });
    } catch (cause) {
      throw new FinmeshError('DATA_INVALID', `${name}: cannot decompress within ${limits.maxBytes} bytes (${(cause as Error).message})`, {
        cause,
      });
    }
    if (data.length / Math.max(1, bytes.length) > limits.maxRatio) {
      throw new FinmeshError(
        'DATA_INVALID',
        `${name}: expands ${Math.round(data.length / bytes.length)}× when decompressed, above the limit of ${limits.maxRatio}×`,
      );
    }
  }
  let text = new TextDecoder(encoding === 'latin1' ? 'latin1' : encoding).decode(data);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.replace(/\r\n?/g, '\n');
}
