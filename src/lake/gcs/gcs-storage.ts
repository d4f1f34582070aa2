import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bucket, GetFilesResponse, Storage } from '@google-cloud/storage';
import { FinmeshError } from '../../core/errors.js';
import type { LakeObject, LakeStorage, StagingFolder } from '../storage.js';

export interface GcsStorageOptions {
  bucket: string;
  /** Folder in the bucket the lake lives under: '' or a path ending in `/`. */
  prefix?: string | undefined;
  /** The project that owns the bucket; Application Default Credentials' project when absent. */
  projectId?: string | undefined;
  /** The folder staging folders are created in (default: the OS temporary folder). */
  stagingRoot?: string | undefined;
}

/** Object metadata key holding the SHA-256 (hex) of an object's bytes, set on every commit. */
export const SHA256_METADATA = 'finmesh-sha256';

/**
 * The lake in a Cloud Storage bucket. Staging is a local folder (the engine writes there); `commit` uploads the
 * staged file in one request (an object appears whole or not at all), checked by CRC32C, with a generation
 * precondition so two writers racing on a key never interleave unnoticed, and the file's SHA-256 in the object's
 * metadata (`finmesh-sha256`), so landing files keep their hash beside their unchanged bytes. Credentials are
 * Application Default Credentials; STORAGE_EMULATOR_HOST points the client at a stand-in (fake-gcs-server).
 */
export class GcsStorage implements LakeStorage {
  readonly kind = 'gcs';
  readonly location: string;
  private readonly prefix: string;

  private constructor(
    private readonly bucket: Bucket,
    prefix: string,
    private readonly stagingRoot: string,
  ) {
    this.prefix = prefix;
    this.location = `gs://${bucket.name}/${prefix}`;
  }

  static async create(options: GcsStorageOptions): Promise<GcsStorage> {
    const prefix = options.prefix ?? '';
    if (
      prefix !== '' &&
      (!prefix.endsWith('/') ||
        prefix
          .split('/')
          .slice(0, -1)
          .some((s) => s === '' || s === '.' || s === '..'))
    )
      throw new FinmeshError('CONFIG_INVALID', `lake.prefix: expected '' or a folder path ending in /, found ${JSON.stringify(prefix)}`);
    const { Storage } = await import('@google-cloud/storage');
    const client: Storage = new Storage({ ...(options.projectId ? { projectId: options.projectId } : {}), ...emulatorEndpoint() });
    const emulator = emulatorRoot();
    // The client takes STORAGE_EMULATOR_HOST as its JSON API base verbatim and its uploads from the host: both must
    // agree whether the variable is given as `http://host:port` (the usual form) or with `/storage/v1`.
    if (emulator) client.baseUrl = `${emulator}/storage/v1`;
    const bucket = client.bucket(options.bucket);
    try {
      const [exists] = await bucket.exists();
      if (!exists)
        throw new FinmeshError('NOT_FOUND', `the lake's bucket gs://${options.bucket} does not exist (finmesh iac terraform creates it)`);
    } catch (e) {
      throw e instanceof FinmeshError ? e : gcsError(`cannot reach the lake's bucket gs://${options.bucket}`, e);
    }
    // One staging area per lake (bucket and prefix): gc of one project never sweeps another's staging on this machine.
    const lake = `${options.bucket}${prefix ? `__${prefix.replace(/[^A-Za-z0-9._-]+/g, '_')}` : ''}`;
    const stagingRoot = options.stagingRoot ?? join(tmpdir(), 'finmesh-staging', lake);
    return new GcsStorage(bucket, prefix, stagingRoot);
  }

  readPath(key: string): string {
    return `gs://${this.bucket.name}/${this.objectName(key)}`;
  }

  async stagingDir(): Promise<string> {
    const dir = join(this.stagingRoot, randomUUID());
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new FinmeshError('UNAVAILABLE', `cannot create a staging folder in ${this.stagingRoot}: ${(e as Error).message}`, { cause: e });
    }
    return dir;
  }

  async commit(stagedFile: string, key: string): Promise<number> {
    const name = this.objectName(key);
    let size: number;
    try {
      size = (await stat(stagedFile)).size;
    } catch (e) {
      throw new FinmeshError('NOT_FOUND', `cannot commit ${stagedFile} as ${key}: the staged file does not exist`, { cause: e });
    }
    const sha256 = await hashFile(stagedFile);
    // The precondition is the generation seen just before: a racing writer makes this upload fail (412) instead
    // of silently interleaving; one retry re-reads it (the last writer of the same batch wins, whole).
    for (let attempt = 1; ; attempt++) {
      const generation = await this.generationOf(name);
      try {
        await this.bucket.upload(stagedFile, {
          destination: name,
          resumable: false,
          validation: 'crc32c',
          preconditionOpts: { ifGenerationMatch: generation },
          metadata: { contentType: contentType(key), metadata: { [SHA256_METADATA]: sha256 } },
        });
        break;
      } catch (e) {
        if (statusOf(e) === 412 && attempt < 3) continue;
        throw gcsError(`cannot commit ${key} to ${this.location}`, e);
      }
    }
    await rm(stagedFile, { force: true });
    return size;
  }

  async discard(stagingDir: string): Promise<void> {
    try {
      await rm(stagingDir, { recursive: true, force: true });
    } catch (e) {
      throw new FinmeshError('UNAVAILABLE', `cannot remove ${stagingDir}: ${(e as Error).message}`, { cause: e });
    }
  }

  async delete(key: string): Promise<void> {
    const name = this.objectName(key);
    try {
      await this.bucket.file(name).delete({ ignoreNotFound: true });
    } catch (e) {
      throw gcsError(`cannot delete ${key} in ${this.location}`, e);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw new FinmeshError('PERMISSION', `refusing to delete the whole lake (${this.location}): give a prefix`);
    this.checkPrefix(prefix);
    let n = 0;
    for await (const o of this.list(prefix)) {
      await this.delete(o.key);
      n++;
    }
    return n;
  }

  async *list(prefix: string): AsyncIterable<LakeObject> {
    this.checkPrefix(prefix);
    let pageToken: string | undefined;
    do {
      let page: GetFilesResponse;
      try {
        page = await this.bucket.getFiles({ prefix: this.prefix + prefix, autoPaginate: false, maxResults: 1000, pageToken });
      } catch (e) {
        throw gcsError(`cannot list ${prefix} in ${this.location}`, e);
      }
      const [files, next] = page;
      for (const f of files) {
        const m = f.metadata;
        yield {
          key: f.name.slice(this.prefix.length),
          size: Number(m.size ?? 0),
          mtime: new Date(String(m.updated ?? m.timeCreated ?? 0)),
        };
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  readableRoots(): string[] {
    return [this.location];
  }

  async localStagingFolders(): Promise<StagingFolder[]> {
    let names: string[];
    try {
      names = (await readdir(this.stagingRoot, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new FinmeshError('UNAVAILABLE', `cannot list the staging folders in ${this.stagingRoot}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const out: StagingFolder[] = [];
    for (const name of names.sort()) {
      const path = join(this.stagingRoot, name);
      try {
        // As in the lake: the last write is the newest file's (an empty folder: its own time).
        const folder: StagingFolder = { path, objects: 0, bytes: 0, lastWrite: new Date(0) };
        for (const e of await readdir(path, { recursive: true, withFileTypes: true })) {
          if (!e.isFile()) continue;
          const s = await stat(join(e.parentPath, e.name));
          if (s.mtime > folder.lastWrite) folder.lastWrite = s.mtime;
          folder.objects++;
          folder.bytes += s.size;
        }
        if (folder.objects === 0) folder.lastWrite = (await stat(path)).mtime;
        out.push(folder);
      } catch (e) {
        // Discarded while being listed: its writer finished.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new FinmeshError('UNAVAILABLE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    return out;
  }

  /** The object's generation, or 0 when it does not exist (the precondition "must not exist"). */
  private async generationOf(name: string): Promise<number> {
    try {
      const [m] = await this.bucket.file(name).getMetadata();
      return Number(m.generation ?? 0);
    } catch (e) {
      if (statusOf(e) === 404) return 0;
      throw gcsError(`cannot read ${name} in gs://${this.bucket.name}`, e);
    }
  }

  private objectName(key: string): string {
    if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..'))
      throw new FinmeshError('PERMISSION', `lake key escapes the lake root: ${key}`);
    return this.prefix + key;
  }

  /** A list or delete prefix: '' (everything) or the start of a key, which must not climb out of the lake. */
  private checkPrefix(prefix: string): void {
    if (prefix === '') return;
    const segments = prefix.split('/');
    const whole = prefix.endsWith('/') ? segments.slice(0, -1) : segments;
    if (prefix.startsWith('/') || whole.some((s, i) => s === '.' || s === '..' || (s === '' && i < whole.length - 1)))
      throw new FinmeshError('PERMISSION', `lake key escapes the lake root: ${prefix}`);
  }
}

/** STORAGE_EMULATOR_HOST without a trailing `/storage/v1`, when set. */
function emulatorRoot(): string | undefined {
  const host = process.env.STORAGE_EMULATOR_HOST;
  if (!host) return undefined;
  const withScheme = /^https?:\/\//.test(host) ? host : `http://${host}`;
  return withScheme.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
}

function emulatorEndpoint(): { apiEndpoint?: string } {
  const root = emulatorRoot();
  return root ? { apiEndpoint: root } : {};
}

function contentType(key: string): string {
  if (key.endsWith('.parquet')) return 'application/vnd.apache.parquet';
  return 'application/octet-stream';
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** The client's error as a FinmeshError: 404 NOT_FOUND, 401/403 PERMISSION, 409/412 CONFLICT, else UNAVAILABLE. */
function gcsError(what: string, cause: unknown): FinmeshError {
  const status = statusOf(cause);
  const message = `${what}: ${(cause as Error).message}`;
  if (status === 404) return new FinmeshError('NOT_FOUND', message, { cause });
  if (status === 401 || status === 403) return new FinmeshError('PERMISSION', message, { cause });
  if (status === 409 || status === 412) return new FinmeshError('CONFLICT', message, { cause });
  return new FinmeshError('UNAVAILABLE', message, { cause });
}
