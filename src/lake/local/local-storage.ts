import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { FinmeshError } from '../../core/errors.js';
import type { LakeStorage } from '../storage.js';

/** The lake in a local folder. Staging lives inside the lake (`.staging/`) so a commit is a same-filesystem rename. */
export class LocalStorage implements LakeStorage {
  readonly kind = 'local';
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = this.root;
    mkdirSync(this.root, { recursive: true });
  }

  readPath(key: string): string {
    return this.resolveKey(key);
  }

  async stagingDir(): Promise<string> {
    const dir = join(this.root, '.staging', randomUUID());
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async commit(stagedFile: string, key: string): Promise<number> {
    const target = this.resolveKey(key);
    await mkdir(dirname(target), { recursive: true });
    const fh = await open(stagedFile, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(stagedFile, target);
    await syncDir(dirname(target));
    return (await stat(target)).size;
  }

  async discard(stagingDir: string): Promise<void> {
    await rm(stagingDir, { recursive: true, force: true });
  }

  async delete(key: string): Promise<void> {
    await rm(this.resolveKey(key), { force: true });
  }

  readableRoots(): string[] {
    return [this.root];
  }

  private resolveKey(key: string): string {
    const p = resolve(this.root, key);
    if (!p.startsWith(this.root + sep)) throw new FinmeshError('PERMISSION', `lake key escapes the lake root: ${key}`);
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
