import { splitLines } from './decode.js';
import type { ParseText } from './format.js';

/** Newline-delimited JSON: one object per line; a line that is not a JSON object is rejected with its number. */
export const parseNdjson: ParseText = async (chunks, file, sink) => {
  for await (const { first, lines } of splitLines(chunks)) {
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i] as string;
      const line = first + i;
      if (raw.trim() === '') continue;
      try {
        const v = JSON.parse(raw) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
        sink.row(line, v as Record<string, unknown>);
      } catch (e) {
        sink.reject(line, `${file}: line ${line}: ${(e as Error).message}`, raw);
      }
    }
  }
  return undefined;
};
