import type { ProjectConfig } from '../config/schema.js';
import { FinmeshError } from '../core/errors.js';
import type { Engine } from './engine.js';

/**
 * Creates the engine the project configures; an adapter's module (and its SDK) loads only when chosen. BigQuery's
 * adapter is given an embedded DuckDB: it parses model SQL (finmesh's SQL is DuckDB's dialect) and turns incoming
 * files into Parquet before they go to the lake.
 */
export async function createEngine(config: ProjectConfig['engine']): Promise<Engine> {
  switch (config.kind) {
    case 'duckdb': {
      const { DuckDbEngine } = await import('./duckdb/duckdb-engine.js');
      return DuckDbEngine.create({ threads: config.threads, memoryLimit: config.memoryLimit });
    }
    case 'bigquery':
      throw new FinmeshError('NOT_SUPPORTED', 'engine.kind bigquery: the BigQuery engine is not in this build yet');
  }
}
