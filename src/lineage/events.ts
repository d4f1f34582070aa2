import { datasetKey, type Product, type Source, sqlName } from '../config/project.js';
import type { ColumnInfo } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import { BRONZE_METADATA_COLUMNS } from '../lake/layout.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun } from '../runs/runs.js';
import { columnLineage } from './column-lineage.js';
import { lakeDatasetId, projectNamespace, sourceDatasetId, sqlSymlink } from './naming.js';
import {
  type ColumnLineage,
  type DatasetId,
  facets,
  type LineageDataset,
  PRODUCER,
  RUN_EVENT_SCHEMA,
  type RunEvent,
} from './openlineage.js';

export type { ParentRun };

type Catalog = Map<string, { id: DatasetId; columns: string[] }>;

/**
 * Resolves a dataset's SQL name (`payments_silver.transactions`) to its OpenLineage id and columns: the columns
 * its last build recorded (from `builtColumns`), else its contract's.
 */
export function catalogOf(ctx: Context, builtColumns: Map<string, string[]> = new Map()): Catalog {
  const { project } = ctx;
  const byName = new Map<string, { id: DatasetId; columns: string[] }>();
  for (const s of project.sources) {
    byName.set(sqlName(s.dataset), {
      id: lakeDatasetId(ctx.storage.location, s.dataset),
      columns: [...s.config.schema.map((c) => c.name), ...BRONZE_METADATA_COLUMNS.map((c) => c.name)],
    });
  }
  for (const p of project.products) {
    const columns = builtColumns.get(datasetKey(p.dataset)) ?? (p.contract.schema[0]?.properties ?? []).map((x) => x.name);
    byName.set(sqlName(p.dataset), { id: lakeDatasetId(ctx.storage.location, p.dataset), columns });
  }
  return byName;
}

/** The catalog with the columns each product's last build recorded in the metadata store. */
export async function builtCatalog(ctx: Context): Promise<Catalog> {
  const built = new Map<string, string[]>();
  for (const p of ctx.project.products) {
    const schema = (await ctx.meta.manifest.state(datasetKey(p.dataset)))?.schema;
    if (schema)
      built.set(
        datasetKey(p.dataset),
        schema.map((c) => c.name),
      );
  }
  return catalogOf(ctx, built);
}

/** Engines as OpenLineage's processing_engine facet names them. */
const ENGINE_NAMES: Record<string, string> = { duckdb: 'DuckDB', bigquery: 'BigQuery' };

function baseEvent(ctx: Context, eventType: RunEvent['eventType'], runId: string, job: string, at: Date): RunEvent {
  return {
    eventType,
    eventTime: at.toISOString(),
    run: { runId },
    job: { namespace: projectNamespace(ctx.project), name: job },
    producer: PRODUCER,
    schemaURL: RUN_EVENT_SCHEMA,
  };
}

function parentFacet(ctx: Context, parent: ParentRun | undefined) {
  return parent ? { run: { runId: parent.runId }, job: { namespace: projectNamespace(ctx.project), name: parent.job } } : undefined;
}

/** The finmesh facet: domain, product, zone and the classification of every column (from the contract). */
function finmeshFacet(product: Product) {
  const classifications: Record<string, string> = {};
  for (const p of product.contract.schema[0]?.properties ?? []) if (p.classification) classifications[p.name] = p.classification;
  return { domain: product.domain, product: product.name, zone: product.dataset.zone, classifications };
}

function productDataset(ctx: Context, product: Product, columns: ColumnInfo[] | undefined): LineageDataset {
  const props = new Map((product.contract.schema[0]?.properties ?? []).map((p) => [p.name, p]));
  const owner = product.owner;
  return {
    ...lakeDatasetId(ctx.storage.location, product.dataset),
    facets: facets({
      schema: columns
        ? {
            fields: columns.map((c) => ({
              name: c.name,
              type: c.type,
              ...(props.get(c.name)?.description ? { description: props.get(c.name)?.description } : {}),
            })),
          }
        : undefined,
      dataSource: { name: `${product.dataset.domain}_${product.dataset.zone}`, uri: `file://${ctx.storage.location}` },
      symlinks: { identifiers: [sqlSymlink(ctx.project, product.dataset)] },
      ownership: owner ? { owners: [{ name: owner, type: 'OWNER' }] } : undefined,
      documentation: product.contract.description?.purpose ? { description: product.contract.description.purpose } : undefined,
      finmesh: finmeshFacet(product),
    }),
  };
}

function inputDataset(ctx: Context, catalog: Catalog, name: string, columns: string[] | undefined): LineageDataset {
  const entry = catalog.get(name);
  const ref = [...ctx.project.sources.map((s) => s.dataset), ...ctx.project.products.map((p) => p.dataset)].find(
    (d) => sqlName(d) === name,
  );
  return {
    ...(entry?.id ?? { namespace: projectNamespace(ctx.project), name }),
    facets: facets({
      schema: columns ? { fields: columns.map((c) => ({ name: c })) } : undefined,
      symlinks: ref ? { identifiers: [sqlSymlink(ctx.project, ref)] } : undefined,
    }),
  };
}

/** Column lineage of a model's SQL; an unparsable model gives none rather than failing the run. */
export async function modelColumnLineage(
  ctx: Context,
  sql: string,
  outputColumns: string[],
  catalog?: Catalog,
): Promise<ColumnLineage | undefined> {
  const parsed = await ctx.engine.parse(sql);
  const statement = parsed.statements[0];
  if (parsed.error || !statement) return undefined;
  const names = catalog ?? (await builtCatalog(ctx));
  return columnLineage({
    node: statement.ast,
    columnsOf: (name) => names.get(name)?.columns ?? [],
    outputColumns,
    datasetId: (name) => names.get(name)?.id ?? { namespace: projectNamespace(ctx.project), name },
  });
}

export interface ModelRunFacts {
  product: Product;
  runId: string;
  parent: ParentRun | undefined;
  sql: string;
  inputs: string[];
  startedAt: Date;
}

export function modelStartEvent(ctx: Context, f: ModelRunFacts): RunEvent {
  const e = baseEvent(ctx, 'START', f.runId, jobName.model(f.product), f.startedAt);
  e.run.facets = facets({
    parent: parentFacet(ctx, f.parent),
    processing_engine: {
      name: ENGINE_NAMES[ctx.engine.kind] ?? ctx.engine.kind,
      version: ctx.engine.version ?? 'unknown',
      openlineageAdapterVersion: '0.1.0',
    },
  });
  e.job.facets = facets({
    jobType: { processingType: 'BATCH', integration: 'FINMESH', jobType: 'MODEL' },
    sql: { query: f.sql, dialect: ctx.engine.dialect.name },
  });
  const catalog = catalogOf(ctx);
  e.inputs = f.inputs.map((i) => inputDataset(ctx, catalog, i, undefined));
  e.outputs = [{ ...lakeDatasetId(ctx.storage.location, f.product.dataset) }];
  return e;
}

export function modelEndEvent(
  ctx: Context,
  f: ModelRunFacts,
  end: {
    ok: boolean;
    error?: string | undefined;
    rows: number;
    bytes: number;
    columns?: ColumnInfo[] | undefined;
    lineage?: ColumnLineage | undefined;
    catalog?: Catalog | undefined;
  },
): RunEvent {
  const e = modelStartEvent(ctx, f);
  e.eventType = end.ok ? 'COMPLETE' : 'FAIL';
  e.eventTime = new Date().toISOString();
  if (!end.ok) {
    e.run.facets = { ...e.run.facets, ...facets({ errorMessage: { message: end.error ?? 'failed', programmingLanguage: 'SQL' } }) };
  }
  const catalog = end.catalog ?? catalogOf(ctx);
  e.inputs = f.inputs.map((i) => inputDataset(ctx, catalog, i, catalog.get(i)?.columns));
  const out = productDataset(ctx, f.product, end.columns);
  if (end.ok && end.lineage)
    out.facets = { ...out.facets, ...facets({ columnLineage: { fields: end.lineage.fields, dataset: end.lineage.dataset } }) };
  if (end.ok) out.outputFacets = facets({ outputStatistics: { rowCount: end.rows, size: end.bytes } });
  e.outputs = [out];
  return e;
}

/** One committed stream batch: source → bronze, column for column. */
export function streamBatchEvents(
  ctx: Context,
  source: Source,
  f: { runId: string; startedAt: Date; rows: number; bytes: number; ok: boolean; error?: string; connectionString?: string },
): RunEvent[] {
  const job = jobName.stream(source);
  const start = baseEvent(ctx, 'START', f.runId, job, f.startedAt);
  const jobFacets = facets({ jobType: { processingType: 'STREAMING', integration: 'FINMESH', jobType: 'INGEST' } });
  start.job.facets = jobFacets;
  const src = sourceDatasetId(ctx.project, source, f.connectionString);
  const cols = source.config.schema;
  const lineage: ColumnLineage = {
    fields: Object.fromEntries(
      cols.map((c) => [
        c.name,
        { inputFields: [{ ...src, field: c.name, transformations: [{ type: 'DIRECT', subtype: 'IDENTITY', masking: false }] }] },
      ]),
    ),
    dataset: [],
  };
  const end = baseEvent(ctx, f.ok ? 'COMPLETE' : 'FAIL', f.runId, job, new Date());
  end.job.facets = jobFacets;
  if (!f.ok) end.run.facets = facets({ errorMessage: { message: f.error ?? 'failed', programmingLanguage: 'TypeScript' } });
  end.inputs = [{ ...src, facets: facets({ schema: { fields: cols.map((c) => ({ name: c.name, type: c.type })) } }) }];
  end.outputs = [
    {
      ...lakeDatasetId(ctx.storage.location, source.dataset),
      facets: facets({
        schema: { fields: [...cols, ...BRONZE_METADATA_COLUMNS].map((c) => ({ name: c.name, type: c.type })) },
        symlinks: { identifiers: [sqlSymlink(ctx.project, source.dataset)] },
        columnLineage: lineage as unknown as Record<string, unknown>,
        finmesh: {
          domain: source.domain,
          source: source.name,
          zone: 'bronze',
          classifications: Object.fromEntries(cols.filter((c) => c.classification).map((c) => [c.name, c.classification as string])),
        },
      }),
      outputFacets: f.ok ? facets({ outputStatistics: { rowCount: f.rows, size: f.bytes } }) : undefined,
    },
  ];
  return [start, end];
}

/** START/COMPLETE (or FAIL) of a run that only groups others (`run`, `stream`, `demo`). */
export function parentRunEvent(ctx: Context, type: 'START' | 'COMPLETE' | 'FAIL', runId: string, job: string, error?: string): RunEvent {
  const e = baseEvent(ctx, type, runId, job, new Date());
  e.job.facets = facets({ jobType: { processingType: job === 'stream' ? 'STREAMING' : 'BATCH', integration: 'FINMESH', jobType: 'JOB' } });
  if (error) e.run.facets = facets({ errorMessage: { message: error, programmingLanguage: 'TypeScript' } });
  return e;
}

/** What a file-ingestion run read and wrote, for its lineage. */
export interface IngestFacts {
  runId: string;
  startedAt: Date;
  parent?: ParentRun | undefined;
  ok: boolean;
  error?: string | undefined;
  files: {
    path: string;
    outcome: string;
    size?: number;
    rows?: number;
    rejected?: number;
    sha256?: string;
    members?: string[];
    signedBy?: string;
  }[];
  rows: { accepted: number; rejected: number };
  bytes: number;
  /** When a schedule meant the run to start (`finmesh ingest --watch`). */
  nominalTime?: Date | undefined;
}

/**
 * A partner-file ingestion run: each file read (the SFTP server's dataset `sftp://host:port` + path) → landing,
 * bronze (column for column) and, when anything was refused, quarantine. The file's hash, outcome and PGP signer
 * travel in a `finmesh` input facet, so an auditor can follow a bronze row to the exact bytes received.
 */
export function ingestRunEvents(ctx: Context, source: Source, f: IngestFacts): { start: RunEvent; end: RunEvent } {
  const job = jobName.ingest(source);
  const jobFacets = facets({ jobType: { processingType: 'BATCH', integration: 'FINMESH', jobType: 'INGEST' } });
  const parent = parentFacet(ctx, f.parent);
  const start = baseEvent(ctx, 'START', f.runId, job, f.startedAt);
  start.job.facets = jobFacets;
  const nominalTime = f.nominalTime ? { nominalStartTime: f.nominalTime.toISOString() } : undefined;
  if (parent || nominalTime) start.run.facets = facets({ parent, nominalTime });
  const end = baseEvent(ctx, f.ok ? 'COMPLETE' : 'FAIL', f.runId, job, new Date());
  end.job.facets = jobFacets;
  end.run.facets = facets({
    parent,
    nominalTime,
    errorMessage: f.ok ? undefined : { message: f.error ?? 'failed', programmingLanguage: 'TypeScript' },
  });
  const server = sourceDatasetId(ctx.project, source);
  const read = f.files.filter((x) => x.sha256 !== undefined && x.outcome !== 'duplicate');
  end.inputs = read.map((x) => ({
    namespace: server.namespace,
    name: x.path,
    facets: facets({ dataSource: { name: source.name, uri: `${server.namespace}${server.name}` } }),
    inputFacets: facets({
      inputStatistics: { rowCount: (x.rows ?? 0) + (x.rejected ?? 0), ...(x.size !== undefined ? { size: x.size } : {}), fileCount: 1 },
      finmesh: {
        sha256: x.sha256,
        outcome: x.outcome,
        ...(x.members ? { members: x.members } : {}),
        ...(x.signedBy ? { signedBy: x.signedBy } : {}),
      },
    }),
  }));
  const cols = source.config.schema;
  const lake = (zone: 'landing' | 'quarantine') =>
    lakeDatasetId(ctx.storage.location, { domain: source.domain, zone, name: source.dataset.name });
  const lineage: ColumnLineage = {
    fields: Object.fromEntries(
      cols
        .filter((c) => !c.name.startsWith('_'))
        .map((c) => [
          c.name,
          {
            inputFields: read.map((x) => ({
              namespace: server.namespace,
              name: x.path,
              field: c.name,
              transformations: [{ type: 'DIRECT' as const, subtype: 'IDENTITY', masking: false }],
            })),
          },
        ]),
    ),
    dataset: [],
  };
  const quarantined = f.rows.rejected + f.files.filter((x) => x.outcome === 'quarantined').length;
  end.outputs = [
    { ...lake('landing'), outputFacets: facets({ outputStatistics: { size: f.bytes, fileCount: read.length } }) },
    {
      ...lakeDatasetId(ctx.storage.location, source.dataset),
      facets: facets({
        schema: { fields: [...cols, ...BRONZE_METADATA_COLUMNS].map((c) => ({ name: c.name, type: c.type })) },
        symlinks: { identifiers: [sqlSymlink(ctx.project, source.dataset)] },
        columnLineage: read.length > 0 ? (lineage as unknown as Record<string, unknown>) : undefined,
      }),
      outputFacets: facets({ outputStatistics: { rowCount: f.rows.accepted } }),
    },
    ...(quarantined > 0 ? [{ ...lake('quarantine'), outputFacets: facets({ outputStatistics: { rowCount: quarantined } }) }] : []),
  ];
  return { start, end };
}
