import type { Source } from '../config/project.js';
import { splitTopLevel } from '../config/schema.js';
import { FinmeshError } from '../core/errors.js';
import { attrs, type Block, block, labels, oneLine, raw, str, type Value } from './hcl.js';
import { bigQueryType } from './terraform.js';

/** A file of the module: path relative to the output folder, and its text. */
interface File {
  path: string;
  text: string;
}

interface BqField {
  name: string;
  type: string;
  mode: 'REQUIRED' | 'NULLABLE' | 'REPEATED';
  description?: string;
  fields?: BqField[];
}

/** The columns finmesh adds to every bronze row (`src/lake/bronze-writer.ts`), after the source's own. */
const INGEST_COLUMNS: readonly BqField[] = [
  { name: '_offset', type: 'INT64', mode: 'NULLABLE', description: 'The change’s position in its feed (null for partner files).' },
  { name: '_op', type: 'STRING', mode: 'NULLABLE', description: 'upsert or delete.' },
  { name: '_ingested_at', type: 'TIMESTAMP', mode: 'NULLABLE', description: 'When finmesh wrote the row to bronze.' },
  { name: '_run_id', type: 'STRING', mode: 'NULLABLE', description: 'The run that wrote the row (its OpenLineage runId).' },
  {
    name: 'dt',
    type: 'DATE',
    mode: 'NULLABLE',
    description: 'Arrival date (UTC): the dt= folder of the lake file, filled when a load reads Hive partitions.',
  },
];

/**
 * A native BigQuery table per source in its domain's bronze dataset, which load jobs from the lake append to: the
 * source's columns (types from its schema, as the lake's Parquet holds them) and the ingest columns, day-partitioned
 * by arrival (`_ingested_at`), clustered on the source's key. Returns the table blocks and their schema files.
 */
export function bronzeTables(sources: readonly Source[]): { blocks: Block[]; files: File[] } {
  const blocks: Block[] = [];
  const files: File[] = [];
  for (const s of [...sources].sort((a, b) => a.domain.localeCompare(b.domain) || a.dataset.name.localeCompare(b.dataset.name))) {
    const ds = `${s.domain}_bronze`;
    const schemaFile = `schemas/${ds}.${s.dataset.name}.json`;
    files.push({ path: schemaFile, text: `${JSON.stringify(bronzeSchema(s), null, 2)}\n` });
    const clustering = s.config.key.slice(0, 4);
    blocks.push(
      block(
        'resource',
        ['google_bigquery_table', `${ds}__${s.dataset.name}`],
        [
          attrs([
            ['dataset_id', raw(`google_bigquery_dataset.${ds}.dataset_id`)],
            ['table_id', str(s.dataset.name)],
            ['description', str(oneLine(s.config.description ?? `Rows of the source ${s.name} as received.`))],
            ...(clustering.length > 0
              ? ([['clustering', raw(`[${clustering.map((c) => JSON.stringify(c)).join(', ')}]`)]] as [string, Value][])
              : []),
            ['schema', raw(`file("\${path.module}/${schemaFile}")`)],
            ['deletion_protection', raw('true')],
          ]),
          labels({ domain: s.domain, source: s.name, zone: 'bronze' }),
          block(
            'time_partitioning',
            [],
            [
              attrs([
                ['type', str('DAY')],
                ['field', str('_ingested_at')],
              ]),
            ],
          ),
        ],
      ),
    );
  }
  return { blocks, files };
}

function bronzeSchema(s: Source): BqField[] {
  const own = s.config.schema.map((c): BqField => {
    const field = bigQueryField(c.name, c.type);
    if (!field)
      throw new FinmeshError(
        'CONFIG_INVALID',
        `${s.file}: schema column ${c.name}: no BigQuery type for ${JSON.stringify(c.type)} (expected VARCHAR, BIGINT, INTEGER, DOUBLE, DECIMAL(p,s), BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, JSON, BLOB, STRUCT(...) or an array of one of them)`,
      );
    return { ...field, ...(c.description ? { description: c.description } : {}) };
  });
  const names = new Set(own.map((c) => c.name));
  return [...own, ...INGEST_COLUMNS.filter((c) => !names.has(c.name))];
}

/**
 * A column of a source's schema as a BigQuery field: a scalar through `bigQueryType`, `STRUCT(a T, …)` as a RECORD
 * with its fields, `T[]` as REPEATED. Undefined when some part has no BigQuery type.
 */
export function bigQueryField(name: string, physicalType: string): BqField | undefined {
  let t = physicalType.trim();
  const repeated = t.endsWith('[]');
  if (repeated) t = t.slice(0, -2).trim();
  const mode = repeated ? 'REPEATED' : 'NULLABLE';
  const struct = /^STRUCT\((.*)\)$/is.exec(t);
  if (struct?.[1] !== undefined) {
    const fields: BqField[] = [];
    for (const part of splitTopLevel(struct[1])) {
      const m = /^\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s+(.+?)\s*$/s.exec(part);
      const f = m?.[1] && m[2] ? bigQueryField(m[1], m[2]) : undefined;
      if (!f) return undefined;
      fields.push(f);
    }
    return { name, type: 'RECORD', mode, fields };
  }
  const type = bigQueryType(t);
  return type ? { name, type, mode } : undefined;
}
