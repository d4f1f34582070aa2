import { resolve } from 'node:path';
import type { ProjectConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { Clock } from '../core/clock.js';
import type { MetadataStore } from './metadata-store.js';

export interface CreateMetadataStoreOptions {
  /** Fail with `NOT_FOUND` instead of creating the store (read commands on a project that never ran). */
  mustExist?: boolean | undefined;
  clock?: Clock | undefined;
}

/**
 * Opens the metadata store `finmesh.yaml: metadata` configures, migrated. An adapter's module (and its driver) loads
 * only when chosen. A SQLite path is resolved from the project root; a PostgreSQL connection secret reference is
 * resolved here, once. Throws `FinmeshError`: `CONFIG_INVALID` when the secret cannot be resolved (naming the key,
 * never the value), and whatever the adapter's `create` throws (`UNAVAILABLE`, `PERMISSION`, `NOT_FOUND`).
 */
export async function createMetadataStore(
  config: ProjectConfig['metadata'],
  projectRoot: string,
  options: CreateMetadataStoreOptions = {},
): Promise<MetadataStore> {
  switch (config.kind) {
    case 'sqlite': {
      const { SqliteMetadataStore } = await import('./sqlite/sqlite-metadata-store.js');
      const path = config.path === ':memory:' ? config.path : resolve(projectRoot, config.path);
      return SqliteMetadataStore.create({ path, mustExist: options.mustExist, clock: options.clock });
    }
    case 'postgres': {
      const connectionString = resolveSecret(config.connection, projectRoot, 'finmesh.yaml: metadata.connection');
      const { PostgresMetadataStore } = await import('./postgres/postgres-metadata-store.js');
      return PostgresMetadataStore.create({ connectionString, schema: config.schema, mustExist: options.mustExist, clock: options.clock });
    }
  }
}
