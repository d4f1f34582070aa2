import { addUsage } from '../core/usage.js';
import type { LakeObject, LakeStorage, StagingFolder } from '../lake/storage.js';

/**
 * Lake storage that meters what is written to it: each committed object is a `storage.objects_written` (a Cloud
 * Storage class A operation) and its bytes `storage.bytes_written`, by zone, charged to the usage scope of the work
 * that wrote it (`core/usage`). Everything else passes through.
 */
export class MeteredStorage implements LakeStorage {
  constructor(private readonly inner: LakeStorage) {}

  get kind(): string {
    return this.inner.kind;
  }
  get location(): string {
    return this.inner.location;
  }
  readPath(key: string): string {
    return this.inner.readPath(key);
  }
  stagingDir(): Promise<string> {
    return this.inner.stagingDir();
  }
  async commit(stagedFile: string, key: string): Promise<number> {
    const bytes = await this.inner.commit(stagedFile, key);
    const zone = key.split('/')[1] ?? 'unknown';
    addUsage('storage.objects_written', 1, { zone });
    addUsage('storage.bytes_written', bytes, { zone });
    return bytes;
  }
  discard(stagingDir: string): Promise<void> {
    return this.inner.discard(stagingDir);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  deletePrefix(prefix: string): Promise<number> {
    return this.inner.deletePrefix(prefix);
  }
  list(prefix: string): AsyncIterable<LakeObject> {
    return this.inner.list(prefix);
  }
  readableRoots(): string[] {
    return this.inner.readableRoots();
  }
  async localStagingFolders(): Promise<StagingFolder[]> {
    return (await this.inner.localStagingFolders?.()) ?? [];
  }
}
