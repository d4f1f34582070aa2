// Loading a large CommonJS file with V8's code cache kept beside it. Node 22.1+ keeps a compile cache of every module
// itself (`module.enableCompileCache`, turned on by the bin); Node 20 has none, and DuckDB's JavaScript API (one
// 460 KB file once bundled) took 25–45 ms of every DuckDB command's start to compile and run on this machine.
//
// Why not the `v8-compile-cache` package: it takes the cache when the file is compiled, before it runs, so the
// functions the module's own start compiles lazily are not in it (measured: 20–26 ms with it, 13 ms with a cache
// taken after the run). The cache is V8's own: V8 refuses data from another V8 version or other flags (`cachedDataRejected`),
// and the file then loads as without it and the cache is written again.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** Where the code cache of `file` is kept. */
export const codeCacheFile = (file: string): string => `${file}.v8cache`;

/**
 * `require(file)` of a CommonJS file (absolute path) through its code cache. The cache is written when missing or
 * refused and the folder is writable; a read-only install runs without it. Not entered in `require.cache`: callers
 * keep what it returns.
 */
export function requireWithCodeCache(file: string): unknown {
  const cacheFile = codeCacheFile(file);
  const source = readFileSync(file, 'utf8');
  // V8 checks the source's length, not its content: the cache starts with the source's digest, and is used only for it.
  const digest = createHash('sha1').update(source).digest();
  let cachedData: Buffer | undefined;
  try {
    const stored = readFileSync(cacheFile);
    cachedData = stored.subarray(0, digest.length).equals(digest) ? stored.subarray(digest.length) : undefined;
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  const module = { exports: {} as unknown };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  if (cachedData === undefined || script.cachedDataRejected) {
    // Taken now, after the module ran: it holds the functions its start compiled.
    const temp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, Buffer.concat([digest, script.createCachedData()]));
      renameSync(temp, cacheFile);
    } catch {
      // A read-only install: every start compiles, as without a cache.
      rmSync(temp, { force: true });
    }
  }
  return module.exports;
}
