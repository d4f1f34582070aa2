#!/usr/bin/env node
// finmesh runs as compiled JavaScript (dist/, with source maps), built by `npm run build` — which `npm ci` runs through
// `prepare` and `npm pack` through `prepack`. In a clone whose src/ changed since that build, it runs the TypeScript
// sources through tsx instead (slower to start), so a stale build never runs.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const built = new URL('dist/.built', root);
const src = new URL('src/', root);

function stale() {
  if (!existsSync(src)) return false;
  const at = statSync(built).mtimeMs;
  // Notes (CONTEXT.md) are not compiled: editing one does not make the build stale.
  for (const e of readdirSync(src, { recursive: true, withFileTypes: true }))
    if (e.isFile() && !e.name.endsWith('.md') && statSync(`${e.parentPath}/${e.name}`).mtimeMs > at) return true;
  return false;
}

if (existsSync(built) && !stale()) {
  // Stack traces through the source maps (lines of src/*.ts) on request: mapping every module as it loads cost
  // about a fifth of a start.
  if (process.env.FINMESH_SOURCE_MAPS === '1') process.setSourceMapsEnabled(true);
  await import(new URL('dist/cli/main.js', root).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/main.ts', root).href);
}
