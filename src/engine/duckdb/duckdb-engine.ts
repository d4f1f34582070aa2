import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as DuckDBApi from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBInstance, DuckDBResultReader } from '@duckdb/node-api';
import { requireWithCodeCache } from '../../core/code-cache.js';
import { FinmeshError } from '../../core/errors.js';
import { addUsage } from '../../core/usage.js';
import type { ColumnInfo, Engine, ParsedSql, QueryResult, WriteParquetOptions, WrittenFile } from '../engine.js';
import { duckDbDialect } from './duckdb-dialect.js';
import { macroSql, tokenizeMacroSql } from './duckdb-macros.js';

const require = createRequire(import.meta.url);
const VENDORED_API = fileURLToPath(new URL('../../vendor/duckdb-node-api.cjs', import.meta.url));
let api: typeof DuckDBApi | undefined;

/**
 * DuckDB's JavaScript API: the compiled CLI ships it bundled into one file (`npm run build`), which loads about three
 * times faster than its 125 modules, and twice as fast again through its V8 code cache (`core/code-cache`); from the
 * TypeScript sources, the package itself.
 */
function duckdbApi(): typeof DuckDBApi {
  api ??= existsSync(VENDORED_API)
    ? (requireWithCodeCache(VENDORED_API) as typeof DuckDBApi)
    : (require('@duckdb/node-api') as typeof DuckDBApi);
  return api;
}

const quoteIdent = (n: string) => duckDbDialect.quoteIdent(n);
const quoteLiteral = (v: string) => duckDbDialect.quoteLiteral(v);

export interface DuckDbOptions {
  /** Database file; in-memory when absent (the lake's Parquet files are the storage). */
  path?: string;
  threads?: number | undefined;
  memoryLimit?: string | undefined;
  /**
   * Measure what each statement reads (default true): DuckDB's profile of the statement names the Parquet files each
   * scan read and the columns it needed; their compressed sizes are the statement's `engine.bytes_scanned` and the
   * files its `storage.objects_read`, added to the usage scope of whoever ran it (`core/usage`).
   */
  profile?: boolean | undefined;
}

/** DuckDB's default rows per Parquet row group, and the fewest a row group shared out per thread holds. */
const DEFAULT_ROW_GROUP_ROWS = 122_880;
const MIN_SHARED_ROW_GROUP_ROWS = 8_192;

/** A view over this many files or more binds from the first when all have one schema (`sameColumns`). */
const SAME_COLUMNS_FROM_FILES = 32;
/** What of each schema element (`parquet_schema`) must match for two files to be read alike. */
const SCHEMA_FIELDS = [
  'name',
  'type',
  'type_length',
  'repetition_type',
  'num_children',
  'converted_type',
  'scale',
  'precision',
  'logical_type',
  'duckdb_type',
];
/** Files whose schemas are kept at most; a view over more binds by name. */
const SCHEMA_CACHE_FILES = 100_000;
/** Files whose schemas one query reads. */
const SCHEMAS_PER_QUERY = 1000;

/** Files whose column sizes are remembered; beyond this the cache starts over. */
const COLUMN_SIZE_CACHE = 20_000;

/**
 * DuckDB in-process. One connection, and one statement at a time: catalog changes (views redefined after a commit)
 * and queries never interleave, so no write-write conflicts on the catalog. Sessions run in UTC.
 */
export class DuckDbEngine implements Engine {
  readonly kind = 'duckdb';
  readonly dialect = duckDbDialect;
  private queue: Promise<unknown> = Promise.resolve();
  /** Compressed bytes per top-level column of each Parquet file read: what the manifest knew, else its footer. */
  private readonly columnSizes = new Map<string, Map<string, number>>();
  /** Column sizes the manifest holds for files (`knowColumnBytes`), as JSON until a scan needs them (`columnSizes`). */
  private readonly knownColumnBytes = new Map<string, string>();
  /** File lists handed to `read_parquet`, by their first file, to resolve a profile that shows only the first few. */
  private readonly fileLists = new Map<string, string[]>();
  /**
   * Each Parquet file's schema (as `parquet_schema` gives it) as a number (`schemaIds`), with the size and modification
   * time it was read at, by path: see `sameColumns`.
   */
  private readonly parquetSchemas = new Map<string, { id: number; version: string }>();
  private readonly schemaIds = new Map<string, number>();
  /** Views defined over files at least once (`schema.table`). */
  private readonly viewsDefined = new Set<string>();

  /** DuckDB's own threads (its `threads` setting as the engine was made): read once, by `threadCount`. */
  private threads: number | undefined;
  /** Callers of `leaveCore` not yet released: while any is, DuckDB runs on one thread fewer. */
  private leaving = 0;
  /** The key `tokenize` was made with (`installMacros`); undefined while it raises an error. */
  private tokenizeKey: string | undefined;
  /** Set by `sandbox`: settings can no longer change. */
  private locked = false;
  /** The engine's own memory limit, to set back (`text`), and about its size (DuckDB shows it to one decimal). */
  private ownLimit: { text: string; bytes: number } | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    readonly version: string,
    private profilePath: string | undefined,
    /** As configured (`DuckDbOptions.memoryLimit`); DuckDB's default when undefined. */
    private readonly memoryLimit: string | undefined,
  ) {}

  static async create(options: DuckDbOptions = {}): Promise<DuckDbEngine> {
    const config: Record<string, string> = {};
    if (options.threads) config.threads = String(options.threads);
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    try {
      const instance = await duckdbApi().DuckDBInstance.create(options.path ?? ':memory:', config);
      const conn = await instance.connect();
      // One round trip to DuckDB's thread for the settings (each statement is one at every start of a command), and
      // the macros, before profiling starts: profiled, these five statements took ~2 ms more of every command's start.
      let settings = `SET TimeZone = 'UTC'; ${macroSql(undefined)};`;
      let profilePath: string | undefined;
      if (options.profile ?? true) {
        profilePath = join(tmpdir(), `finmesh-duckdb-profile-${process.pid}-${randomUUID().slice(0, 8)}.json`);
        // In the same call: a statement profiled before the output is set would be printed on standard output.
        settings += ` PRAGMA enable_profiling = 'json'; SET profiling_output = ${quoteLiteral(profilePath)}; SET profiling_coverage = 'ALL';
           SET custom_profiling_settings = '{"EXTRA_INFO": "true", "OPERATOR_NAME": "true", "OPERATOR_TYPE": "true"}'`;
      }
      await conn.run(settings);
      return new DuckDbEngine(instance, conn, duckdbApi().version(), profilePath, options.memoryLimit);
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `cannot start DuckDB: ${(cause as Error).message}`, { cause });
    }
  }

  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.run(sql);
    });
  }

  query(sql: string): Promise<QueryResult> {
    return this.serial(async () => toResult(await this.runAndRead(sql)));
  }

  describe(select: string): Promise<ColumnInfo[]> {
    return this.serial(async () => {
      const r = await this.runAndRead(`DESCRIBE ${select}`);
      return r.getRowObjectsJson().map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
    });
  }

  async parse(sql: string): Promise<ParsedSql> {
    const r = await this.query(`SELECT json_serialize_sql(${quoteLiteral(sql)}) AS j`);
    const j = JSON.parse(String(r.rows[0]?.j)) as {
      error: boolean;
      error_type?: string;
      error_message?: string;
      statements?: { node: { type?: string } }[];
    };
    if (j.error) {
      // json_serialize_sql serialises SELECTs only: anything else parses but is refused as "not supported".
      const kind = j.error_type === 'parser' ? 'syntax' : 'unsupported';
      const statement = kind === 'unsupported' ? await this.refusedStatement(sql) : undefined;
      return { error: { kind, message: j.error_message ?? 'the SQL does not parse', statement }, statements: [] };
    }
    return {
      statements: (j.statements ?? []).map((st) => ({ type: 'SELECT', ast: st.node })),
    };
  }

  /** Which statement of `sql` the parser refuses to serialise (the first that is not a SELECT), and its verb. */
  private async refusedStatement(sql: string): Promise<{ index: number; count: number; verb: string } | undefined> {
    const parts = splitStatements(sql);
    const count = await this.serial(async () => (await this.conn.extractStatements(sql)).count);
    if (parts.length !== count) return undefined;
    for (const [i, part] of parts.entries()) {
      const r = await this.query(`SELECT json_serialize_sql(${quoteLiteral(part)}) AS j`);
      if ((JSON.parse(String(r.rows[0]?.j)) as { error: boolean }).error)
        return { index: i + 1, count, verb: /^[\s(]*([A-Za-z]+)/.exec(stripComments(part))?.[1]?.toUpperCase() ?? '?' };
    }
    return undefined;
  }

  async defineDataset(schema: string, table: string, files: string[], columns?: ColumnInfo[]): Promise<void> {
    let body: string;
    if (files.length > 0) {
      this.rememberFiles(files);
      // Only a view defined again (a stream's bronze after each commit): a command that defines each view once would
      // read every file's schema and gain nothing.
      const key = `${schema}.${table}`;
      const again = this.viewsDefined.has(key);
      this.viewsDefined.add(key);
      const same = again && (await this.sameColumns(files));
      body = `SELECT * FROM ${duckDbDialect.readParquet(files, { unionByName: !same })}`;
    } else if (columns && columns.length > 0) {
      body = `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false`;
    } else {
      return;
    }
    return this.defineView(schema, table, body);
  }

  /**
   * Whether every file of a view has the same Parquet schema (the one a stream's bronze files share until its source's
   * schema changes): DuckDB then binds the view from the first file alone, where by name it opens every file — 65 µs a
   * bronze file, 130 ms a commit once bronze holds 2,000 files (15 µs a file without). Each file's schema is read once
   * per process and kept with the file's size and modification time (a path written again, by another process after
   * a schema change, is read again): the first check of a large view costs about twice its binding by name, later
   * ones a quarter. Short lists, and lists longer than the cache, bind by name.
   */
  private async sameColumns(files: string[]): Promise<boolean> {
    if (files.length < SAME_COLUMNS_FROM_FILES || files.length > SCHEMA_CACHE_FILES) return false;
    const versions = new Map<string, string>();
    try {
      for (const f of files) {
        const st = statSync(f);
        versions.set(f, `${st.size}:${st.mtimeMs}`);
      }
    } catch {
      // A file gone: the view binds by name, and fails there as it always did.
      return false;
    }
    const known = (f: string) => this.parquetSchemas.get(f)?.version === versions.get(f);
    let unknown = files.filter((f) => !known(f));
    if (this.parquetSchemas.size + unknown.length > SCHEMA_CACHE_FILES) {
      this.parquetSchemas.clear();
      this.schemaIds.clear();
      unknown = files;
    }
    try {
      for (let i = 0; i < unknown.length; i += SCHEMAS_PER_QUERY) {
        const r = await this.query(
          `SELECT file_name AS f, to_json(list(struct_pack(${SCHEMA_FIELDS.join(', ')}) ORDER BY column_id))::VARCHAR AS s
           FROM parquet_schema([${unknown
             .slice(i, i + SCHEMAS_PER_QUERY)
             .map(quoteLiteral)
             .join(', ')}]) GROUP BY file_name`,
        );
        for (const row of r.rows) {
          // Files with the same schema share its number: the text is kept once.
          const text = String(row.s);
          const id = this.schemaIds.get(text) ?? this.schemaIds.size;
          this.schemaIds.set(text, id);
          const f = String(row.f);
          this.parquetSchemas.set(f, { id, version: versions.get(f) ?? '' });
        }
      }
    } catch {
      return false;
    }
    const first = this.parquetSchemas.get(files[0] as string)?.id;
    return first !== undefined && files.every((f) => known(f) && this.parquetSchemas.get(f)?.id === first);
  }

  defineView(schema: string, table: string, select: string): Promise<void> {
    // Defining a view reads no data (DuckDB binds it from the files' footers): there is no profile to read after it.
    return this.serial(() =>
      this.run(
        `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}; CREATE OR REPLACE VIEW ${quoteIdent(schema)}.${quoteIdent(table)} AS ${select}`,
        false,
      ),
    );
  }

  createTempTable(name: string, select: string): Promise<void> {
    return this.exec(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(name)} AS ${select}`);
  }

  dropTempTable(name: string): Promise<void> {
    return this.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
  }

  async installMacros(options: { tokenizationKey?: string | undefined }): Promise<void> {
    // Every macro is there from the start (`create`), tokenize raising its error: only a key changes anything.
    if (options.tokenizationKey === this.tokenizeKey) return;
    await this.serial(() => this.run(tokenizeMacroSql(options.tokenizationKey), false));
    this.tokenizeKey = options.tokenizationKey;
  }

  writeParquet(select: string, dir: string, options: WriteParquetOptions = {}): Promise<WrittenFile[]> {
    return this.serial(() => this.write(select, dir, options)).then((out) => {
      // A scan of these files before their commit (a model's quality gate) needs their sizes as well.
      this.knowColumnBytes(out.map((f) => ({ path: f.path, columnBytes: f.columnBytes })));
      return out;
    });
  }

  private async write(select: string, dir: string, options: WriteParquetOptions): Promise<WrittenFile[]> {
    const partition = options.partitionBy ? `, PARTITION_BY (${quoteIdent(options.partitionBy)}), OVERWRITE_OR_IGNORE true` : '';
    // Keeping the input's order makes DuckDB hold back every batch that finishes ahead of an earlier one: its
    // memory then grows with the input (COPY of 1M rows of NDJSON: ~330 MiB; 5M: ~550 MiB). Unordered, it stays
    // near 350 MiB; in row groups of 32k rows rather than 122,880, near 230–270 MiB.
    const order = options.ordered === false ? ', PRESERVE_ORDER false' : '';
    const rowGroupRows =
      options.rowGroupRows ?? (options.ordered === false && options.rows ? await this.rowGroupPerThread(options.rows) : undefined);
    const rowGroup = rowGroupRows ? `, ROW_GROUP_SIZE ${Math.trunc(rowGroupRows)}` : '';
    const target = options.partitionBy ? dir : join(dir, 'part-0.parquet');
    if (!options.partitionBy) await mkdir(dir, { recursive: true });
    // zstd at level 1 rather than DuckDB's 3: on the lake's own data as small or smaller (silver transactions 51.6
    // vs 53.3 MiB; bronze +2%) and cheaper to write (a stream's 50k-change bronze batch: ~9% less time).
    // RETURN_STATS: each file's rows and its columns' compressed sizes, as DuckDB wrote them — no footer read again to
    // count the rows (a query a file, ~2 ms), and the sizes go to the manifest for whoever measures a scan later.
    const stats = await this.runAndRead(
      `COPY (${select}) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1${partition}${order}${rowGroup}, RETURN_STATS)`,
    );
    const written = new Map<string, { rows: number; columnBytes: string | undefined }>();
    for (const row of stats.getRowObjectsJson()) {
      const rows = Number(row.count);
      const sizes = topColumnBytes(row.column_statistics, rows);
      written.set(resolve(String(row.filename)), { rows, columnBytes: sizes && JSON.stringify(Object.fromEntries(sizes)) });
    }
    const out: WrittenFile[] = [];
    for (const path of await listParquet(dir)) {
      const known = written.get(resolve(path));
      const rows = known
        ? known.rows
        : Number(
            (
              await this.runAndRead(`SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata(${quoteLiteral(path)})`)
            ).getRowObjectsJson()[0]?.n ?? 0,
          );
      const rel = relative(dir, path).split(sep);
      out.push({ path, partition: rel.length > 1 ? rel.slice(0, -1).join('/') : undefined, rows, columnBytes: known?.columnBytes });
    }
    return out;
  }

  /**
   * Rows per row group for an unordered write of about `rows` rows: a share per thread, so each thread writes its own
   * row group. In one row group (DuckDB's default holds 122,880 rows), the threads' parts of a stream's 50k-change
   * batch are merged at the end and written by one thread: 1M changes embedded, 2 threads, 6 alternating pairs:
   * 6.8 → 6.5 CPU s of the process (medians), 260k → 266k changes/s; a 50k-change COPY alone ~20% less time. Parquet
   * files are ~8% larger (more row groups, each with its own dictionaries). At least 8,192 rows a group, so a small
   * batch stays one row group.
   */
  private async rowGroupPerThread(rows: number): Promise<number | undefined> {
    const all = await this.threadCount();
    const share = Math.ceil(rows / (this.leaving > 0 ? Math.max(1, all - 1) : all));
    return share >= DEFAULT_ROW_GROUP_ROWS ? undefined : Math.max(MIN_SHARED_ROW_GROUP_ROWS, share);
  }

  /** DuckDB's own threads (its `threads` setting as the engine was made), read once. */
  private async threadCount(): Promise<number> {
    if (this.threads === undefined) {
      const r = await this.runAndRead("SELECT current_setting('threads')::INTEGER AS t");
      this.threads = Math.max(1, Number(r.getRowObjectsJson()[0]?.t ?? 1));
    }
    return this.threads;
  }

  /**
   * DuckDB on one thread fewer while a stream runs. On 2 CPUs under the app's load of 200k changes/s (the app, the
   * stream's reader and DuckDB sharing them), the stream on both of DuckDB's threads fell behind the load more often:
   * event → bronze p99 2.07, 2.32, 4.26, 1.82 s against 1.44, 1.05, 2.88, 1.90 s on one (4 alternating pairs; with
   * the engine made with one thread, 5 pairs: 1.06–2.90 against 0.71–1.46 s). DuckDB's threads wait on each other
   * when one is descheduled, and a 50k-change COPY gains little from the second: a 1M-change backlog alone took 6.54
   * against 6.35 CPU s (medians of 6 alternating pairs) for 267k against 243k changes/s — a backlog catches up ~9%
   * slower, a stream under load keeps up. Over Kafka (its client on the main thread too) no change: 129k against 127k.
   * The setting is DuckDB's own (`SET threads`), changed once a stream, not around each COPY: set and set back per
   * batch, it cost more than it saved (the pool's thread stopped and started each time: 177k changes/s).
   */
  leaveCore(): Promise<() => Promise<void>> {
    return this.serial(async () => {
      const all = await this.threadCount();
      const noop = async () => {};
      if (all <= 1 || this.locked) return noop;
      if (this.leaving === 0) await this.run(`SET threads = ${all - 1}`);
      this.leaving++;
      let released = false;
      return () => {
        // Counted when called, not when its turn comes: two calls at once release once.
        if (released) return Promise.resolve();
        released = true;
        return this.serial(async () => {
          // A sandboxed engine keeps its settings (and is not written with again).
          if (--this.leaving === 0 && !this.locked) await this.run(`SET threads = ${all}`);
        });
      };
    });
  }

  execUnderMemoryLimit(sql: string, bytes: number): Promise<void> {
    return this.serial(async () => {
      if (this.locked) return void (await this.run(sql));
      if (this.ownLimit === undefined) {
        // Without a configured limit, DuckDB's default (80% of the memory it sees) is known only as DuckDB shows it,
        // to one decimal ('18.8 GiB' for 18.83): it is set back as the middle of what that text stands for (18.85 GiB,
        // shown as the same text), the same every time, so it never drifts. Not RESET: DuckDB 1.4's RESET
        // memory_limit shows the default again but leaves its buffer pool at the lower limit.
        const r = await this.runAndRead(`SELECT current_setting('memory_limit') AS m`);
        const shown = String(r.getRowObjectsJson()[0]?.m ?? '');
        this.ownLimit = { text: this.memoryLimit ?? middleOf(shown), bytes: sizeBytes(shown) ?? 0 };
      }
      if (this.ownLimit.bytes <= bytes) return void (await this.run(sql));
      // One statement list: nothing else the engine runs meanwhile runs under the lower limit.
      const restore = `SET memory_limit = ${quoteLiteral(this.ownLimit.text)}`;
      try {
        await this.run(`SET memory_limit = '${Math.floor(bytes)}B'; ${sql}; ${restore}`);
      } catch (cause) {
        await this.run(restore);
        throw cause;
      }
    });
  }

  /** Profiling stops too: the profile's file is outside the folders a sandboxed engine may touch. */
  async sandbox(readableRoots: string[]): Promise<void> {
    const dirs = readableRoots.map((r) => quoteLiteral(r.endsWith(sep) ? r : r + sep)).join(', ');
    // DuckDB lets a sandboxed session read its temporary directory (`.tmp` below the working folder by default): it
    // is moved inside the first readable root, so a query reads nothing outside those.
    const first = readableRoots[0];
    const temp = first ? `SET temp_directory = ${quoteLiteral(join(first, '.staging', 'duckdb-tmp'))}; ` : `SET temp_directory = ''; `;
    const profile = this.profilePath;
    this.profilePath = undefined;
    await this.exec(
      `${profile ? 'PRAGMA disable_profiling; ' : ''}${temp}SET allowed_directories = [${dirs}]; SET enable_external_access = false; SET lock_configuration = true`,
    );
    this.locked = true;
    if (profile) await rm(profile, { force: true });
  }

  interrupt(): void {
    this.conn.interrupt();
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.conn.closeSync();
    this.instance.closeSync();
    if (this.profilePath) await rm(this.profilePath, { force: true });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Runs `sql`; `scans` false for a statement that reads no data, whose profile is then not read. */
  private async run(sql: string, scans = true): Promise<void> {
    try {
      await this.conn.run(sql);
    } catch (cause) {
      throw new FinmeshError('QUERY_INVALID', (cause as Error).message, { cause });
    }
    if (scans) await this.account(sql);
    else if (this.profilePath) this.rememberLists(sql);
  }

  private async runAndRead(sql: string): Promise<DuckDBResultReader> {
    let r: DuckDBResultReader;
    try {
      r = await this.conn.runAndReadAll(sql);
    } catch (cause) {
      throw new FinmeshError('QUERY_INVALID', (cause as Error).message, { cause });
    }
    await this.account(sql);
    return r;
  }

  /**
   * What the statement just run read, from its profile: for each Parquet scan, the files it opened and the compressed
   * size of the columns it needed (projected or filtered on) in them. Called inside the statement's turn of the queue,
   * so the usage goes to the scope of whoever ran the statement. Measuring never fails the statement.
   */
  private async account(sql: string): Promise<void> {
    if (!this.profilePath) return;
    try {
      this.rememberLists(sql);
      const profile = JSON.parse(await readFile(this.profilePath, 'utf8')) as ProfileNode;
      const scans = parquetScans(profile);
      if (scans.length === 0) return;
      const reads: { path: string; share: number; columns: Set<string> }[] = [];
      for (const scan of scans) {
        const files = this.filesOf(scan);
        for (const f of files.paths) reads.push({ path: f, share: files.share, columns: scan.columns });
      }
      await this.loadColumnSizes([...new Set(reads.map((r) => r.path))]);
      for (const r of reads) {
        const sizes = this.columnSizes.get(r.path);
        let bytes = 0;
        if (sizes) for (const c of r.columns) bytes += sizes.get(c) ?? 0;
        addUsage('engine.bytes_scanned', bytes * r.share, { path: r.path });
        addUsage('storage.objects_read', r.share, { path: r.path });
      }
    } catch {
      // A profile that cannot be read (another statement's, a format change) only loses a measurement.
    }
  }

  /** The file lists `sql` hands to `read_parquet`, for a later profile that shows only their first few files. */
  private rememberLists(sql: string): void {
    if (sql.includes('read_parquet(')) for (const list of parquetLists(sql)) this.rememberFiles(list);
  }

  private rememberFiles(files: string[]): void {
    const first = files[0];
    if (first === undefined || files.length <= SHOWN_FILES) return;
    if (this.fileLists.size > COLUMN_SIZE_CACHE) this.fileLists.clear();
    this.fileLists.set(first, files);
  }

  /** The files a scan read: all of them when the profile lists them, else the list they belong to, pro rata. */
  private filesOf(scan: ParquetScan): { paths: string[]; share: number } {
    if (!scan.truncated) return { paths: scan.shown, share: 1 };
    const list = scan.shown[0] === undefined ? undefined : this.fileLists.get(scan.shown[0]);
    if (!list || list.length === 0) return { paths: scan.shown, share: scan.total / Math.max(1, scan.shown.length) };
    return { paths: list, share: Math.min(1, scan.total / list.length) };
  }

  knowColumnBytes(files: { path: string; columnBytes: string | undefined }[]): void {
    if (!this.profilePath) return;
    for (const f of files) {
      if (f.columnBytes === undefined || this.knownColumnBytes.get(f.path) === f.columnBytes) continue;
      // Sizes other than those told before: the path was written again (a replayed batch), so its measure goes too.
      this.knownColumnBytes.set(f.path, f.columnBytes);
      this.columnSizes.delete(f.path);
    }
    if (this.knownColumnBytes.size > COLUMN_SIZE_CACHE) this.knownColumnBytes.clear();
  }

  private async loadColumnSizes(paths: string[]): Promise<void> {
    let missing = paths.filter((p) => !this.columnSizes.has(p));
    if (missing.length === 0) return;
    if (this.columnSizes.size + missing.length > COLUMN_SIZE_CACHE) this.columnSizes.clear();
    // What the manifest knew (`knowColumnBytes`), parsed only now that a scan read the file; the others' footers.
    missing = missing.filter((p) => {
      const json = this.knownColumnBytes.get(p);
      if (json === undefined) return true;
      try {
        this.columnSizes.set(p, new Map(Object.entries(JSON.parse(json) as Record<string, number>)));
        return false;
      } catch {
        return true;
      }
    });
    if (missing.length === 0) return;
    const r = await this.conn.runAndReadAll(
      `SELECT file_name, path_in_schema, sum(total_compressed_size)::BIGINT AS b FROM parquet_metadata([${missing.map(quoteLiteral).join(', ')}]) GROUP BY ALL`,
    );
    for (const p of missing) this.columnSizes.set(p, new Map());
    for (const row of r.getRowObjectsJson()) {
      const column = String(row.path_in_schema).split(', ')[0] ?? '';
      const sizes = this.columnSizes.get(String(row.file_name));
      sizes?.set(column, (sizes.get(column) ?? 0) + Number(row.b));
    }
  }
}

/** How many files a scan's profile names before it cuts the list short with `...`. */
const SHOWN_FILES = 5;

interface ProfileNode {
  operator_name?: string;
  extra_info?: Record<string, unknown>;
  children?: ProfileNode[];
}

interface ParquetScan {
  shown: string[];
  truncated: boolean;
  total: number;
  columns: Set<string>;
}

/** The Parquet scans of a profile, with the files they read and the columns they needed. */
function parquetScans(node: ProfileNode, out: ParquetScan[] = []): ParquetScan[] {
  const info = node.extra_info ?? {};
  if (node.operator_name === 'READ_PARQUET' || info.Function === 'READ_PARQUET') {
    const names = String(info['Filename(s)'] ?? '');
    const shown = names
      .split(', ')
      .map((n) => n.trim())
      .filter((n) => n !== '' && n !== '...');
    const projections = Array.isArray(info.Projections) ? info.Projections.map(String) : String(info.Projections ?? '').split('\n');
    const filters = Array.isArray(info.Filters) ? info.Filters.join(' ') : String(info.Filters ?? '');
    const columns = new Set<string>();
    for (const p of projections) if (p.trim() !== '') columns.add(p.trim().split('.')[0] as string);
    for (const id of filters.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) columns.add(id);
    out.push({ shown, truncated: names.trim().endsWith('...'), total: Number(info['Total Files Read'] ?? shown.length), columns });
  }
  for (const c of node.children ?? []) parquetScans(c, out);
  return out;
}

/** The file lists of `read_parquet([...])` calls in a statement (as `duckDbDialect.readParquet` spells them). */
function parquetLists(sql: string): string[][] {
  const lists: string[][] = [];
  for (const m of sql.matchAll(/read_parquet\(\[((?:'(?:[^']|'')*'(?:,\s*)?)+)\]/g)) {
    lists.push([...(m[1] ?? '').matchAll(/'((?:[^']|'')*)'/g)].map((x) => (x[1] ?? '').replaceAll("''", "'")));
  }
  return lists;
}

/**
 * Compressed bytes per top-level column from a `COPY … RETURN_STATS` row's `column_statistics` (keys are quoted
 * column paths, `"payer"."cpf"`): a struct's or list's leaves add up to their column, as `parquet_metadata` sums them.
 * Undefined when a leaf of a file with rows reports no size, or none can be read: DuckDB 1.5 gives 0 for INTERVAL and
 * TIME WITH TIME ZONE leaves, whose footer sizes are not 0 — the footer is then read when a scan is measured.
 */
function topColumnBytes(statistics: unknown, rows: number): Map<string, number> | undefined {
  if (!Array.isArray(statistics)) return undefined;
  const out = new Map<string, number>();
  for (const entry of statistics as { key: unknown; value: unknown }[]) {
    const top = /^"((?:[^"]|"")*)"/.exec(String(entry.key))?.[1]?.replaceAll('""', '"');
    const size = Array.isArray(entry.value)
      ? (entry.value as { key: unknown; value: unknown }[]).find((v) => v.key === 'column_size_bytes')
      : undefined;
    const bytes = Number(size?.value);
    if (top === undefined || !Number.isFinite(bytes) || (bytes <= 0 && rows > 0)) return undefined;
    out.set(top, (out.get(top) ?? 0) + bytes);
  }
  return out;
}

async function listParquet(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.parquet')) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);

function toResult(r: DuckDBResultReader): QueryResult {
  const names = r.columnNames();
  const types = r.columnTypes().map(String);
  const columns = names.map((name, i) => ({ name, type: types[i] ?? 'UNKNOWN' }));
  const rows = r.getRowObjectsJson().map((row) => {
    const out: Record<string, unknown> = {};
    columns.forEach((c) => {
      out[c.name] = jsonValue(row[c.name], c.type);
    });
    return out;
  });
  return { columns, rows };
}

/** Integers and decimals arrive as strings; they become numbers when that loses nothing. */
function jsonValue(v: unknown, type: string): unknown {
  if (typeof v !== 'string') return v;
  if (INTEGER_TYPES.has(type)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  if (type.startsWith('DECIMAL')) {
    const n = Number(v);
    return Number.isFinite(n) && Math.abs(n) < 2 ** 53 / 1000 ? n : v;
  }
  return v;
}

/** Splits SQL at top-level semicolons: not inside quotes ('…', "…"), dollar quotes or comments. Empty statements dropped. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      i = end < 0 ? sql.length : end + 1;
      // A doubled quote inside a string is an escaped quote: the loop steps over it as a new string.
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      continue;
    }
    if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
        continue;
      }
    }
    if (c === ';') {
      out.push(sql.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  out.push(sql.slice(start));
  return out.filter((s) => stripComments(s).trim() !== '');
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
}

const SIZE_UNITS: Record<string, number> = {
  bytes: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

const SIZE_SHOWN = /^([0-9.]+) ?([A-Za-z]+)$/;

/** A size as DuckDB shows one (`18.8 GiB`, `953.6 MiB`, `0 bytes`) in bytes; undefined for any other text. */
function sizeBytes(shown: string): number | undefined {
  const m = SIZE_SHOWN.exec(shown.trim());
  const unit = m ? SIZE_UNITS[m[2] as string] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : undefined;
}

/** The middle of the sizes DuckDB shows as `shown` (it cuts to one decimal): `18.85 GiB` for `18.8 GiB`. */
function middleOf(shown: string): string {
  const m = SIZE_SHOWN.exec(shown.trim());
  if (!m || m[2] === 'bytes') return shown;
  const decimals = m[1]?.split('.')[1]?.length ?? 0;
  return `${(Number(m[1]) + 0.5 * 10 ** -decimals).toFixed(decimals + 1)} ${m[2]}`;
}
