/**
 * The SQL engine port: DuckDB in-process by default, BigQuery in the cloud. finmesh's own code never scans data
 * itself; it hands SQL and whole files to the engine. Everything that is engine-specific — its SQL dialect, how it
 * reads files, its macros, its parser — is behind this port, so jobs build SQL from `dialect` and never write an
 * engine's syntax themselves.
 *
 * Model SQL is written in finmesh's SQL, which is DuckDB's dialect with `ref()`/`source()` and the macros below;
 * every engine parses it with `parse` (BigQuery's adapter through an embedded DuckDB parser) and runs it in its own
 * dialect.
 */
export interface WriteParquetOptions {
  partitionBy?: string | undefined;
  ordered?: boolean | undefined;
  rowGroupRows?: number | undefined;
  /**
   * About how many rows the SELECT gives, when known before it runs (a stream's batch). Unordered and without
   * `rowGroupRows`, an engine that writes on several threads may size its row groups so that each thread writes its own.
   */
  rows?: number | undefined;
}

export interface Engine {
  /** `duckdb`, `bigquery`. */
  readonly kind: string;
  /** The engine's own version (lineage's processing_engine facet). */
  readonly version: string;
  /** How SQL is spelt for this engine: quoting, file readers, functions the jobs need. */
  readonly dialect: SqlDialect;
  /** Runs statements that return nothing. Throws `FinmeshError('QUERY_INVALID')` with the engine's message. */
  exec(sql: string): Promise<void>;
  /** Runs one query and returns its rows with JSON-safe values (safe integers as numbers, big ones as strings). */
  query(sql: string): Promise<QueryResult>;
  /** Column names and types a SELECT would return, without running it. Throws `QUERY_INVALID` when it does not bind. */
  describe(select: string): Promise<ColumnInfo[]>;
  /**
   * Parses finmesh SQL into its statements without running or binding it. A syntax error is a value
   * (`error.kind === 'syntax'`), not an exception.
   */
  parse(sql: string): Promise<ParsedSql>;
  /**
   * Creates or replaces the view `schema.table` over Parquet files; with no files, an empty view of `columns`
   * (nothing at all when there are no columns either). Hive partition columns (`dt=...`) are read from the paths.
   */
  defineDataset(schema: string, table: string, files: string[], columns?: ColumnInfo[]): Promise<void>;
  /**
   * What the lake's manifest holds of files' compressed column sizes (`WrittenFile.columnBytes`, as their writer
   * measured them), so that measuring what a statement scans reads none of their footers. Optional: an engine that
   * measures nothing has no use for it.
   */
  knowColumnBytes?(files: { path: string; columnBytes: string | undefined }[]): void;
  /** Creates or replaces the view `schema.table` as `select`. */
  defineView(schema: string, table: string, select: string): Promise<void>;
  /** Materialises `select` as a session-scoped table `name` (replacing one of that name). */
  createTempTable(name: string, select: string): Promise<void>;
  dropTempTable(name: string): Promise<void>;
  /**
   * Defines the functions models and checks may call: `tokenize(v)` (keyed HMAC-SHA256, hex; an error when no key
   * is given), `mask_pan(v)` (first 6 and last 4 digits), and `pan_like(s)`/`luhn_valid(s)` (card-number shape and
   * checksum). Idempotent.
   */
  installMacros(options: { tokenizationKey?: string | undefined }): Promise<void>;
  /**
   * Writes the rows of a SELECT as Parquet into `dir` (hive-partitioned by `partitionBy` when given) and lists the
   * files written with their row counts. `ordered: false` lets the engine write the rows in any order (for rows
   * that carry their own position, as a file's `_line`), and `rowGroupRows` sizes a Parquet row group (about; the
   * engine's default otherwise): with both, the engine's memory stays flat in the input's size.
   */
  writeParquet(select: string, dir: string, options?: WriteParquetOptions): Promise<WrittenFile[]>;
  /**
   * Runs statements that return nothing with the engine's memory limit lowered to `bytes` for them alone, then sets
   * its own limit back. Runs them as they are when the limit may not be lowered: the engine's settings are
   * locked (`sandbox`) or its own limit is `bytes` or lower already (never raised). When they fail, the limit is set
   * back and the error thrown (the caller may run them again under the engine's own limit). Absent from engines
   * without a memory limit of their own to lower.
   */
  execUnderMemoryLimit?(sql: string, bytes: number): Promise<void>;
  /**
   * Until the returned function is called, the engine runs on one thread fewer than its own (at least one), leaving
   * a CPU to work of this process that needs one beside it: a stream's reader. Calls nest; the last release sets the
   * engine's threads back. Absent from engines that do not run in this process.
   */
  leaveCore?(): Promise<() => Promise<void>>;
  /** Restricts this engine to reading the given folders and refuses to change settings from then on. */
  sandbox(readableRoots: string[]): Promise<void>;
  /** Cancels the statement running now, if any: it fails with `QUERY_INVALID` (a statement timeout calls this). */
  interrupt(): void;
  close(): Promise<void>;
}

/** SQL spelt for one engine. Every method returns SQL text; none runs anything. */
export interface SqlDialect {
  /** `duckdb`, `bigquery`: the OpenLineage SQL facet's dialect. */
  readonly name: string;
  quoteIdent(name: string): string;
  quoteLiteral(value: string): string;
  /** `CAST(expr AS type)`, the type given in finmesh's (DuckDB's) names. */
  cast(expr: string, type: string): string;
  /** The current timestamp, and today's date (UTC). */
  currentTimestamp(): string;
  currentDate(): string;
  /** Today's date minus `days` days. */
  daysAgo(days: number): string;
  /** The number of rows where `condition` holds (an aggregate). */
  countIf(condition: string): string;
  /** True when the whole of `expr` matches the regular expression `pattern` (RE2 syntax). */
  regexpFullMatch(expr: string, pattern: string): string;
  /** How many full card numbers (13–19 digits, a card network's prefix and length, Luhn-valid) a text `expr` holds. */
  cardNumbersIn(expr: string): string;
  /**
   * A 64-bit hash of `expr`, cheaper to count distinct than the value itself (equal values, equal hashes); absent
   * where the engine has none worth it.
   */
  hash?(expr: string): string;
  /** A relation reading newline-delimited JSON, typed by `columns` (other fields ignored, missing ones NULL). */
  readNdjson(file: string, columns: ColumnInfo[]): string;
  /**
   * A relation reading Parquet files, columns united by name; with the hive partitions of their paths (`dt=…`) as
   * columns too, unless `partitionColumns` is false (the files' own columns alone, as a compaction rewrites them).
   * `unionByName: false` when every file is known to have the same columns, in the same order, of the same types.
   */
  readParquet(files: string[], options?: { partitionColumns?: boolean; unionByName?: boolean }): string;
  /** `a` and `b` stacked, columns matched by name. */
  unionAllByName(a: string, b: string): string;
  /** The rows of relation `from` that are the latest per `keys` by `orderBy` (descending); one per key. */
  latestPerKey(from: string, keys: string[], orderBy: string | undefined): string;
  /**
   * `expr`, a column of finmesh type `type`, masked by `rule` — BigQuery's data masking rules, so a persona sees the
   * same locally and in the cloud: `last-four` (all but the last four characters as X), `hash` (SHA-256 hex of the
   * text), `null`, `default` (the type's default: '', 0, false, 1970-01-01), `email` (XXXXX@ and the domain), `year`
   * (a date truncated to its year). A rule that does not fit the type (last four of a number) gives NULL.
   */
  mask(expr: string, type: string, rule: MaskRule): string;
  /** `expr`'s text tokenised: keyed HMAC-SHA256 hex (the `tokenize` macro), the same token silver holds. */
  tokenize(expr: string): string;
}

export const MASK_RULES = ['last-four', 'hash', 'null', 'default', 'email', 'year'] as const;
export type MaskRule = (typeof MASK_RULES)[number];

/**
 * The literal the `default` mask puts in place of a value of type `t` (upper case): '' for text, the epoch for dates
 * and times, false, 0, else NULL; `falseLiteral` is the dialect's spelling of false. The dialect casts it to the type.
 */
export function maskDefaultLiteral(t: string, kind: { text: boolean; temporal: boolean }, falseLiteral: string): string {
  if (kind.text) return "''";
  if (kind.temporal) return "'1970-01-01'";
  if (/^(BOOLEAN|BOOL)$/.test(t)) return falseLiteral;
  if (/INT|DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC/.test(t)) return '0';
  return 'NULL';
}

/** A parsed statement list. */
export interface ParsedSql {
  /** Set when the text does not parse; `kind` tells a syntax error from a statement the parser refuses. */
  error?:
    | {
        kind: 'syntax' | 'unsupported';
        message: string;
        /** For `unsupported`: the first statement refused (1-based), of how many, and its verb (`CREATE`). */
        statement?: { index: number; count: number; verb: string } | undefined;
      }
    | undefined;
  statements: ParsedStatement[];
}

export interface ParsedStatement {
  /** `SELECT` for a query (WITH … SELECT included); otherwise the statement's verb. */
  type: string;
  /**
   * The statement's syntax tree in finmesh's SQL AST, which is DuckDB's serialised form (`json_serialize_sql`):
   * what column lineage and policy checks walk.
   */
  ast: unknown;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface QueryResult {
  columns: ColumnInfo[];
  rows: Record<string, unknown>[];
}

export interface WrittenFile {
  path: string;
  /** `dt=2026-11-27` for hive-partitioned output, undefined otherwise. */
  partition: string | undefined;
  rows: number;
  /**
   * Each top-level column's compressed bytes in the file, as JSON (`{"amount": 1234, …}`), when the engine knows them
   * from writing it: opaque to the manifest, which keeps it with the file for the engine that reads it later.
   */
  columnBytes?: string | undefined;
}

/**
 * The same engine, with a `close()` that leaves it open: lends an engine to a part that closes what it is given
 * (a governed session) while its owner (the context) closes it later.
 */
export function borrowed(engine: Engine): Engine {
  return new Proxy(engine, {
    get(target, p) {
      if (p === 'close') return async () => undefined;
      const v = Reflect.get(target, p, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
