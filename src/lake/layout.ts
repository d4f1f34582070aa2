import { type DatasetRef, datasetKey } from '../config/project.js';

/** `<domain>/<zone>/<dataset>/[dt=YYYY-MM-DD/]part-<name>.parquet` (DESIGN §6). */
export function fileKey(dataset: DatasetRef, partition: string | undefined, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${datasetKey(dataset)}/${partition ? `${partition}/` : ''}part-${safe}.parquet`;
}

/** The columns finmesh adds to every bronze row. */
export const BRONZE_METADATA_COLUMNS = [
  { name: '_offset', type: 'BIGINT' },
  { name: '_op', type: 'VARCHAR' },
  { name: '_ingested_at', type: 'TIMESTAMPTZ' },
  { name: '_run_id', type: 'VARCHAR' },
  { name: 'dt', type: 'DATE' },
] as const;

/** The columns of a `<domain>_landing.<dataset>` listing. */
export const LANDING_COLUMNS = [
  { name: 'file', type: 'VARCHAR' },
  { name: 'partition', type: 'VARCHAR' },
  { name: 'bytes', type: 'BIGINT' },
  { name: 'sha256_prefix', type: 'VARCHAR' },
  { name: 'landed_at', type: 'TIMESTAMPTZ' },
  { name: 'run_id', type: 'VARCHAR' },
  { name: 'lake_key', type: 'VARCHAR' },
] as const;
