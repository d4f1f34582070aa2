import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { codeCacheFile, requireWithCodeCache } from '../../src/core/code-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'finmesh-code-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loads `file` through the code cache in a fresh Node process (V8 keeps compiled scripts within one) and prints its exports. */
function loadInAnotherProcess(file: string): unknown {
  const script = `import { requireWithCodeCache } from ${JSON.stringify(join(process.cwd(), 'src/core/code-cache.ts'))};
    process.stdout.write(JSON.stringify(requireWithCodeCache(${JSON.stringify(file)})));`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

describe('a CommonJS file loaded through its V8 code cache', () => {
  it('runs as require would: its own require, exports, __filename; the cache is written beside it', () => {
    writeFileSync(join(dir, 'dep.cjs'), 'module.exports = { answer: 41 };');
    const file = join(dir, 'main.cjs');
    writeFileSync(file, "const dep = require('./dep.cjs'); exports.answer = dep.answer + 1; exports.file = __filename;");
    assert.deepEqual(requireWithCodeCache(file), { answer: 42, file });
    assert.ok(existsSync(codeCacheFile(file)), 'the cache is written after the first load');
    assert.deepEqual(loadInAnotherProcess(file), { answer: 42, file });
  });

  it('never serves a cache taken from another source of the same length (V8 checks only the length)', () => {
    const file = join(dir, 'same-length.cjs');
    writeFileSync(file, 'module.exports = { v: 1, f: function () { return "one"; } };');
    assert.deepEqual(loadInAnotherProcess(file), { v: 1 });
    const first = readFileSync(codeCacheFile(file));
    writeFileSync(file, 'module.exports = { v: 2, f: function () { return "two"; } };');
    assert.deepEqual(loadInAnotherProcess(file), { v: 2 });
    assert.notDeepEqual(readFileSync(codeCacheFile(file)), first, 'the cache is taken again for the new source');
  });

  it('loads as without a cache when the cache is damaged, and mends it', () => {
    const file = join(dir, 'damaged.cjs');
    writeFileSync(file, 'module.exports = [1, 2, 3].map((x) => x * 2);');
    loadInAnotherProcess(file);
    const good = readFileSync(codeCacheFile(file));
    // The digest kept, the data cut short: V8 refuses it.
    writeFileSync(codeCacheFile(file), good.subarray(0, 40));
    assert.deepEqual(loadInAnotherProcess(file), [2, 4, 6]);
    assert.equal(readFileSync(codeCacheFile(file)).length, good.length, 'the cache is written again in full');
  });
});
