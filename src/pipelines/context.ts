import { resolve } from 'node:path';
import type { Project } from '../config/project.js';
import { resolveSecret } from '../config/secrets.js';
import { DuckDbEngine } from '../engine/duckdb/duckdb-engine.js';
import type { Engine } from '../engine/engine.js';
import { LocalStorage } from '../lake/local/local-storage.js';
import type { LakeStorage } from '../lake/storage.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { SqliteMetadataStore } from '../metadata/sqlite/sqlite-metadata-store.js';

/** Everything a job needs, opened from the project's configuration: the composition root for pipelines. */
export interface Context {
  project: Project;
  engine: Engine;
  storage: LakeStorage;
  meta: MetadataStore;
  /** The tokenisation key when the job needs it and the project names one. */
  tokenizationKey: string | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Resolve secrets (the tokenisation key); read-only commands leave them alone. */
  secrets?: boolean;
  /** Open the metadata store read-only (query, reports). */
  readonly?: boolean;
}

export async function openContext(project: Project, options: OpenOptions = {}): Promise<Context> {
  const cfg = project.config;
  const storage = new LocalStorage(resolve(project.root, cfg.lake.path));
  const meta = SqliteMetadataStore.open(resolve(project.root, cfg.metadata.path), { readonly: options.readonly ?? false });
  let engine: Engine;
  try {
    engine = await DuckDbEngine.create({ threads: cfg.engine.threads, memoryLimit: cfg.engine.memoryLimit });
  } catch (e) {
    meta.close();
    throw e;
  }
  const tokenizationKey =
    options.secrets && cfg.tokenization ? resolveSecret(cfg.tokenization.key, project.root, 'finmesh.yaml: tokenization.key') : undefined;
  return {
    project,
    engine,
    storage,
    meta,
    tokenizationKey,
    async close() {
      await engine.close();
      meta.close();
    },
  };
}
