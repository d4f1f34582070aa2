import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CodeCacheOptions, codeCacheFile, requireWithCodeCache } from '../../src/core/code-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'finmesh-code-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loads `file` through the code cache in a fresh Node process (V8 keeps compiled scripts within one) and prints its exports. */
function loadInAnotherProcess(file: string, options: CodeCacheOptions = {}): unknown {
  const script = `import { requireWithCodeCache } from ${JSON.stringify(join(process.cwd(), 'src/core/code-cache.ts'))};
    const exported = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(options)});
    process.stdout.write(JSON.stringify(exported instanceof Promise ? await exported : exported));`;
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

  it('a program keeps one cache per way it runs, taken when the run exits, and loads packages through __import', () => {
    const file = join(dir, 'program.cjs');
    // What runs only after the file's own start (a command's action) is in a cache taken at exit, not at load.
    writeFileSync(
      file,
      `module.exports = new Promise((resolve) => setTimeout(async () => {
        const { basename } = await __import('node:path');
        resolve({ name: basename(__filename), late: [3, 1, 2].sort().join('') });
      }, 10));`,
    );
    const help = join(dir, 'cache', 'help.v8cache');
    const query = join(dir, 'cache', 'query.v8cache');
    assert.deepEqual(loadInAnotherProcess(file, { cacheFile: query, take: 'exit' }), { name: 'program.cjs', late: '123' });
    assert.ok(existsSync(query) && !existsSync(help) && !existsSync(codeCacheFile(file)), 'only the named cache is written');
    const taken = readFileSync(query);
    assert.deepEqual(loadInAnotherProcess(file, { cacheFile: query, take: 'exit' }), { name: 'program.cjs', late: '123' });
    assert.deepEqual(readFileSync(query), taken, 'a cache V8 accepted is not written again');
    assert.deepEqual(loadInAnotherProcess(file, { cacheFile: help, take: 'exit' }), { name: 'program.cjs', late: '123' });
    assert.ok(existsSync(help), 'another way of running it keeps its own cache');
    // A run that failed leaves no cache: it compiled little of what the next run needs, and an accepted cache stays.
    const failing = join(dir, 'failing.cjs');
    writeFileSync(failing, 'process.exitCode = 2; module.exports = 0;');
    const failed = join(dir, 'cache', 'failed.v8cache');
    const script = `import { requireWithCodeCache } from ${JSON.stringify(join(process.cwd(), 'src/core/code-cache.ts'))};
      requireWithCodeCache(${JSON.stringify(failing)}, ${JSON.stringify({ cacheFile: failed, take: 'exit' })});`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(!existsSync(failed), 'a run that exited 2 wrote a cache');
  });
});
