// Whether the compiled build (dist/) is older than the sources it came from: bin/finmesh.js then runs the sources
// through tsx, and scripts/test.mjs rebuilds before the tests. In an installed package there is no src/: never stale.
import { existsSync, readdirSync, statSync } from 'node:fs';

/** @param {URL} root the package's root folder (a file: URL ending in '/') */
export function buildIsStale(root) {
  const src = new URL('src/', root);
  if (!existsSync(src)) return false;
  const built = new URL('dist/.built', root);
  if (!existsSync(built)) return true;
  const at = statSync(built).mtimeMs;
  // Notes (CONTEXT.md) are not compiled: editing one does not make the build stale.
  for (const e of readdirSync(src, { recursive: true, withFileTypes: true }))
    if (e.isFile() && !e.name.endsWith('.md') && statSync(`${e.parentPath}/${e.name}`).mtimeMs > at) return true;
  return false;
}
