/** OpenLineage 2-0-2 event shapes finmesh emits, and helpers that stamp facets with producer and schema URLs. */

export const PRODUCER = 'https://github.com/finmesh/finmesh/tree/v0.1.0';
export const RUN_EVENT_SCHEMA = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

/** Facet name → its schema URL (the versions in test/fixtures/openlineage/facets). */
const FACET_SCHEMAS: Record<string, string> = {
  schema: 'https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
  dataSource: 'https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet',
  ownership: 'https://openlineage.io/spec/facets/1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet',
  documentation: 'https://openlineage.io/spec/facets/1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet',
  outputStatistics:
    'https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet',
  inputStatistics: 'https://openlineage.io/spec/facets/1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet',
  columnLineage: 'https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet',
  symlinks: 'https://openlineage.io/spec/facets/1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet',
  dataQualityAssertions:
    'https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet',
  dataQualityMetrics:
    'https://openlineage.io/spec/facets/1-0-3/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet',
  jobType: 'https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
  sql: 'https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet',
  processing_engine: 'https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet',
  errorMessage: 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
  parent: 'https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet',
  nominalTime: 'https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet',
  finmesh: 'https://finmesh.dev/spec/facets/1-0-0/FinmeshDatasetFacet.json#/$defs/FinmeshDatasetFacet',
};

export type Facets = Record<string, Record<string, unknown>>;

/** Stamps each facet with `_producer` and `_schemaURL`. */
export function facets(raw: Record<string, Record<string, unknown> | undefined>): Facets {
  const out: Facets = {};
  for (const [name, body] of Object.entries(raw)) {
    if (!body) continue;
    out[name] = { _producer: PRODUCER, _schemaURL: FACET_SCHEMAS[name] ?? `https://finmesh.dev/spec/facets/${name}.json`, ...body };
  }
  return out;
}

export interface DatasetId {
  namespace: string;
  name: string;
}

export interface LineageDataset extends DatasetId {
  facets?: Facets;
  inputFacets?: Facets;
  outputFacets?: Facets;
}

export interface RunEvent {
  eventType: 'START' | 'RUNNING' | 'COMPLETE' | 'ABORT' | 'FAIL' | 'OTHER';
  eventTime: string;
  run: { runId: string; facets?: Facets };
  job: { namespace: string; name: string; facets?: Facets };
  inputs?: LineageDataset[];
  outputs?: LineageDataset[];
  producer: string;
  schemaURL: string;
}

export type TransformationType = 'DIRECT' | 'INDIRECT';
export const DIRECT_SUBTYPES = ['IDENTITY', 'TRANSFORMATION', 'AGGREGATION'] as const;
export const INDIRECT_SUBTYPES = ['JOIN', 'FILTER', 'GROUP_BY', 'SORT', 'WINDOW', 'CONDITIONAL'] as const;

export interface InputField extends DatasetId {
  field: string;
  transformations: { type: TransformationType; subtype: string; masking?: boolean }[];
}

export interface ColumnLineage {
  fields: Record<string, { inputFields: InputField[] }>;
  dataset: InputField[];
}
