/**
 * Where lake files live. Keys are relative and `/`-separated: `<domain>/<zone>/<dataset>/dt=YYYY-MM-DD/part-<id>.parquet`
 * (`layout.ts`). A key that is absolute, has an empty, `.` or `..` segment, or otherwise resolves outside the lake
 * root is refused with a `FinmeshError` `PERMISSION` by every member that takes one.
 *
 * The engine writes a file to a staging folder first; `commit` makes it visible under its key atomically. Names
 * starting with `_` or `.` are never data (DESIGN §6): readers of the lake skip them, and staging lives in one
 * (`STAGING_PREFIX`, for adapters whose staging is inside the lake).
 *
 * Which objects are a dataset's content is decided by the metadata store's manifest, never by listing: `list` exists
 * for garbage collection (`gc.ts`), which deletes what the manifest has retired and finds what it does not know.
 */
export interface LakeStorage {
  /** The adapter: `local`, then `gcs`. */
  readonly kind: string;
  /** Human-readable location of the lake root (a folder, or `gs://bucket/prefix`), for messages. */
  readonly location: string;
  /** The path or URL the engine reads the object at `key` from. Pure: the object need not exist. */
  readPath(key: string): string;
  /**
   * A fresh, empty scratch folder on the local filesystem the engine may write into before committing; removed by
   * `discard`. The local adapter creates it under `STAGING_PREFIX` inside the lake, so a commit is a rename on one
   * filesystem and a folder left by a crash is visible to `list` (garbage collection removes it once old).
   */
  stagingDir(): Promise<string>;
  /**
   * Makes `stagedFile` visible under `key`: durable first (the file's bytes are synced), then atomic (a reader sees
   * no object or the whole object, never part of it), and the staged file is gone afterwards. Replaces an object
   * with the same key, which is how a replayed batch overwrites itself. Returns the object's size in bytes.
   *
   * The caller records the key in the metadata store only after this resolves (commit protocol, DESIGN §6).
   * Throws `NOT_FOUND` when `stagedFile` does not exist (an object already under `key` is left as it was),
   * `PERMISSION` for a key outside the lake, `UNAVAILABLE` when storage fails.
   */
  commit(stagedFile: string, key: string): Promise<number>;
  /** Removes a folder returned by `stagingDir` and whatever is left in it. Idempotent. */
  discard(stagingDir: string): Promise<void>;
  /**
   * Deletes the object under `key`. Idempotent: an absent object is not an error. Folders the object leaves empty
   * may stay (they hold no data, and a concurrent commit may be about to write into them). Throws `PERMISSION` for a
   * key outside the lake, `UNAVAILABLE` when storage fails.
   */
  delete(key: string): Promise<void>;
  /**
   * Deletes every object whose key starts with `prefix` and returns how many there were. Idempotent (0 when none).
   * With a prefix ending in `/` (a folder), the local adapter removes the folder too. Meant for folders nobody
   * writes into any more (an abandoned staging folder). Throws `PERMISSION` for an empty prefix (the whole lake) or
   * one outside the lake, `UNAVAILABLE` when storage fails.
   */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Every object whose key starts with `prefix` (`''`: the whole lake), in no particular order. Ignores nothing:
   * hidden names (`.staging/`, `_tmp`) and objects the manifest does not know are listed too. An object deleted
   * while the listing runs may or may not appear; an absent prefix lists nothing. Throws `PERMISSION` for a prefix
   * outside the lake, `UNAVAILABLE` when storage fails.
   */
  list(prefix: string): AsyncIterable<LakeObject>;
  /** Every folder the engine may read from, for sandboxing user queries. */
  readableRoots(): string[];
  /**
   * Only for adapters whose staging folders are outside the lake (GCS: on the local disk), which `list` therefore
   * does not show: every such folder of this machine, with what it holds and when it was last written, so garbage
   * collection sweeps abandoned ones as it sweeps `STAGING_PREFIX` in the lake. A folder is removed with `discard`.
   * Throws `UNAVAILABLE` when the folders cannot be read.
   */
  localStagingFolders?(): Promise<StagingFolder[]>;
}

/** A staging folder outside the lake, as `LakeStorage.localStagingFolders` reports it. */
export interface StagingFolder {
  /** The folder, as `stagingDir` returned it and `discard` takes it. */
  path: string;
  objects: number;
  bytes: number;
  /** The newest modification time of the files in it (of the folder itself when it holds none). */
  lastWrite: Date;
}

/** An object in the lake, as `LakeStorage.list` reports it. */
export interface LakeObject {
  /** Relative to the lake root, `/`-separated. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** When the object was last written (local: the file's mtime; GCS: the object's `updated`). */
  mtime: Date;
}

/** The key prefix of staging folders, for adapters that stage inside the lake. Hidden: never data. */
export const STAGING_PREFIX = '.staging/';
