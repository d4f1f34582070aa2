import { resolve } from 'node:path';
import type { Project } from '../config/project.js';
import { resolveSecret } from '../config/secrets.js';
import { DuckDbEngine } from '../engine/duckdb/duckdb-engine.js';
import type { Engine } from '../engine/engine.js';
import { LocalStorage } from '../lake/local/local-storage.js';
import type { LakeStorage } from '../lake/storage.js';
import { Lineage } from '../lineage/lineage.js';
import type { LineageTransport } from '../lineage/transport.js';
import { FileTransport } from '../lineage/transports/file-transport.js';
import { GcpTransport } from '../lineage/transports/gcp-transport.js';
import { HttpTransport } from '../lineage/transports/http-transport.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { SqliteMetadataStore } from '../metadata/sqlite/sqlite-metadata-store.js';
import { createLogger } from '../observability/logger.js';

/** Everything a job needs, opened from the project's configuration: the composition root for pipelines. */
export interface Context {
  project: Project;
  engine: Engine;
  storage: LakeStorage;
  meta: MetadataStore;
  /** The tokenisation key when the job needs it and the project names one. */
  tokenizationKey: string | undefined;
  /** Where every run's OpenLineage events go: the metadata store and the configured transports. */
  lineage: Lineage;
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
  const log = createLogger({ component: 'lineage' });
  const onError = (e: unknown) => log.warn({ err: e instanceof Error ? e.message : String(e) }, 'lineage event not delivered');
  const transports = options.readonly ? [] : createTransports(project, onError);
  const lineage = new Lineage(meta, transports, onError);
  return {
    project,
    engine,
    storage,
    meta,
    tokenizationKey,
    lineage,
    async close() {
      await lineage.close();
      await engine.close();
      meta.close();
    },
  };
}

function createTransports(project: Project, onError: (e: unknown) => void): LineageTransport[] {
  return project.config.lineage.transports.map((t): LineageTransport => {
    if (t.type === 'file') return new FileTransport(resolve(project.root, t.path));
    if (t.type === 'http') {
      return new HttpTransport({
        url: t.url,
        bufferSize: t.bufferSize,
        timeoutMs: t.timeoutMs,
        apiKey: t.apiKey ? resolveSecret(t.apiKey, project.root, 'finmesh.yaml: lineage.transports.apiKey') : undefined,
        onDrop: (reason) => onError(new Error(reason)),
      });
    }
    return new GcpTransport({ project: t.project, location: t.location, onError });
  });
}
