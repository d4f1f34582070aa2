#!/usr/bin/env node
// Runs every *.test.ts under test/ with node's test runner through tsx (Node 20's --test takes no globs).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildIsStale } from '../bin/build-state.mjs';

// The CLI's tests run bin/finmesh.js as a user does, which runs the build unless src/ changed since (then the sources,
// through tsx: slower, and not what a user runs). A stale build is rebuilt first, as `npm ci` would have built it.
if (buildIsStale(new URL('..', import.meta.url))) {
  console.log('src/ changed since the last build: building first (npm run build)');
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const filter = process.argv.slice(2);
const files = readdirSync('test', { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
  .map((e) => join(e.parentPath, e.name))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
// Test files at once: most wait on servers, browsers and child processes rather than on this process's CPU, so two
// files run side by side even on a 2-CPU machine ($FINMESH_TEST_CONCURRENCY overrides).
const concurrency = process.env.FINMESH_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
