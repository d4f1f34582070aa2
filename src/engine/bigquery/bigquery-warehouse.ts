import { FinmeshError } from '../../core/errors.js';

/** What a BigQuery job cost, as the run records it. */
export interface JobStats {
  jobId: string;
  bytesProcessed: number;
  bytesBilled: number;
  slotMs: number;
  /** False when the job id had run before (a replayed load): nothing was done again. */
  ran: boolean;
}

export interface BigQueryWarehouseOptions {
  projectId: string;
  location?: string | undefined;
  /** A stand-in's address (`http://127.0.0.1:9050`); BIGQUERY_EMULATOR_HOST does the same. */
  apiEndpoint?: string | undefined;
  maximumBytesBilled?: number | undefined;
}

/** A column of a BigQuery table as its schema (the API's TableFieldSchema) gives it. */
export interface WarehouseField {
  name: string;
  type: string;
  mode?: string | undefined;
  precision?: string | undefined;
  scale?: string | undefined;
  description?: string | undefined;
  fields?: WarehouseField[] | undefined;
}

export interface WarehouseTable {
  fields: WarehouseField[];
  lastModified: Date | undefined;
  description: string | undefined;
  labels: Record<string, string>;
  clustering: string[];
  partitioning: { type: string; field: string | undefined } | undefined;
  /** `TABLE` or `VIEW`. */
  type: string | undefined;
}

type BigQueryClient = import('@google-cloud/bigquery').BigQuery;

/**
 * BigQuery as the warehouse models run in: datasets, load jobs from `gs://` Parquet with caller-chosen job ids (a job
 * id runs once in a project, so a replayed load is refused by BigQuery itself and reported as not run), GoogleSQL
 * statements, and each job's bytes and slot time. The SDK loads only when this class is created.
 */
export class BigQueryWarehouse {
  private constructor(
    private readonly client: BigQueryClient,
    readonly options: BigQueryWarehouseOptions,
  ) {}

  static async create(options: BigQueryWarehouseOptions): Promise<BigQueryWarehouse> {
    const { BigQuery } = await import('@google-cloud/bigquery');
    const endpoint = options.apiEndpoint ?? emulatorEndpoint();
    const client = new BigQuery({
      projectId: options.projectId,
      location: options.location,
      ...(endpoint ? { apiEndpoint: endpoint } : {}),
    });
    // The client takes BIGQUERY_EMULATOR_HOST as its REST base verbatim (no scheme, no /bigquery/v2 is an invalid URL):
    // the base is the endpoint's, whichever way it was given.
    if (endpoint) client.baseUrl = `${endpoint}/bigquery/v2`;
    return new BigQueryWarehouse(client, options);
  }

  /** Creates dataset `name` when missing, with `labels`. */
  async ensureDataset(name: string, labels: Record<string, string> = {}): Promise<void> {
    const ds = this.client.dataset(name);
    const [exists] = await ds.exists().catch((e: unknown) => {
      throw bigQueryError(`cannot read dataset ${name}`, e);
    });
    if (exists) return;
    await ds.create({ location: this.options.location, labels }).catch((e: unknown) => {
      if (status(e) === 409) return;
      throw bigQueryError(`cannot create dataset ${name}`, e);
    });
  }

  /**
   * Appends the Parquet objects `uris` to `dataset.table` (created from the files' schema when missing) as job
   * `jobId`; `hivePrefix` (the URI up to its first `key=value` folder) reads partition columns from the path. The
   * same job id again does nothing: `ran` is false.
   */
  async load(dataset: string, table: string, uris: string[], jobId: string, hivePrefix?: string): Promise<JobStats> {
    // BigQuery refuses a job id it has seen (409 below); asking first also holds on a stand-in that does not.
    const done = await this.previousJob(jobId);
    if (done) return done;
    try {
      const [job] = await this.client.createJob({
        jobId,
        location: this.options.location,
        configuration: {
          load: {
            sourceUris: uris,
            sourceFormat: 'PARQUET',
            destinationTable: { projectId: this.options.projectId, datasetId: dataset, tableId: table },
            writeDisposition: 'WRITE_APPEND',
            createDisposition: 'CREATE_IF_NEEDED',
            schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'],
            parquetOptions: { enableListInference: true },
            ...(hivePrefix ? { hivePartitioningOptions: { mode: 'AUTO', sourceUriPrefix: hivePrefix } } : {}),
          },
        },
      });
      return await this.finish(job, jobId, true);
    } catch (e) {
      if (status(e) === 409) return { jobId, bytesProcessed: 0, bytesBilled: 0, slotMs: 0, ran: false };
      throw bigQueryError(`load job ${jobId} into ${dataset}.${table}`, e);
    }
  }

  /** Runs a GoogleSQL statement (DDL, DML or a query) as one job; its rows when it returns any. */
  async run(sql: string, jobId?: string): Promise<JobStats & { rows: Record<string, unknown>[] }> {
    try {
      const [job] = await this.client.createQueryJob({
        query: sql,
        useLegacySql: false,
        location: this.options.location,
        ...(jobId ? { jobId } : {}),
        ...(this.options.maximumBytesBilled ? { maximumBytesBilled: String(this.options.maximumBytesBilled) } : {}),
      });
      const [rows] = await job.getQueryResults();
      return { ...(await this.finish(job, job.id ?? jobId ?? '', false)), rows: rows as Record<string, unknown>[] };
    } catch (e) {
      throw new FinmeshError('QUERY_INVALID', `BigQuery: ${message(e)}`, { cause: e });
    }
  }

  /** The job `jobId` when it ran before and succeeded (as not run now); a failed one is an error naming it. */
  private async previousJob(jobId: string): Promise<JobStats | undefined> {
    const job = this.client.job(jobId, { location: this.options.location });
    const [exists] = await job.exists().catch(() => [false]);
    if (!exists) return undefined;
    const [md] = await job.getMetadata();
    if (md.status?.errorResult)
      throw new FinmeshError('CONFLICT', `BigQuery load job ${jobId} ran before and failed: ${md.status.errorResult.message}`);
    return { jobId, bytesProcessed: 0, bytesBilled: 0, slotMs: 0, ran: false };
  }

  /** Rows in `dataset.table` (0 when it does not exist). */
  async rowCount(dataset: string, table: string): Promise<number> {
    const [exists] = await this.client.dataset(dataset).table(table).exists();
    if (!exists) return 0;
    const r = await this.run(`SELECT COUNT(*) AS n FROM \`${this.options.projectId}.${dataset}.${table}\``);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** The column names of `dataset.table`, in order. */
  async columns(dataset: string, table: string): Promise<string[]> {
    const [md] = await this.client.dataset(dataset).table(table).getMetadata();
    return ((md.schema?.fields ?? []) as { name: string }[]).map((f) => f.name);
  }

  /** What BigQuery holds about `dataset.table` (schema, last change, description, labels, layout); undefined when missing. */
  async table(dataset: string, table: string): Promise<WarehouseTable | undefined> {
    const t = this.client.dataset(dataset).table(table);
    const [exists] = await t.exists().catch((e: unknown) => {
      throw bigQueryError(`cannot read table ${dataset}.${table}`, e);
    });
    if (!exists) return undefined;
    const [md] = await t.getMetadata();
    return {
      fields: (md.schema?.fields ?? []) as WarehouseField[],
      lastModified: md.lastModifiedTime ? new Date(Number(md.lastModifiedTime)) : undefined,
      description: md.description ?? undefined,
      labels: md.labels ?? {},
      clustering: md.clustering?.fields ?? [],
      partitioning: md.timePartitioning ? { type: md.timePartitioning.type, field: md.timePartitioning.field } : undefined,
      type: md.type,
    };
  }

  /**
   * Sets the descriptions of `dataset.table`'s columns (by name; a column not named keeps its own), by a metadata patch:
   * a statement that replaces a table drops them, so they are set again after each.
   */
  async describeColumns(dataset: string, table: string, descriptions: Map<string, string>): Promise<void> {
    if (descriptions.size === 0) return;
    const t = this.client.dataset(dataset).table(table);
    try {
      const [md] = await t.getMetadata();
      const fields = ((md.schema?.fields ?? []) as WarehouseField[]).map((f) => {
        const d = descriptions.get(f.name);
        return d === undefined ? f : { ...f, description: d };
      });
      await t.setMetadata({ schema: { fields } });
    } catch (e) {
      throw bigQueryError(`cannot describe the columns of ${dataset}.${table}`, e);
    }
  }

  async tableExists(dataset: string, table: string): Promise<boolean> {
    const [exists] = await this.client.dataset(dataset).table(table).exists();
    return exists;
  }

  private async finish(job: import('@google-cloud/bigquery').Job, jobId: string, wait: boolean): Promise<JobStats> {
    if (wait) await job.promise();
    const [md] = await job.getMetadata();
    if (md.status?.errorResult) throw new FinmeshError('QUERY_INVALID', `BigQuery job ${jobId}: ${md.status.errorResult.message}`);
    return jobStats(md, jobId);
  }
}

/**
 * What a BigQuery job resource (`jobs.get`) says it cost: BigQuery reports int64 counters as strings, a query's
 * bytes billed under `statistics.query`, a load's bytes read as `statistics.load.inputFileBytes`.
 */
export function jobStats(
  md: {
    jobReference?: { jobId?: string | null } | null;
    statistics?: {
      totalBytesProcessed?: string | null;
      totalSlotMs?: string | null;
      query?: { totalBytesProcessed?: string | null; totalBytesBilled?: string | null; totalSlotMs?: string | null } | null;
      load?: { inputFileBytes?: string | null } | null;
    } | null;
  },
  jobId: string,
): JobStats {
  const s = md.statistics ?? {};
  return {
    jobId: md.jobReference?.jobId ?? jobId,
    bytesProcessed: Number(s.totalBytesProcessed ?? s.query?.totalBytesProcessed ?? s.load?.inputFileBytes ?? 0),
    bytesBilled: Number(s.query?.totalBytesBilled ?? 0),
    slotMs: Number(s.totalSlotMs ?? s.query?.totalSlotMs ?? 0),
    ran: true,
  };
}

/** `BIGQUERY_EMULATOR_HOST` (`host:port` or a URL) as an endpoint URL. */
function emulatorEndpoint(): string | undefined {
  const host = process.env.BIGQUERY_EMULATOR_HOST;
  if (!host) return undefined;
  return /^https?:\/\//.test(host) ? host : `http://${host}`;
}

function status(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function bigQueryError(what: string, e: unknown): FinmeshError {
  const code = status(e) === 403 || status(e) === 401 ? 'PERMISSION' : status(e) === 404 ? 'NOT_FOUND' : 'UNAVAILABLE';
  return new FinmeshError(code, `BigQuery: ${what}: ${message(e)}`, { cause: e });
}
