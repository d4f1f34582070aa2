import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { FinmeshError } from '../../core/errors.js';
import { type LakeObject, type LakeStorage, STAGING_PREFIX } from '../storage.js';

/** The lake in a local folder. Staging lives inside the lake (`.staging/`) so a commit is a same-filesystem rename. */
export class LocalStorage implements LakeStorage {
  readonly kind = 'local';
  readonly location: string;
  private readonly root: string;

  /** The folder is made by the first write (a staging folder, a commit): a command that only reads leaves no lake behind. */
  constructor(root: string) {
    this.root = resolve(root);
    this.location = this.root;
  }

  readPath(key: string): string {
    return this.resolveKey(key);
  }

  async stagingDir(): Promise<string> {
    const dir = join(this.root, STAGING_PREFIX, randomUUID());
    await io(`cannot create a staging folder in ${this.root}`, () => mkdir(dir, { recursive: true }));
    return dir;
  }

  async commit(stagedFile: string, key: string): Promise<number> {
    const target = this.resolveKey(key);
    return io(`cannot commit ${stagedFile} as ${key} in ${this.root}`, async () => {
      const fh = await open(stagedFile, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(dirname(target), { recursive: true });
      await rename(stagedFile, target);
      await syncDir(dirname(target));
      return (await stat(target)).size;
    });
  }

  async discard(stagingDir: string): Promise<void> {
    await io(`cannot remove ${stagingDir}`, () => rm(stagingDir, { recursive: true, force: true }));
  }

  async delete(key: string): Promise<void> {
    const path = this.resolveKey(key);
    await io(`cannot delete ${key} in ${this.root}`, () => rm(path, { force: true }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw new FinmeshError('PERMISSION', `refusing to delete the whole lake (${this.root}): give a prefix`);
    let n = 0;
    if (prefix.endsWith('/')) {
      const dir = this.resolveKey(prefix.slice(0, -1));
      for await (const _ of this.list(prefix)) n++;
      await io(`cannot delete ${prefix} in ${this.root}`, () => rm(dir, { recursive: true, force: true }));
      return n;
    }
    for await (const o of this.list(prefix)) {
      await this.delete(o.key);
      n++;
    }
    return n;
  }

  async *list(prefix: string): AsyncIterable<LakeObject> {
    const slash = prefix.lastIndexOf('/');
    const folder = slash < 0 ? '' : prefix.slice(0, slash);
    const dir = folder === '' ? this.root : this.resolveKey(folder);
    yield* this.walk(dir, folder === '' ? '' : `${folder}/`, prefix);
  }

  readableRoots(): string[] {
    return [this.root];
  }

  /** Files under `dir` (whose keys start with `base`) with keys starting with `prefix`; folders that cannot match are skipped. */
  private async *walk(dir: string, base: string, prefix: string): AsyncGenerator<LakeObject> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw unavailable(`cannot list ${dir}`, e);
    }
    for (const entry of entries) {
      const key = `${base}${entry.name}`;
      if (entry.isDirectory()) {
        const folder = `${key}/`;
        if (folder.startsWith(prefix) || prefix.startsWith(folder)) yield* this.walk(join(dir, entry.name), folder, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const s = await stat(join(dir, entry.name));
          yield { key, size: s.size, mtime: s.mtime };
        } catch (e) {
          // Deleted while listing: it is simply not there any more.
          if (!isMissing(e)) throw unavailable(`cannot stat ${join(dir, entry.name)}`, e);
        }
      }
    }
  }

  private resolveKey(key: string): string {
    const segments = key.split('/');
    const p = resolve(this.root, key);
    if (key.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..') || !p.startsWith(this.root + sep)) {
      throw new FinmeshError('PERMISSION', `lake key escapes the lake root: ${key}`);
    }
    return p;
  }
}

/** fsync of the folder makes the rename itself durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const isMissing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

function unavailable(what: string, cause: unknown): FinmeshError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new FinmeshError('PERMISSION', `${what}: ${(cause as Error).message}`, { cause });
  if (isMissing(cause)) return new FinmeshError('NOT_FOUND', `${what}: ${(cause as Error).message}`, { cause });
  return new FinmeshError('UNAVAILABLE', `${what}: ${(cause as Error).message}`, { cause });
}

/** Runs a filesystem operation, turning its errors into `FinmeshError`s that say what was being done. */
async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof FinmeshError ? e : unavailable(what, e);
  }
}
