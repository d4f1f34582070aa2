import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { FinmeshError } from '../core/errors.js';

/**
 * Resolves `env:NAME` or `file:path` (relative paths from the project root). The value is returned to the
 * caller only; it never appears in an error message, a log line or lineage.
 */
export function resolveSecret(ref: string, projectRoot: string, what: string): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = process.env[name];
    if (value === undefined || value === '') {
      throw new FinmeshError('CONFIG_INVALID', `${what}: the environment variable ${name} is not set (secret reference "${ref}")`);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const p = ref.slice(5);
    const path = isAbsolute(p) ? p : resolve(projectRoot, p);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (cause) {
      throw new FinmeshError('CONFIG_INVALID', `${what}: cannot read the secret file named by "${ref}"`, { cause });
    }
  }
  throw new FinmeshError('CONFIG_INVALID', `${what}: expected a secret reference (env:NAME or file:path), found something else`);
}
