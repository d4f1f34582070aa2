/**
 * The metadata store: everything finmesh knows about what it did, split by concern — runs, the lake's file
 * manifest, source checkpoints, the partner-file ledger, leases, check results, lineage events, the lake's
 * reader sessions, the audit log, metered usage and the versions of each product's contract seen. One port, an adapter per place it runs: SQLite embedded (one process or several on one
 * machine), PostgreSQL when several processes on several machines share one store (Cloud Run with Cloud SQL).
 *
 * Every member is async, so a networked store fits behind it. Adapters are built by `static async create` and
 * apply their own numbered migrations before the first call returns.
 *
 * Invariant: a dataset's readable content is exactly its live files. A writer commits a file to storage first
 * and records it here second, in one transaction with the files it replaces and the source checkpoint that moves
 * with it; readers list files here, never by globbing storage, so a half-written or replaced file is never read.
 */

import { FinmeshError } from '../core/errors.js';

export interface MetadataStore {
  /** `sqlite` or `postgres`. */
  readonly kind: string;
  /** Where the store is, for messages (a file path, or `postgres://host:port/db` without credentials). */
  readonly location: string;
  readonly runs: RunStore;
  readonly manifest: ManifestStore;
  readonly checkpoints: CheckpointStore;
  readonly ledger: FileLedger;
  readonly leases: LeaseStore;
  readonly checks: CheckResultStore;
  readonly lineage: LineageStore;
  readonly readers: LakeReaderStore;
  readonly audit: AuditLog;
  readonly usage: UsageStore;
  readonly contracts: ContractVersionStore;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** How long a running run may go without a heartbeat before another process declares it dead. */
export const DEFAULT_RUN_EXPIRY_MS = 60_000;
/** How often a process proves its running runs (and its lake reader session) alive. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

// ---------------------------------------------------------------- runs

/** Every job's runs: started once, heartbeated while running, finished once. */
export interface RunStore {
  /** Records the start of a run as `running`, heartbeated now. Throws `CONFLICT` if the id exists. */
  start(run: RunStart): Promise<void>;
  /**
   * Records the end of a run; `error` is required when `status` is `failed`. Also ends a run another process had
   * declared dead (the late truth wins). Throws `NOT_FOUND` for an unknown id.
   */
  finish(runId: string, end: RunEnd): Promise<void>;
  /** Marks running runs alive at `at`. Unknown or finished ids are ignored. */
  heartbeat(runIds: string[], at: Date): Promise<void>;
  /**
   * Fails every `running` run whose last heartbeat is older than `staleBefore` (its process died: SIGKILL, power
   * loss), with an error that says so, and returns them.
   */
  expire(staleBefore: Date, at: Date): Promise<RunRecord[]>;
  /** Runs newest first (by start), filtered; `limit` defaults to 1000. */
  list(filter?: RunFilter): Promise<RunRecord[]>;
  /** The log lines stored with a run when it finished (`RunEnd.logs`), oldest first; none for an unknown run. */
  logs(runId: string): Promise<RunLogLine[]>;
  /** The warehouse jobs stored with a run when it finished (`RunEnd.warehouseJobs`), in order; none for an unknown run. */
  warehouseJobs(runId: string): Promise<WarehouseJobRecord[]>;
}

/** A warehouse (BigQuery) job a run ran: its id and what it cost. */
export interface WarehouseJobRecord {
  jobId: string;
  bytesProcessed: number;
  bytesBilled: number;
  slotMs: number;
}

/** At most this many log lines are stored with a run: its warnings and errors first, then its latest info lines. */
export const DEFAULT_RUN_LOG_LINES = 50;
/** A stored line's message (and each of its field values) is cut to this many characters. */
export const DEFAULT_RUN_LOG_CHARS = 2000;

/** A log line of a run, as stored with it: already bounded and redacted by whoever recorded it. */
export interface RunLogLine {
  time: Date;
  /** Cloud Logging severity: INFO, WARNING, ERROR or CRITICAL (debug lines are never stored). */
  severity: string;
  message: string;
  /** The line's own fields (not the run's bindings), secrets and PII already censored. */
  fields: Record<string, string | number | boolean | null>;
}

/** The error every adapter records on a run whose process stopped heartbeating. */
export function expiredRunError(lastHeartbeat: Date): string {
  return `the process running it stopped (no heartbeat since ${lastHeartbeat.toISOString()}): killed, crashed or lost its machine`;
}

export interface RunFilter {
  job?: string | undefined;
  parentRunId?: string | undefined;
  status?: RunStatus | undefined;
  limit?: number | undefined;
}

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunStart {
  runId: string;
  job: string;
  /** What kind of job: `model`, `ingest`, `stream`, `check`, `demo`, `run`, `gc`. */
  kind: string;
  parentRunId?: string | undefined;
  startedAt: Date;
}

export interface RunEnd {
  status: Exclude<RunStatus, 'running'>;
  endedAt: Date;
  rowsIn?: number | undefined;
  rowsOut?: number | undefined;
  rowsRejected?: number | undefined;
  error?: string | undefined;
  /** The run's log lines to keep with it (bounded: `DEFAULT_RUN_LOG_LINES`); stored in the same write as the end. */
  logs?: RunLogLine[] | undefined;
  /** The warehouse jobs the run ran, stored in the same write as the end (replacing any stored before for it). */
  warehouseJobs?: WarehouseJobRecord[] | undefined;
}

export interface RunRecord extends RunStart {
  status: RunStatus;
  endedAt: Date | undefined;
  heartbeatAt: Date | undefined;
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  error: string | undefined;
}

// ---------------------------------------------------------------- manifest

/** The lake's file manifest and each dataset's state: what a reader may read. */
export interface ManifestStore {
  /**
   * Atomically adds files to a dataset, retires the ones they replace (and any live file with an added key: a
   * replayed batch), stores the dataset's schema and input positions, and moves the source checkpoint — all or
   * nothing. Commits are totally ordered: a file's `seq` is greater than every seq committed before it, so an
   * incremental reader that consumed up to seq N never misses a later commit. Returns the seq of the last file.
   */
  commit(commit: FileCommit): Promise<number>;
  /** The files a reader sees, in commit order. */
  liveFiles(dataset: string): Promise<LakeFile[]>;
  /** Times files were committed to a dataset since `since` (retired ones included), oldest first. */
  commitTimes(dataset: string, since: Date): Promise<Date[]>;
  /** Every dataset with at least one live file, with row totals. */
  summaries(): Promise<DatasetSummary[]>;
  /** A dataset's schema and consumed input positions; undefined when it was never committed. */
  state(dataset: string): Promise<DatasetState | undefined>;
  /** Retired files retired before `before` whose key is not live again (replays reuse keys), oldest first. */
  retired(before: Date): Promise<RetiredFile[]>;
  /** Forgets retired files once their objects are deleted. Live rows are never touched. */
  forget(keys: string[]): Promise<void>;
  /** True when some row, live or retired, names this storage key (orphan detection). */
  knows(key: string): Promise<boolean>;
}

export interface LakeFile {
  seq: number;
  /**
   * The newest data the file holds, as a seq: its own `seq`, or, for a file that merges others (compaction), the
   * highest seq among them. An incremental reader that consumed up to seq N has read every row of a file whose
   * `dataSeq` is N or less, whatever its `seq`.
   */
  dataSeq: number;
  dataset: string;
  /** Storage key, relative to the lake root. */
  key: string;
  partition: string | undefined;
  rows: number;
  bytes: number;
  runId: string;
  committedAt: Date;
  /** Compressed bytes per column, as the engine that wrote the file gave them (JSON, opaque here); undefined before. */
  columnBytes: string | undefined;
}

export interface RetiredFile extends LakeFile {
  retiredAt: Date;
}

export interface FileCommit {
  dataset: string;
  runId: string;
  add: {
    key: string;
    partition?: string | undefined;
    rows: number;
    bytes: number;
    /** For a file that merges others (compaction): the highest seq among them (`LakeFile.dataSeq`). */
    dataSeq?: number | undefined;
    /** The file's compressed bytes per column, as its writer's engine gave them (`WrittenFile.columnBytes`). */
    columnBytes?: string | undefined;
  }[];
  /** Storage keys of live files this commit replaces. */
  replace: string[];
  /**
   * Every key in `replace` must be live when the commit runs: otherwise nothing is committed and it throws
   * `CONFLICT` (two compactions of the same files: the second would add their rows again).
   */
  replaceMustBeLive?: boolean | undefined;
  /** Column names and types of the dataset, as the engine reports them. */
  schema?: { name: string; type: string }[] | undefined;
  /** For incremental models: the last commit seq consumed from each input dataset. */
  inputs?: Record<string, number> | undefined;
  /** A source checkpoint that moves in the same transaction: the files and the position commit together. */
  checkpoint?: { source: string; value: string } | undefined;
}

/** A `replaceMustBeLive` commit whose file was replaced meanwhile (by another compaction). */
export function notLive(dataset: string, key: string): FinmeshError {
  return new FinmeshError('CONFLICT', `${dataset}: ${key} is no longer live (replaced by another commit meanwhile); nothing was committed`);
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

// ---------------------------------------------------------------- checkpoints

/** Source positions, moved only after what was read up to them is committed. */
export interface CheckpointStore {
  get(source: string): Promise<Checkpoint | undefined>;
  /** Sets a checkpoint on its own (a commit that carries files moves it through `manifest.commit`). */
  set(source: string, value: string): Promise<void>;
}

export interface Checkpoint {
  value: string;
  /** When it last moved (its age is a freshness signal). */
  updatedAt: Date;
}

// ---------------------------------------------------------------- file ledger

/** The partner-file ledger: each file seen, by content hash and where it was seen. */
export interface FileLedger {
  /** The first sighting of this content for the source; undefined when never seen. */
  find(source: string, sha256: string): Promise<LedgerEntry | undefined>;
  /**
   * The version last ingested under a path (its hash, size, mtime and how much of it loaded): to flag a changed file
   * with the same name, to load only what a grown file added, and to know an unchanged file without fetching it.
   */
  lastIngested(source: string, path: string): Promise<LedgerEntry | undefined>;
  /** The last sighting of a path, whatever became of it (ingested, duplicate, quarantined): a file met again unchanged is not fetched again. */
  lastSeen(source: string, path: string): Promise<LedgerEntry | undefined>;
  /** Records a sighting; the same (source, hash, path) replaces its earlier row. */
  record(entry: LedgerEntry): Promise<void>;
  /** Files ingested per UTC day (`YYYY-MM-DD`) since `since`, and when the source was first seen at all. */
  days(source: string, since: Date): Promise<{ firstSeen: Date | undefined; ingested: Map<string, number> }>;
  /** The source's sightings, newest first; `limit` defaults to 1000. */
  list(source: string, limit?: number): Promise<LedgerEntry[]>;
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
  /**
   * Of an ingested file: the bytes whose rows are loaded (a prefix ending at a line end: a last line still being
   * written waits), the lines they hold, and the SHA-256 of those bytes; a file that grows later and still starts
   * with them loads only the lines after. Absent: the whole file (`size`, and `sha256`).
   */
  loadedBytes?: number | undefined;
  loadedLines?: number | undefined;
  prefixSha256?: string | undefined;
}

// ---------------------------------------------------------------- leases

/**
 * Leases on parts of a source (a Cosmos DB feed range), so several readers share it and a dead one's part is
 * taken over. `scope` names the source.
 */
export interface LeaseStore {
  list(scope: string): Promise<Lease[]>;
  /** Registers parts not known yet (first start, or after a split). */
  ensure(scope: string, parts: { rangeId: string; range: string }[]): Promise<void>;
  /** Takes every lease that is free, already `owner`'s, or whose heartbeat is older than `expiryMs`; returns the owner's. */
  acquire(scope: string, owner: string, now: number, expiryMs: number): Promise<Lease[]>;
  heartbeat(scope: string, owner: string, now: number): Promise<void>;
  /** Moves a part's continuation; only its owner may. Resolves false when the lease was lost. */
  advance(scope: string, rangeId: string, owner: string, continuation: string, now: number): Promise<boolean>;
  release(scope: string, owner: string): Promise<void>;
}

/** A lease on one part of a source: who reads it, from which continuation, and when the owner last proved alive. */
export interface Lease {
  rangeId: string;
  /** JSON of the part's bounds, to start reading it the first time. */
  range: string;
  continuation: string | undefined;
  owner: string | undefined;
  heartbeat: number;
}

// ---------------------------------------------------------------- check results

export interface CheckResultStore {
  record(results: CheckResultRecord[]): Promise<void>;
  /** Results at or after `since`, newest first. */
  list(filter?: { product?: string | undefined; since?: Date | undefined }): Promise<CheckResultRecord[]>;
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

// ---------------------------------------------------------------- lineage

export interface LineageStore {
  /** Appends an OpenLineage event (finmesh's own or received from another producer). */
  record(event: LineageEventRecord): Promise<void>;
  /** Every stored event in arrival order. */
  list(): Promise<LineageEventRecord[]>;
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

// ---------------------------------------------------------------- lake readers

/**
 * Processes reading the lake (each finmesh process's engine session), with when each defined its view of each
 * dataset. A retired file may be deleted once no live reader's view of its dataset predates its retirement.
 */
export interface LakeReaderStore {
  /** Registers or refreshes a reader; its heartbeat is `reader.heartbeatAt`. */
  upsert(reader: LakeReader): Promise<void>;
  remove(id: string): Promise<void>;
  /** Readers whose heartbeat is at or after `aliveSince`. */
  list(aliveSince: Date): Promise<LakeReader[]>;
}

export interface LakeReader {
  id: string;
  /** Who reads: `host pid command`, for messages. */
  process: string;
  /** Dataset → epoch ms when this reader last defined its view of it (the file list it reads from then on). */
  views: Record<string, number>;
  heartbeatAt: Date;
}

// ---------------------------------------------------------------- audit log

/**
 * The append-only, hash-chained audit log: every governed read, access decision, grant change and break-glass use.
 * Each record carries the hash of the one before it (`audit-chain.ts`), so an edited, deleted or reordered record is
 * found by `verifyAuditChain`. The store offers no update or delete.
 */
export interface AuditLog {
  /**
   * Appends a record at the end of the chain: its `seq` is the last record's plus one and its `prevHash` the last
   * record's `hash` (`AUDIT_GENESIS` for the first). Appends from several processes are serialised, so the chain
   * never forks. Returns the record as stored.
   */
  append(entry: AuditEntry): Promise<AuditRecord>;
  /** Records in chain order (`seq` ascending), filtered; `limit` defaults to no limit. */
  list(filter?: AuditFilter): Promise<AuditRecord[]>;
}

export const AUDIT_KINDS = ['read', 'decision', 'grant-change', 'break-glass', 'auth'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export interface AuditEntry {
  at: Date;
  kind: AuditKind;
  /** The persona that acted (`finmesh` for the platform itself). */
  actor: string;
  /** Who the persona was (a token's name, an OIDC subject, the CLI's user); never a secret. */
  principal: string | undefined;
  /** `query`, `api:runs`, `access-model`, … */
  action: string;
  /** A dataset, a route, the access model. */
  resource: string;
  outcome: 'allow' | 'deny' | 'ok' | 'error';
  /** JSON: datasets, columns, rows, the query's hash, the grant, the reason. */
  details: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  kind?: AuditKind | undefined;
  actor?: string | undefined;
  /** Records at or after. */
  since?: Date | undefined;
  /** Records with a greater seq. */
  afterSeq?: number | undefined;
  limit?: number | undefined;
}

// ---------------------------------------------------------------- usage

/**
 * Metered usage: what finmesh did, per run and per day, attributed to the component that did it and, when known, the
 * domain, product, source and cost centre it did it for. The cost plane (`src/cost`) prices it.
 */
export interface UsageStore {
  /**
   * Adds usage. Rows with the same UTC day, run, meter, component, attribution and attributes merge into one: their
   * quantities add (`aggregate: 'sum'`, the default) or the larger is kept (`'max'`, for gauges such as a number of
   * metric series). Rows without a run therefore merge per day; a run's rows stay its own. Quantities must be finite
   * and not negative (a row that is not is refused with `DATA_INVALID`, and nothing of the call is kept).
   */
  record(rows: UsageRow[]): Promise<void>;
  /** Rows whose day is on or after `since`'s UTC day and before `until`'s, oldest day first. */
  list(filter?: UsageFilter): Promise<UsageRecord[]>;
  /** When usage of `meter` was last recorded, or undefined when never. */
  lastAt(meter: string): Promise<Date | undefined>;
}

export interface UsageRow {
  /** When it was measured: its UTC day is the row's day. */
  at: Date;
  runId?: string | undefined;
  /** What was measured (`compute.cpu_seconds`, `engine.bytes_scanned`, … — `src/cost/meters.ts`). */
  meter: string;
  quantity: number;
  /** The part of finmesh that did it: `transform`, `stream`, `ingest`, `check`, `lake`, `server`, … */
  component: string;
  domain?: string | undefined;
  product?: string | undefined;
  source?: string | undefined;
  costCenter?: string | undefined;
  /** Bounded extra dimensions: a zone, a storage class, a log level, a metric family, the dataset read. */
  attributes?: Record<string, string> | undefined;
  aggregate?: 'sum' | 'max' | undefined;
}

export interface UsageRecord {
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  runId: string | undefined;
  meter: string;
  quantity: number;
  component: string;
  domain: string | undefined;
  product: string | undefined;
  source: string | undefined;
  costCenter: string | undefined;
  attributes: Record<string, string>;
  /** The first and last measurement merged into this row. */
  firstAt: Date;
  lastAt: Date;
}

export interface UsageFilter {
  since?: Date | undefined;
  until?: Date | undefined;
  meters?: string[] | undefined;
  runId?: string | undefined;
}

/** The UTC day of a moment, `YYYY-MM-DD`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Attributes as one canonical text (keys sorted), which is how rows are told apart. */
export function attributesKey(attributes: Record<string, string> | undefined): string {
  if (!attributes) return '{}';
  const keys = Object.keys(attributes).sort();
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, attributes[k]])));
}

/**
 * The versions of each product's data contract finmesh has seen (a project loaded to run, or validated): the history
 * the console's product page and `finmesh contract history` diff, version by version.
 */
export interface ContractVersionStore {
  /**
   * Records a product's contract as seen, unless it is the content (`hash`) last recorded for that product; true
   * when recorded. A contract changed back to an earlier content is recorded again (the history is what consumers
   * met, in order).
   */
  record(seen: ContractVersionSeen): Promise<boolean>;
  /** The versions seen, oldest first; one product's when given. */
  list(product?: string): Promise<ContractVersionRecord[]>;
}

export interface ContractVersionSeen {
  /** `domain.name`. */
  product: string;
  /** The contract's own `version` (free text in ODCS; usually semver). */
  version: string;
  /** sha256 of the contract as canonical JSON (keys sorted): what tells one content from another. */
  hash: string;
  /** The contract document itself, so two versions can be diffed after the file changed. */
  contract: unknown;
  at: Date;
}

export interface ContractVersionRecord {
  product: string;
  version: string;
  hash: string;
  contract: unknown;
  firstSeenAt: Date;
}
