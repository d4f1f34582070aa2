/**
 * The SQL engine port: DuckDB in-process by default, BigQuery in the cloud. finmesh's own code never scans data
 * itself; it hands SQL and whole files to the engine.
 */
export interface Engine {
  readonly kind: string;
  /** The engine's own version (lineage's processing_engine facet). */
  readonly version: string;
  /** Runs statements that return nothing. Throws `FinmeshError('QUERY_INVALID')` with the engine's message. */
  exec(sql: string): Promise<void>;
  /** Runs one query and returns its rows with JSON-safe values (safe integers as numbers, big ones as strings). */
  query(sql: string): Promise<QueryResult>;
  /** Column names and types a SELECT would return, without running it. */
  describe(select: string): Promise<ColumnInfo[]>;
  /**
   * Creates or replaces the view `schema.table` over Parquet files; with no files, an empty view of `columns`.
   * Hive partition columns (`dt=...`) are read from the paths.
   */
  defineDataset(schema: string, table: string, files: string[], columns?: ColumnInfo[]): Promise<void>;
  /**
   * Writes the rows of a SELECT as Parquet into `dir` (hive-partitioned by `partitionBy` when given) and lists the
   * files written with their row counts.
   */
  writeParquet(select: string, dir: string, options?: { partitionBy?: string | undefined }): Promise<WrittenFile[]>;
  /** Restricts this engine to reading the given folders and refuses to change settings from then on. */
  sandbox(readableRoots: string[]): Promise<void>;
  close(): Promise<void>;
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
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
