/**
 * The metadata store: runs, the lake's file manifest, dataset state, source checkpoints and the partner-file
 * ledger. One port, an adapter per place it runs (SQLite embedded; PostgreSQL to follow).
 *
 * Invariant: a dataset's readable content is exactly its `live` files. A writer commits a file to storage
 * first and records it here second, in one transaction with the files it replaces; readers list files here,
 * never by globbing storage, so a half-written or replaced file is never read.
 */
export interface MetadataStore {
  /** Records the start of a run. Throws if the id exists. */
  startRun(run: RunStart): void;
  /** Records the end of a run; `error` is required when `status` is `failed`. */
  finishRun(runId: string, end: RunEnd): void;
  listRuns(filter?: { job?: string; limit?: number; parentRunId?: string }): RunRecord[];

  /**
   * Atomically adds files to a dataset and retires the ones they replace, and optionally stores the dataset's
   * schema and input positions. Returns the commit sequence number of the added files.
   */
  commitFiles(commit: FileCommit): number;
  /** The files a reader sees, in commit order. */
  liveFiles(dataset: string): LakeFile[];
  /** Times files were committed to a dataset since `since` (retired ones included), oldest first. */
  commitTimes(dataset: string, since: Date): Date[];
  /** Every dataset with at least one live file, with row totals. */
  datasetSummaries(): DatasetSummary[];
  /** Retired files whose storage objects may now be deleted. */
  retiredFiles(olderThanMs: number): LakeFile[];
  forgetFiles(keys: string[]): void;

  datasetState(dataset: string): DatasetState | undefined;

  getCheckpoint(source: string): string | undefined;
  /** When the checkpoint last moved (its age is a freshness signal). */
  checkpointUpdatedAt(source: string): Date | undefined;
  setCheckpoint(source: string, value: string): void;

  /** Partner-file ledger: a file identified by its content hash and where it was seen. */
  ledgerFind(source: string, sha256: string): LedgerEntry | undefined;
  ledgerRecord(entry: LedgerEntry): void;
  /** The hash last ingested under a path, to flag a changed file with the same name. */
  ledgerPath?(source: string, path: string): string | undefined;
  /** Files ingested per UTC day (`YYYY-MM-DD`) since `since`, and when the source was first seen at all. */
  ledgerDays(source: string, since: Date): { firstSeen: Date | undefined; ingested: Map<string, number> };

  recordCheckResults(results: CheckResultRecord[]): void;
  /** Results since `since`, newest first. */
  checkResults(filter?: { product?: string; since?: Date }): CheckResultRecord[];

  /** Appends an OpenLineage event (finmesh's own or received from another producer). */
  recordLineage(event: LineageEventRecord): void;
  /** Every stored event in arrival order. */
  lineageEvents(): LineageEventRecord[];

  close(): void;
}

export interface CheckResultRecord {
  runId: string;
  checkId: string;
  product: string;
  column: string | undefined;
  rule: string;
  severity: 'error' | 'warning';
  status: 'pass' | 'fail' | 'error' | 'skipped';
  value: number | undefined;
  expected: string;
  message: string;
  at: Date;
}

export interface LineageEventRecord {
  runId: string;
  eventType: string;
  eventTime: string;
  jobNamespace: string;
  jobName: string;
  /** The event as received or emitted (JSON). */
  event: unknown;
}

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunStart {
  runId: string;
  job: string;
  /** What kind of job: `model`, `ingest`, `stream`, `check`, `demo`, `run`. */
  kind: string;
  parentRunId?: string | undefined;
  startedAt: Date;
}

export interface RunEnd {
  status: Exclude<RunStatus, 'running'>;
  endedAt: Date;
  rowsIn?: number;
  rowsOut?: number;
  rowsRejected?: number;
  error?: string;
}

export interface RunRecord extends RunStart {
  status: RunStatus;
  endedAt: Date | undefined;
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  error: string | undefined;
}

export interface LakeFile {
  seq: number;
  dataset: string;
  /** Storage key, relative to the lake root. */
  key: string;
  partition: string | undefined;
  rows: number;
  bytes: number;
  runId: string;
  committedAt: Date;
}

export interface FileCommit {
  dataset: string;
  runId: string;
  add: { key: string; partition?: string | undefined; rows: number; bytes: number }[];
  /** Storage keys of live files this commit replaces. */
  replace: string[];
  /** Column names and types of the dataset, as the engine reports them. */
  schema?: { name: string; type: string }[];
  /** For incremental models: the last commit seq consumed from each input dataset. */
  inputs?: Record<string, number>;
  /** A source checkpoint that moves in the same transaction: the files and the position commit together. */
  checkpoint?: { source: string; value: string } | undefined;
}

export interface DatasetSummary {
  dataset: string;
  files: number;
  rows: number;
  bytes: number;
  lastCommitAt: Date;
}

export interface DatasetState {
  dataset: string;
  schema: { name: string; type: string }[] | undefined;
  inputs: Record<string, number>;
  updatedAt: Date;
}

export interface LedgerEntry {
  source: string;
  path: string;
  size: number;
  mtime: Date;
  sha256: string;
  status: string;
  runId: string;
  seenAt: Date;
}
