import { isAbsolute, join, resolve } from 'node:path';
import { type DatasetRef, datasetKey, type Project, type Source, sqlName } from '../config/project.js';
import type { DatasetId } from './openlineage.js';

/** The namespace of finmesh's jobs and of the SQL names of its datasets. */
export function projectNamespace(project: Project): string {
  return `finmesh://${project.config.name}`;
}

/** A lake dataset, per the OpenLineage naming conventions: `file` + absolute path (`gs://bucket` + path on GCS). */
export function lakeDatasetId(lakeLocation: string, ref: DatasetRef): DatasetId {
  return { namespace: 'file', name: join(lakeLocation, datasetKey(ref)) };
}

/** The SQL name as a symlink identifier, so `payments_gold.daily_volume_by_method` finds the dataset. */
export function sqlSymlink(project: Project, ref: DatasetRef) {
  return { namespace: projectNamespace(project), name: sqlName(ref), type: 'TABLE' };
}

/**
 * Where a source's data lives. PostgreSQL: `postgres://host:port` + `db.schema.table`; Cosmos DB:
 * `azurecosmos://host/dbs/<db>` + `colls/<container>`; SFTP (finmesh's extension): `sftp://host:port` + path; the
 * SQLite outbox: `file` + `<database path>/outbox/<aggregate>`. Never credentials.
 */
export function sourceDatasetId(project: Project, source: Source, connectionString?: string): DatasetId {
  const c = source.config;
  switch (c.kind) {
    case 'sqlite-outbox': {
      const db = isAbsolute(c.database) ? c.database : resolve(project.root, c.database);
      return { namespace: 'file', name: `${db}/outbox/${c.aggregate}` };
    }
    case 'postgres': {
      let host = 'unknown';
      let db = 'postgres';
      try {
        const u = new URL(connectionString ?? '');
        host = `${u.hostname}:${u.port || '5432'}`;
        db = u.pathname.replace(/^\//, '') || 'postgres';
      } catch {
        // a reference we could not resolve here: keep the table name at least
      }
      return { namespace: `postgres://${host}`, name: `${db}.${c.table}` };
    }
    case 'cosmos':
      return { namespace: `azurecosmos://${new URL(c.endpoint).host}/dbs/${c.database}`, name: `colls/${c.container}` };
    case 'sftp':
      return { namespace: `sftp://${c.host}:${c.port}`, name: c.path };
  }
}
