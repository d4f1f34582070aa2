// Loading a large CommonJS file with V8's code cache kept beside it. Node 22.1+ keeps a compile cache of every module
// itself (`module.enableCompileCache`, turned on by the bin); Node 20 has none, and DuckDB's JavaScript API (one
// 460 KB file once bundled) took 25–45 ms of every DuckDB command's start to compile and run on this machine.
//
// Why not the `v8-compile-cache` package: it takes the cache when the file is compiled, before it runs, so the
// functions the module's own start compiles lazily are not in it (measured: 20–26 ms with it, 13 ms with a cache
// taken after the run). The cache is V8's own: V8 refuses data from another V8 version or other flags (`cachedDataRejected`),
// and the file then loads as without it and the cache is written again.
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** Where the code cache of `file` is kept (unless the caller names another place). */
export const codeCacheFile = (file: string): string => `${file}.v8cache`;

export interface CodeCacheOptions {
  /** Where the cache is kept: `codeCacheFile(file)` unless said (a program run several ways keeps one cache a way). */
  cacheFile?: string;
  /**
   * When a missing or refused cache is taken: `load` right after the file ran (a library: what its start compiled),
   * `exit` when the process exits with 0 (a program: everything the run compiled, which is what the next run of it
   * needs).
   */
  take?: 'load' | 'exit';
}

/**
 * A package or built-in module, as `import()` loads it. Code compiled from a V8 code cache cannot call `import()` on
 * Node 20 (the loader's callback is lost with the cache, and giving one needs --experimental-vm-modules): a file loaded
 * here calls `__import(specifier)` instead — the build writes the CLI's bundle so. Bare specifiers only (packages and
 * `node:` modules): they resolve from here as from any file of this package.
 */
declare const __import: ((specifier: string) => Promise<unknown>) | undefined;
// Inside the CLI's bundle this module is itself code from a cache: it passes on the `__import` it was given.
const importModule: (specifier: string) => Promise<unknown> = typeof __import === 'function' ? __import : (specifier) => import(specifier);

/**
 * `require(file)` of a CommonJS file (absolute path) through its code cache. The cache is written when missing or
 * refused and the folder is writable; a read-only install runs without it. Not entered in `require.cache`: callers
 * keep what it returns. The file calls `__import(specifier)` where it would call `import()` (above).
 */
export function requireWithCodeCache(file: string, options: CodeCacheOptions = {}): unknown {
  const cacheFile = options.cacheFile ?? codeCacheFile(file);
  const bytes = readFileSync(file);
  // A bundle is ASCII (esbuild escapes the rest): read as such, skipping UTF-8's decoding (a fifth of the load).
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  // V8 checks the source's length, not its content: the cache starts with the source's digest, and is used only for it.
  const digest = createHash('sha1').update(bytes).digest();
  let cachedData: Buffer | undefined;
  try {
    const stored = readFileSync(cacheFile);
    cachedData = stored.subarray(0, digest.length).equals(digest) ? stored.subarray(digest.length) : undefined;
  } catch {
    cachedData = undefined;
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __import) {${source}\n});`, {
    filename: file,
    cachedData,
  });
  const take = () => {
    const temp = `${cacheFile}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      writeFileSync(temp, Buffer.concat([digest, script.createCachedData()]));
      renameSync(temp, cacheFile);
    } catch {
      // A read-only install: every start compiles, as without a cache.
      rmSync(temp, { force: true });
    }
  };
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  // Only a run that succeeded: a first run that stopped at a usage error compiled little of what the command needs,
  // and a cache V8 accepts is never taken again.
  if (stale && options.take === 'exit') process.once('exit', (code) => code === 0 && take());
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
    importModule: (specifier: string) => Promise<unknown>,
  ) => void;
  const module = { exports: {} as unknown };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importModule);
  // Taken now, after the module ran: it holds the functions its start compiled.
  if (stale && options.take !== 'exit') take();
  return module.exports;
}
