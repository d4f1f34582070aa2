import type { ProjectConfig } from '../config/schema.js';
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
    case 'bigquery': {
      // The lake side of a BigQuery target: the embedded DuckDB parses model SQL (to translate it), describes bronze
      // and writes incoming batches as Parquet. Models themselves run in BigQuery (jobs/bigquery-build.ts).
      const { DuckDbEngine } = await import('./duckdb/duckdb-engine.js');
      return DuckDbEngine.create({});
    }
  }
}
