/**
 * A place partner files arrive: an SFTP server today, a bucket or an HTTP drop tomorrow. The ingest job lists it,
 * decides which files are complete, downloads them, and after committing their rows tells the source what to do
 * with each file. A source knows nothing of ledgers, formats or the lake.
 *
 * Errors are `FinmeshError`s. `PERMISSION` (the server's identity does not match the pinned one, or it refused the
 * credentials or the operation), `NOT_FOUND` (no such file or folder) and `CONFIG_INVALID` are final: thrown at
 * once, never retried. Anything else (`TIMEOUT` when the server stopped answering, `UNAVAILABLE` for whatever the
 * network or server did) the adapter retries with backoff; when its attempts are spent it throws `UNAVAILABLE`
 * saying how many it made, with the last error as the cause. An absent file asked about with `stat` is a value
 * (`undefined`), not an error.
 *
 * Calls may overlap: an adapter bounds its own concurrency (connections, requests) and queues the rest, so a
 * caller may start every download of a cycle at once.
 */
export interface FileSource {
  /** The adapter's kind, as in a source's config (`sftp`). */
  readonly kind: string;
  /**
   * Where the files are, as a URI without credentials or path (`sftp://host:port`), for messages and lineage.
   * It is the address the adapter connects to: for an embedded server, the port it listens on this time.
   */
  readonly location: string;
  /**
   * The regular files in folder `path` (and, with `recursive`, in every folder below it), each with its full remote
   * path (`path` + `/` + name), size in bytes and modification time, sorted by path. Folders and whatever else is
   * not a regular file are left out. Names are as the adapter shows them: an SFTP name that is not printable UTF-8
   * is escaped (`\\xHH`, see `sftp/raw-names.ts`), and every other call takes the path in that form. Throws
   * `NOT_FOUND` when there is no folder `path`, `DATA_INVALID` past `DEFAULT_MAX_LIST_ENTRIES`.
   */
  list(path: string, options?: ListOptions): Promise<RemoteFile[]>;
  /** The file at `path`; `undefined` when there is none (absent, or a folder). */
  stat(path: string): Promise<RemoteFile | undefined>;
  /**
   * Downloads the file at `path`, of `expectedSize` bytes (as listed), into `localFile`, resuming: when `localFile`
   * already holds a prefix of the file (a download cut short earlier), only the rest is fetched; a `localFile`
   * longer than `expectedSize` is started over. On failure `localFile` is left holding an exact prefix of the remote
   * file (never bytes past a gap), so the next call resumes from there. Resolves with the bytes this call added to
   * `localFile` (0 when it was already whole). The caller keys `localFile` by path, size and mtime, so a prefix
   * of an older version is never resumed; two calls must not write the same `localFile` at once.
   * Transient failures are retried by the adapter (resuming each time); throws `NOT_FOUND` when the file is gone,
   * `UNAVAILABLE` (saying how far it got) when attempts run out or the file ends before `expectedSize`.
   */
  download(path: string, localFile: string, expectedSize: number): Promise<number>;
  /**
   * What becomes of a file once its rows are committed: `leave` it, `delete` it, or `move` it into `archivePath`
   * (default: `DEFAULT_ARCHIVE_FOLDER` in the file's own folder), keeping its name and creating the folder if
   * needed. Not retried: a refusal (the archive holds a file of that name, no permission) throws, and the caller
   * decides what that means — the ingest job records a warning, since the rows are committed either way.
   */
  afterCommit(path: string, action: AfterCommitAction, archivePath?: string): Promise<void>;
  /** Releases connections (and whatever the source started, such as an embedded server). Idempotent. */
  close(): Promise<void>;
}

export interface ListOptions {
  /** Descend into subfolders (default `false`). */
  recursive?: boolean;
  /**
   * Entries the source will not hand out, each with why: a name that is not a plain file name (it holds `/`, or is
   * empty: a server listing `../x` would have the caller open files outside the folder), a folder already listed
   * (a loop through links), a folder deeper than `DEFAULT_MAX_LIST_DEPTH` below `path`. Not called for `.` and `..`.
   */
  onRefused?: (path: string, reason: string) => void;
}

/** Folders below the listed one a recursive listing descends into at most. */
export const DEFAULT_MAX_LIST_DEPTH = 32;
/** Entries one listing reads at most: past it `list` throws `DATA_INVALID` (narrow the path). */
export const DEFAULT_MAX_LIST_ENTRIES = 200_000;

export interface RemoteFile {
  /** Full remote path, as the source names it (`/outbound/EDI_20261126_001.txt`). */
  path: string;
  /** Bytes. */
  size: number;
  /** Last modification, to the precision the server keeps (whole seconds over SFTP). */
  mtime: Date;
}

export const AFTER_COMMIT_ACTIONS = ['leave', 'move', 'delete'] as const;
export type AfterCommitAction = (typeof AFTER_COMMIT_ACTIONS)[number];

/** Where `afterCommit(path, 'move')` puts a file when no archive path is given: this folder beside it. */
export const DEFAULT_ARCHIVE_FOLDER = 'archive';
/** Connections (or parallel transfers) an adapter opens at most, unless told otherwise. */
export const DEFAULT_MAX_CONNECTIONS = 2;
/** Attempts an adapter makes to connect or download (the first included) before it gives up. */
export const DEFAULT_ATTEMPTS = 3;
/**
 * How long an adapter waits for any one answer from the server (a listing page, a stat, a block of a download)
 * before it gives the connection up as stalled (`TIMEOUT`, retried on a fresh connection).
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The archive folder `afterCommit(path, 'move', archivePath)` moves `path` into. */
export function archiveFolder(path: string, archivePath?: string): string {
  if (archivePath !== undefined) return archivePath.replace(/\/+$/, '') || '/';
  const slash = path.lastIndexOf('/');
  return `${slash < 0 ? '.' : path.slice(0, slash)}/${DEFAULT_ARCHIVE_FOLDER}`;
}
