import type { ProjectConfig } from '../config/schema.js';
import type { Engine } from './engine.js';

/** Creates the engine the project configures; an adapter's module loads only when chosen. */
export async function createEngine(config: ProjectConfig['engine']): Promise<Engine> {
  switch (config.kind) {
    case 'duckdb': {
      const { DuckDbEngine } = await import('./duckdb/duckdb-engine.js');
      return DuckDbEngine.create({ threads: config.threads, memoryLimit: config.memoryLimit });
    }
  }
}
