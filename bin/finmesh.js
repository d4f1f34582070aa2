#!/usr/bin/env node
// finmesh runs as compiled JavaScript (dist/cli/bundle/finmesh.cjs: dist's modules of the CLI in one file), built by `npm run build` —
// which `npm ci` runs through `prepare` and `npm pack` through `prepack`. In a clone whose src/ changed since that build, it runs the TypeScript
// sources through tsx instead (slower to start), so a stale build never runs.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildIsStale } from './build-state.mjs';

// Node 22.1 and later keep V8's compiled code of each module on disk (checked against the source; NODE_DISABLE_COMPILE_CACHE=1
// turns it off): later starts skip compiling. Node 20 has no such cache.
module.enableCompileCache?.();

const root = new URL('..', import.meta.url);
const built = new URL('dist/.built', root);

if (existsSync(built) && !buildIsStale(root)) {
  // Stack traces through the source maps (lines of src/*.ts) on request: mapping every module as it loads cost
  // about a fifth of a start. The bundle has no maps: on request, dist/'s own modules run, each with its map.
  if (process.env.FINMESH_SOURCE_MAPS === '1') {
    process.setSourceMapsEnabled(true);
    await import(new URL('dist/cli/main.js', root).href);
  } else {
    // The bundle (one CommonJS file) through V8's code cache of this command's earlier runs: a command compiles what
    // its own run needs, so each command keeps its own cache (taken when its first run exits).
    const { requireWithCodeCache } = await import(new URL('dist/core/code-cache.js', root).href);
    const command = /^[a-z][a-z-]{0,31}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'finmesh';
    requireWithCodeCache(fileURLToPath(new URL('dist/cli/bundle/finmesh.cjs', root)), {
      cacheFile: fileURLToPath(new URL(`dist/cli/bundle/cache/${command}.v8cache`, root)),
      take: 'exit',
    });
  }
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/main.ts', root).href);
}
