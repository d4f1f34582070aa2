/**
 * Where lake files live. Keys are relative: `<domain>/<zone>/<dataset>/dt=YYYY-MM-DD/part-<id>.parquet`.
 *
 * The engine writes a file to a staging path first; `commit` makes it visible under its key atomically.
 * Names starting with `_` or `.` are never data (DESIGN §6).
 */
export interface LakeStorage {
  readonly kind: string;
  /** Human-readable location of the lake root (a folder, or `gs://bucket/prefix`). */
  readonly location: string;
  /** The path or URL the engine reads the object at `key` from. */
  readPath(key: string): string;
  /** A fresh scratch folder the engine may write into before committing; removed by `discard`. */
  stagingDir(): Promise<string>;
  /**
   * Makes `stagedFile` visible under `key`: durable first (fsync), then atomic (rename). Replaces an object
   * with the same key, which is how a replayed batch overwrites itself. Returns the size in bytes.
   */
  commit(stagedFile: string, key: string): Promise<number>;
  /** Removes a staging folder and whatever is left in it. */
  discard(stagingDir: string): Promise<void>;
  /** Deletes an object; absent objects are not an error. */
  delete(key: string): Promise<void>;
  /** Every folder the engine may read from, for sandboxing user queries. */
  readableRoots(): string[];
}
