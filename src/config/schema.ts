import { z } from 'zod';
import { isDuration, parseDuration } from '../core/duration.js';
import { costConfigSchema } from '../cost/cost-config.js';
import { csvOptionsSchema } from '../sources/formats/csv.js';
import { ENCODINGS } from '../sources/formats/decode.js';

/** Classifications a contract property or source column may carry (DESIGN §8). */
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'pii', 'pci'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const ZONES = ['landing', 'bronze', 'silver', 'gold', 'quarantine'] as const;
export type Zone = (typeof ZONES)[number];

export const MATERIALIZATIONS = ['view', 'table', 'incremental'] as const;
export type Materialization = (typeof MATERIALIZATIONS)[number];

const snakeName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a lower_snake_case name');
const kebabName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-kebab-case name');

/** A duration such as 500ms, 30s, 5m, 1h or 2d (parsed by `core/duration`, the one parser). */
export const duration = z.string().refine(isDuration, 'a duration such as 30s, 5m, 1h or 2d');

/** Milliseconds in a validated config duration (`30s` → 30000). */
export function durationMs(d: string): number {
  return parseDuration(d);
}

/** `env:NAME` or `file:path` — a secret is never written in YAML itself. */
export const secretRef = z.string().regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, 'a secret reference (env:NAME or file:path)');

/**
 * Physical column types accepted in source schemas and contracts: DuckDB's names, which map one to one onto
 * BigQuery's (VARCHAR→STRING, BIGINT→INT64, DECIMAL→NUMERIC, TIMESTAMPTZ→TIMESTAMP).
 */
const SCALAR_TYPES =
  'VARCHAR|TEXT|STRING|BIGINT|INTEGER|INT|SMALLINT|TINYINT|HUGEINT|UBIGINT|DOUBLE|FLOAT|REAL|BOOLEAN|BOOL|DATE|TIME|TIMESTAMP|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE|BLOB|UUID|JSON';
const SCALAR_RE = new RegExp(`^(${SCALAR_TYPES}|DECIMAL\\(\\d{1,2},\\s*\\d{1,2}\\)|NUMERIC\\(\\d{1,2},\\s*\\d{1,2}\\))(\\[\\])?$`, 'i');

export function isValidPhysicalType(t: string): boolean {
  const s = t.trim();
  if (SCALAR_RE.test(s)) return true;
  const m = /^STRUCT\((.*)\)(\[\])?$/is.exec(s);
  if (!m?.[1]) return false;
  return splitTopLevel(m[1]).every((field) => {
    const fm = /^\s*("?[A-Za-z_][A-Za-z0-9_]*"?)\s+(.+?)\s*$/s.exec(field);
    return fm?.[2] !== undefined && isValidPhysicalType(fm[2]);
  });
}

/** Splits on commas that are not inside parentheses. */
export function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

export const physicalType = z
  .string()
  .refine(isValidPhysicalType, 'a column type (VARCHAR, BIGINT, DOUBLE, DECIMAL(p,s), BOOLEAN, DATE, TIMESTAMPTZ, STRUCT(...), ...)');

// ---------------------------------------------------------------- finmesh.yaml

const lakeGc = z
  .object({
    /**
     * How long a replaced file outlives its replacement. finmesh's own readers need none (each process registers
     * its views, and a file a live view lists is kept); the grace is for readers outside finmesh that glob a
     * dataset's folder (BigQuery external tables, DuckDB `read_parquet('…/**')`) and list its files before reading.
     */
    grace: duration.default('0s'),
    /** How often long-running processes (`finmesh stream`, `finmesh demo`) collect, between model runs (0s: never). */
    every: duration.default('5m'),
  })
  .strict()
  .default({ grace: '0s', every: '5m' });

export const LAKE_COMPACTION_DEFAULTS = { every: '10m', minAge: '15m', minFiles: 16, targetBytes: 128 * 1024 * 1024 };

/**
 * Bronze compaction (`lake/compaction.ts`): a change feed's bronze gets a file per micro-batch, up to one a second,
 * and every reader lists and opens every file. A local lake read by the embedded engine only.
 */
const lakeCompaction = z
  .object({
    /** How often `finmesh stream` compacts its change feeds' bronze (0s: never; `finmesh lake compact` any time). */
    every: duration.default(LAKE_COMPACTION_DEFAULTS.every),
    /**
     * Files committed less than this long ago stay as they are: a batch a durable bus delivers again (after a restart,
     * or 10 minutes after its commit when its ack was lost: the lake writer's ack wait) then overwrites its own file,
     * rather than adding its rows beside the merged file that holds them. Keep it longer than 10 minutes.
     */
    minAge: duration.default(LAKE_COMPACTION_DEFAULTS.minAge),
    /** A partition is compacted once it holds at least this many small files. */
    minFiles: z.number().int().min(2).default(LAKE_COMPACTION_DEFAULTS.minFiles),
    /** About the most a merged file holds (bytes, as the files it merges were committed); a file of half this or more is not small. */
    targetBytes: z
      .number()
      .int()
      .min(1 << 20)
      .default(LAKE_COMPACTION_DEFAULTS.targetBytes),
  })
  .strict()
  .default(LAKE_COMPACTION_DEFAULTS);

/** A Google Cloud project id (6–30 characters: lower case, digits, hyphens). */
const gcpProjectId = z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a Google Cloud project id');

/** Where the lake's files live (DESIGN §6): a local folder, or a Cloud Storage bucket (one per environment). */
export const lakeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), path: z.string().default('.finmesh/lake'), gc: lakeGc, compaction: lakeCompaction }).strict(),
  z
    .object({
      kind: z.literal('gcs'),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, 'a Cloud Storage bucket name'),
      /** Folder inside the bucket the lake lives under ('' for the bucket's root). */
      prefix: z
        .string()
        .regex(/^([A-Za-z0-9_-]+\/)*$/, "'' or a folder path ending in /")
        .default(''),
      /** The project that owns the bucket (Application Default Credentials' project when absent). */
      projectId: gcpProjectId.optional(),
      /** Where the bucket is created by `finmesh iac terraform`. */
      location: z.string().default('US'),
      gc: lakeGc,
      compaction: lakeCompaction,
    })
    .strict(),
]);

/** The engine that runs models: DuckDB in-process, or BigQuery. */
export const engineSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('duckdb'),
      threads: z.number().int().positive().optional(),
      memoryLimit: z.string().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('bigquery'),
      projectId: gcpProjectId,
      /** Where datasets are created and jobs run. */
      location: z.string().default('US'),
      /**
       * The BigQuery API's address, for a stand-in (`http://127.0.0.1:9050`); the environment variable
       * BIGQUERY_EMULATOR_HOST does the same. Google's endpoint when absent.
       */
      apiEndpoint: z.url().optional(),
      /** A query that would bill more bytes than this fails instead (BigQuery's maximumBytesBilled). */
      maximumBytesBilled: z.number().int().positive().optional(),
      /** The dataset finmesh stages candidate rows in (tables expire after a day). */
      scratchDataset: snakeName.default('finmesh_scratch'),
      /** Threads of the embedded DuckDB that turns incoming files into Parquet before they go to the lake. */
      threads: z.number().int().positive().optional(),
    })
    .strict(),
]);

const lineageSchema = z
  .object({
    transports: z
      .array(
        z.discriminatedUnion('type', [
          z.object({ type: z.literal('file'), path: z.string().min(1) }).strict(),
          z
            .object({
              type: z.literal('http'),
              url: z.url(),
              /** Events held while the backend is unreachable; beyond it they are dropped (and counted). */
              bufferSize: z.number().int().positive().default(10_000),
              timeoutMs: z.number().int().positive().default(5000),
              apiKey: secretRef.optional(),
            })
            .strict(),
          z.object({ type: z.literal('gcp'), project: z.string().min(1), location: z.string().default('us') }).strict(),
        ]),
      )
      .default([]),
  })
  .strict();

export const metadataSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sqlite'), path: z.string().default('.finmesh/metadata.db') }).strict(),
  z
    .object({
      kind: z.literal('postgres'),
      /** Connection string reference, e.g. env:FINMESH_METADATA_URL (postgres://user:pass@host:5432/db). */
      connection: secretRef,
      /** The schema finmesh's tables live in, created and migrated on first use. */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower_snake_case schema name of at most 63 characters')
        .default('finmesh'),
    })
    .strict(),
]);

export const busSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('memory'),
      /** Messages a topic holds before publishers wait… */
      capacity: z.number().int().positive().default(200_000),
      /** …or bytes of them, whichever comes first: the embedded bus's memory bound. */
      maxBytes: z
        .number()
        .int()
        .min(1 << 20)
        .default(256 * 1024 * 1024),
    })
    .strict(),
  z.object({ kind: z.literal('nats'), servers: z.string().min(1) }).strict(),
  z
    .object({
      kind: z.literal('kafka'),
      brokers: z.string().min(1),
      ssl: z.boolean().default(false),
      sasl: z
        .object({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string(), password: secretRef })
        .strict()
        .optional(),
      /** Record batches on the wire and in the broker's log; default snappy (none on Azure Event Hubs). */
      compression: z.enum(['none', 'gzip', 'snappy']).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('pubsub'),
      projectId: z.string().min(1),
      /** Deliveries of a message before it goes to its topic's dead-letter topic (Pub/Sub allows 5–100). */
      maxDeliveryAttempts: z.number().int().min(5).max(100).default(10),
    })
    .strict(),
]);

/**
 * A target (as dbt profiles have): where the same project runs — its lake, engine, metadata store, bus and lineage
 * transports. Each section a target names replaces the top-level one; the others are inherited.
 */
export const targetSchema = z
  .object({
    description: z.string().optional(),
    lake: lakeSchema.optional(),
    engine: engineSchema.optional(),
    metadata: metadataSchema.optional(),
    bus: busSchema.optional(),
    lineage: lineageSchema.optional(),
  })
  .strict();
export type TargetConfig = z.infer<typeof targetSchema>;

export const projectConfigSchema = z
  .object({
    apiVersion: z.literal('finmesh/v1'),
    name: kebabName,
    description: z.string().optional(),
    /** The target commands use when neither --target nor FINMESH_TARGET names one. */
    target: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'a target name')
      .default('local'),
    /** Named targets (`local`, `gcp`, `emulator`…): `--target NAME` runs the same project there. */
    targets: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a target name'), targetSchema).default({}),
    lake: lakeSchema.default({
      kind: 'local',
      path: '.finmesh/lake',
      gc: { grace: '0s', every: '5m' },
      compaction: LAKE_COMPACTION_DEFAULTS,
    }),
    engine: engineSchema.default({ kind: 'duckdb' }),
    metadata: metadataSchema.default({ kind: 'sqlite', path: '.finmesh/metadata.db' }),
    tokenization: z
      .object({ key: secretRef.describe('key of the HMAC that tokenises direct identifiers (CPF, CNPJ)') })
      .strict()
      .optional(),
    bus: busSchema.default({ kind: 'memory', capacity: 200_000, maxBytes: 256 * 1024 * 1024 }),
    stream: z
      .object({
        /** A micro-batch closes at this many records… */
        batchMaxRecords: z.number().int().positive().default(50_000),
        /**
         * …or this long after its first records were read, whichever comes first; a batch of half `batchMaxRecords`
         * or more also closes as soon as the source has nothing more.
         */
        batchMaxMs: z.number().int().positive().default(1000),
        /** Unacked change pages the lake writer may hold in memory (bytes); bounds the stream's memory. */
        maxBufferedBytes: z
          .number()
          .int()
          .min(1 << 20)
          .default(256 * 1024 * 1024),
        /** How long a reader waits after an empty page. */
        pollIntervalMs: z.number().int().positive().default(100),
        /** How often `finmesh stream` runs the models (0: never). */
        modelIntervalMs: z.number().int().nonnegative().default(5000),
        /**
         * A batch that fails to commit the same way `attempts` times in a row is poison (a failure of the machinery —
         * a full disk, a locked or unreachable store, a timeout — never is: it is retried until it heals). `dead-letter`:
         * the parts of it that still fail go to the source's quarantine dataset (kind `dead-letter`) with the reason,
         * the checkpoint moves past it, and the stream goes on; `stop`: the stream stops with the reason.
         */
        poison: z
          .object({
            attempts: z.number().int().min(1).max(100).default(3),
            action: z.enum(['dead-letter', 'stop']).default('dead-letter'),
          })
          .strict()
          .default({ attempts: 3, action: 'dead-letter' }),
        /** On SIGTERM or Ctrl-C, how long the stream keeps committing what it read before it gives the rest up (read again on the next start). */
        stopTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .default({
        batchMaxRecords: 50_000,
        batchMaxMs: 1000,
        maxBufferedBytes: 256 * 1024 * 1024,
        pollIntervalMs: 100,
        modelIntervalMs: 5000,
        poison: { attempts: 3, action: 'dead-letter' },
        stopTimeoutMs: 30_000,
      }),
    lineage: lineageSchema.default({ transports: [] }),
    quality: z
      .object({
        volumeAnomaly: z
          .object({
            /** |z| above this fails the check. */
            threshold: z.number().positive().default(3),
            /** Days of the product's own history the baseline is computed from. */
            trainingDays: z.number().int().positive().default(56),
            /** Same-weekday and same-day-of-month history when there is enough of it. */
            seasonality: z.enum(['none', 'day-of-week', 'day-of-month']).default('day-of-week'),
            /** Fewer history points than this: the check is skipped, not failed. */
            minHistory: z.number().int().positive().default(4),
          })
          .strict()
          .default({ threshold: 3, trainingDays: 56, seasonality: 'day-of-week', minHistory: 4 }),
      })
      .strict()
      .default({ volumeAnomaly: { threshold: 3, trainingDays: 56, seasonality: 'day-of-week', minHistory: 4 } }),
    policies: z
      .array(
        z
          .object({
            id: z.enum([
              'product-has-owner',
              'product-has-freshness-slo',
              'columns-classified',
              'pii-protected-before-silver',
              'naming-conventions',
              'source-has-alert',
            ]),
            severity: z.enum(['error', 'warning']).default('error'),
            /** For naming-conventions: the pattern product names must match. */
            pattern: z.string().optional(),
          })
          .strict(),
      )
      .default([]),
    logging: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
        /** Per component (stream, lineage, server, ...): its own level, and the share of info/debug lines kept. */
        components: z
          .record(
            z.string(),
            z
              .object({
                level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).optional(),
                sampleRate: z.number().min(0).max(1).default(1),
                /** Regular expressions: debug and info lines whose message matches one are not written (noisy lines). */
                exclude: z
                  .array(
                    z.string().refine((r) => {
                      try {
                        new RegExp(r);
                        return true;
                      } catch {
                        return false;
                      }
                    }, 'a valid regular expression'),
                  )
                  .optional(),
              })
              .strict(),
          )
          .default({}),
      })
      .strict()
      .default({ level: 'info', components: {} }),
    runs: z
      .object({
        /** How often a process proves its running runs alive. */
        heartbeat: duration.default('10s'),
        /** A running run without a heartbeat for this long belongs to a dead process: the next process fails it. */
        expireAfter: duration.default('60s'),
      })
      .strict()
      .default({ heartbeat: '10s', expireAfter: '60s' }),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** The governed SQL endpoint (`finmesh serve --pg-port`): PostgreSQL wire protocol for BI tools. */
        sql: z
          .object({
            /** Certificate and key (PEM) of the endpoint's TLS; required unless it listens on loopback only. */
            tls: z.object({ cert: secretRef, key: secretRef }).strict().optional(),
            /** Rows one statement returns at most (the rest is cut, with a notice). */
            rowLimit: z.number().int().positive().default(100_000),
            /** A statement running longer is cancelled. */
            statementTimeout: duration.default('60s'),
          })
          .strict()
          .default({ rowLimit: 100_000, statementTimeout: '60s' }),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, sql: { rowLimit: 100_000, statementTimeout: '60s' } }),
    /** Metering, prices, budgets and monitoring-spend controls (docs/cost.md). */
    cost: costConfigSchema,
    /**
     * Settings of finmesh's app simulator (`finmesh demo`, `finmesh generate`): not the product's. The simulator
     * validates them itself (src/demo/simulator-config.ts), and `finmesh validate` reports its issues too.
     */
    simulator: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ProjectConfig = z.infer<typeof projectConfigSchema>;

// ---------------------------------------------------------------- domains/<d>/domain.yaml

export const domainConfigSchema = z
  .object({
    name: snakeName,
    description: z.string().optional(),
    owner: z.object({ team: z.string().min(1), email: z.email() }).strict(),
    onCall: z.string().optional(),
    costCenter: z.string().optional(),
  })
  .strict();
export type DomainConfig = z.infer<typeof domainConfigSchema>;

// ---------------------------------------------------------------- domains/<d>/sources/*.yaml

export const columnSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name'),
    type: physicalType,
    classification: z.enum(CLASSIFICATIONS).optional(),
    description: z.string().optional(),
  })
  .strict();
export type Column = z.infer<typeof columnSchema>;

const sourceBase = {
  name: kebabName,
  description: z.string().optional(),
  /** Bronze dataset the source lands in: `<domain>_bronze.<dataset>`. */
  dataset: snakeName,
  /** Business key columns; with `version`, what silver deduplicates on. */
  key: z.array(z.string()).min(1),
  version: z.string().optional(),
  eventTime: z.string().optional(),
  schema: z.array(columnSchema).min(1),
};

export const sourceConfigSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...sourceBase,
      kind: z.literal('sqlite-outbox'),
      /** The app's SQLite database holding the `outbox` table (relative to the project root). */
      database: z.string().default('.finmesh/app.db'),
      /** The outbox `aggregate` this source reads (the app's name for the kind of record: transactions, invoices…). */
      aggregate: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'an aggregate name'),
    })
    .strict(),
  z
    .object({
      ...sourceBase,
      kind: z.literal('postgres'),
      /** Connection string reference, e.g. env:APP_DATABASE_URL (postgres://user:pass@host:5432/db). */
      connection: secretRef,
      /** The table whose changes this source reads, `schema.table`. */
      table: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'schema.table'),
      /** Column holding the document as JSON (jsonb); other columns are ignored. */
      documentColumn: z.string().default('doc'),
      publication: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*$/)
        .default('finmesh'),
      slot: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a replication slot name (lower case, digits, _)'),
    })
    .strict(),
  z
    .object({
      ...sourceBase,
      kind: z.literal('cosmos'),
      endpoint: z.string().url(),
      /** The account key, a secret reference (env:COSMOS_KEY); `key` stays the business key, as for every source. */
      accountKey: secretRef,
      database: z.string().min(1),
      container: z.string().min(1),
      /** LatestVersion (default) or AllVersionsAndDeletes (needs continuous backup on the account; see docs). */
      mode: z.enum(['latestVersion', 'allVersionsAndDeletes']).default('latestVersion'),
      startFrom: z.enum(['beginning', 'now']).default('beginning'),
      /** Path of the partition key in documents, e.g. /pk. */
      partitionKeyPath: z.string().default('/pk'),
      leaseHeartbeatMs: z.number().int().positive().default(5000),
    })
    .strict(),
  z
    .object({
      ...sourceBase,
      kind: z.literal('sftp'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(22),
      username: z.string().min(1),
      password: secretRef.optional(),
      privateKey: secretRef.optional(),
      hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/=]+$/, 'an OpenSSH SHA256 fingerprint'),
      path: z.string().min(1),
      /** Glob over the path below `path` (`*`, `?`, `**`); a file matches when its relative path or its name does. */
      pattern: z.string().default('*'),
      /** A regular expression over the relative path, instead of (or as well as) the glob. */
      regex: z
        .string()
        .refine((r) => {
          try {
            new RegExp(r);
            return true;
          } catch {
            return false;
          }
        }, 'a valid regular expression')
        .optional(),
      format: z.enum(['ndjson', 'fixed-width', 'csv']),
      layout: z.string().optional(),
      csv: csvOptionsSchema.optional(),
      /** Text encoding of the files; a fixed-width layout may set its own. */
      encoding: z.enum(ENCODINGS).optional(),
      /** Files arrive PGP-encrypted to our key (and, with `verifyWith`, signed by the partner's). */
      pgp: z
        .object({
          privateKey: secretRef,
          passphrase: secretRef.optional(),
          /** The partner's public key: every file must carry a valid signature by it. */
          verifyWith: secretRef.optional(),
        })
        .strict()
        .optional(),
      expectedDaily: z.number().int().nonnegative().optional(),
      recursive: z.boolean().default(false),
      /**
       * `complete.by: stable`: a file is taken when its size and mtime hold still this long — longer when the file was
       * seen growing with pauses (twice its longest pause) — or at once when `<name><marker>` exists.
       */
      stableMs: z.number().int().nonnegative().default(2000),
      /** When a file counts as complete (docs/partner-files.md). */
      complete: z
        .object({
          /**
           * `stable` (default): it held still (`stableMs`, scaled by the pace it was written at); whole lines only
           * until it settles, and a file that grows later loads only what was added. `marker`: `<name><marker>`
           * exists. `manifest`: a manifest file (`manifest`, sha256sum format) lists it with its SHA-256.
           */
          by: z.enum(['stable', 'marker', 'manifest']).default('stable'),
          /** The done-marker's suffix: `EDI_001.txt.done` marks `EDI_001.txt` complete. */
          marker: z.string().min(1).default('.done'),
          /** Glob (like `pattern`) of the partner's manifest files: lines `<sha256>  <name>`, names relative to the manifest's folder. */
          manifest: z.string().min(1).optional(),
          /**
           * How long a file taken by `stable` must hold still before an unterminated last line loads, or a file cut
           * short (no trailer record, a gzip or zip without its end) is quarantined rather than waited for (default:
           * ten times the quiet period).
           */
          settle: duration.optional(),
        })
        .strict()
        .default({ by: 'stable', marker: '.done' }),
      /** How often `finmesh ingest --watch` polls: 30s, 5m, 1h. */
      pollEvery: duration.default('5m'),
      /** Connections (each with one open file handle) downloading in parallel. */
      maxConnections: z.number().int().min(1).max(16).default(2),
      /** Attempts to connect or download before the cycle fails with the last error. */
      retries: z.number().int().min(1).max(10).default(3),
      /** How long the server may leave one request unanswered (a listing page, a block of a download) before the connection is given up as stalled and the request retried. */
      timeout: duration.default('30s'),
      /**
       * How files are downloaded: `openssh` through OpenSSH's own client (installed; key authentication only),
       * `ssh2` in process, `auto` OpenSSH when installed and the source has a private key, ssh2 otherwise.
       */
      transfer: z.enum(['auto', 'ssh2', 'openssh']).default('auto'),
      afterCommit: z.enum(['leave', 'move', 'delete']).default('leave'),
      archivePath: z.string().optional(),
      maxFileBytes: z
        .number()
        .int()
        .positive()
        .default(1024 ** 3),
      maxExpansionRatio: z.number().positive().default(100),
      maxArchiveEntries: z.number().int().positive().default(1000),
      /** Serve this local folder over finmesh's own SFTP server on loopback (the demo's partner simulator). */
      embedded: z.object({ root: z.string() }).strict().optional(),
    })
    .strict()
    .superRefine((s, ctx) => {
      if (s.format === 'fixed-width' && !s.layout)
        ctx.addIssue({ code: 'custom', path: ['layout'], message: 'a layout (a fixed-width source needs one)' });
      if (s.format !== 'fixed-width' && s.layout)
        ctx.addIssue({ code: 'custom', path: ['layout'], message: 'no layout (only fixed-width sources take one)' });
      if (s.format !== 'csv' && s.csv) ctx.addIssue({ code: 'custom', path: ['csv'], message: 'no csv settings (they need format: csv)' });
      if (s.complete.by === 'manifest' && !s.complete.manifest)
        ctx.addIssue({
          code: 'custom',
          path: ['complete', 'manifest'],
          message: 'a glob of the manifest files (complete.by: manifest takes a file once a manifest lists it)',
        });
      if (s.transfer === 'openssh' && !s.privateKey)
        ctx.addIssue({
          code: 'custom',
          path: ['transfer'],
          message: 'privateKey with transfer: openssh (OpenSSH reads passwords only from a terminal; use auto or ssh2)',
        });
      if (s.transfer === 'openssh' && s.embedded)
        ctx.addIssue({ code: 'custom', path: ['transfer'], message: 'auto or ssh2 with embedded (the embedded server takes a password)' });
      if (s.afterCommit === 'move' && !s.archivePath && s.recursive)
        ctx.addIssue({
          code: 'custom',
          path: ['archivePath'],
          message: 'an archivePath outside path (a recursive source moves files there)',
        });
      if (s.format === 'csv' && s.csv?.header === false) {
        const unplaced = s.schema.filter((c) => !c.name.startsWith('_') && typeof s.csv?.columns?.[c.name] !== 'number');
        if (unplaced.length > 0)
          ctx.addIssue({
            code: 'custom',
            path: ['csv', 'columns'],
            message: `a 1-based position for every column (the file has no header); missing: ${unplaced.map((c) => c.name).join(', ')}`,
          });
      }
    }),
]);
export type SourceConfig = z.infer<typeof sourceConfigSchema>;

// ---------------------------------------------------------------- products/<p>/contract.odcs.yaml (finmesh's reading of ODCS)

const odcsQuality = z.looseObject({
  type: z.string().optional(),
  metric: z.string().optional(),
  query: z.string().optional(),
  severity: z.string().optional(),
});

const odcsProperty = z.looseObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name'),
  logicalType: z.string().optional(),
  physicalType: physicalType.optional(),
  required: z.boolean().optional(),
  primaryKey: z.boolean().optional(),
  classification: z.enum(CLASSIFICATIONS).optional(),
  description: z.string().optional(),
  quality: z.array(odcsQuality).optional(),
});

/** ODCS SLA properties whose value is a duration (`value` + time `unit`). */
export const TIME_SLA_PROPERTIES = ['latency', 'freshness', 'frequency', 'retention', 'timeToDetect', 'timeToNotify', 'timeToRepair'];

export const customPropertySchema = z.looseObject({ property: z.string(), value: z.unknown() });

export const contractSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('DataContract'),
  id: z.string(),
  version: z.string(),
  status: z.string(),
  name: z.string().optional(),
  domain: z.string().optional(),
  dataProduct: z.string().optional(),
  description: z.looseObject({ purpose: z.string().optional(), usage: z.string().optional() }).optional(),
  team: z
    .looseObject({
      name: z.string().optional(),
      members: z.array(z.looseObject({ username: z.string(), role: z.string().optional() })).optional(),
    })
    .optional(),
  schema: z
    .array(
      z.looseObject({
        name: snakeName,
        physicalType: z.string().optional(),
        description: z.string().optional(),
        properties: z.array(odcsProperty).min(1),
        quality: z.array(odcsQuality).optional(),
      }),
    )
    .length(1, 'exactly one schema object: the product dataset'),
  slaProperties: z.array(z.looseObject({ property: z.string(), value: z.unknown(), unit: z.string().optional() })).optional(),
  customProperties: z.array(customPropertySchema).optional(),
});
export type Contract = z.infer<typeof contractSchema>;

/** finmesh's own fields, kept in the contract's `customProperties` so the contract stays valid ODCS. */
export const productSettingsSchema = z
  .object({
    zone: z.enum(['silver', 'gold']),
    materialized: z.enum(MATERIALIZATIONS).default('table'),
    uniqueKey: z.array(z.string()).optional(),
    versionColumn: z.string().optional(),
    partitionBy: z.string().optional(),
    watermark: z.string().optional(),
    consumers: z.array(z.string()).default([]),
    costCenter: z.string().optional(),
    /** What the product is worth per month to those who use it, in the cost currency (cost-benefit, docs/cost.md). */
    businessValue: z.number().nonnegative().optional(),
  })
  .strict();
export type ProductSettings = z.infer<typeof productSettingsSchema>;
