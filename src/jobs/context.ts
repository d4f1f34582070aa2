import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Project } from '../config/project.js';
import { resolveSecret } from '../config/secrets.js';
import { type Clock, systemClock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { FinmeshError } from '../core/errors.js';
import { Meter } from '../cost/meter.js';
import { MeteredStorage } from '../cost/metered-storage.js';
import type { Engine } from '../engine/engine.js';
import { createEngine } from '../engine/registry.js';
import { LakeReaderSession } from '../lake/reader-session.js';
import { createStorage } from '../lake/registry.js';
import type { LakeStorage } from '../lake/storage.js';
import { Lineage } from '../lineage/lineage.js';
import { createTransports } from '../lineage/registry.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { createMetadataStore } from '../metadata/registry.js';
import { componentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { Runs } from '../runs/runs.js';

/** Everything a job needs, opened from the project's configuration: the composition root for pipelines. */
export interface Context {
  project: Project;
  engine: Engine;
  storage: LakeStorage;
  meta: MetadataStore;
  /** This process as a reader of the lake: its engine views, registered so garbage collection spares their files. */
  lakeReader: LakeReaderSession;
  /** The tokenisation key when the job needs it and the project names one. */
  tokenizationKey: string | undefined;
  /** Where every run's OpenLineage events go: the metadata store and the configured transports. */
  lineage: Lineage;
  /** The run lifecycle: every job's runs start and end here. */
  runs: Runs;
  /** This process's metrics; a command that serves `/metrics` exposes these. */
  metrics: Metrics;
  /** What this process did, metered into the metadata store (runs, storage, series, logs): the cost plane's input. */
  meter: Meter;
  log: Logger;
  clock: Clock;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Resolve secrets (the tokenisation key); read-only commands leave them alone. */
  secrets?: boolean;
  /** Read commands: the store must exist already (the project ran), and lineage is not sent anywhere. */
  readonly?: boolean;
  /**
   * A read command on a project that never ran (see `openIfRan`): an empty store in memory stands in for the
   * project's, so that reading leaves no store behind (a later command would take it for the project's state).
   */
  neverRan?: boolean;
  /** The registry a command serves; a private one otherwise. */
  metrics?: Metrics | undefined;
  clock?: Clock | undefined;
}

export async function openContext(project: Project, options: OpenOptions = {}): Promise<Context> {
  const cfg = project.config;
  const clock = options.clock ?? systemClock;
  const log = componentLogger(cfg.logging, 'runs');
  const storage = new MeteredStorage(await createStorage(cfg.lake, project.root));
  // Where the engine reads the lake's files from: tells which dataset a file it read belongs to.
  const lakeRoot = cfg.lake.kind === 'local' ? resolve(project.root, cfg.lake.path) : `gs://${cfg.lake.bucket}/${cfg.lake.prefix}`;
  // The metadata store and the engine open at once: DuckDB starts its instance on a worker thread while the store
  // opens on this one (a read command's start is mostly these two) — the engine first, so that its instance starts
  // before the store's open takes this thread. When either fails, the other is closed again.
  const [started, opened] = await Promise.allSettled([
    createEngine(cfg.engine),
    createMetadataStore(options.neverRan ? { kind: 'sqlite', path: ':memory:' } : cfg.metadata, project.root, {
      mustExist: options.readonly ?? false,
      clock,
    }),
  ]);
  if (opened.status === 'rejected' || started.status === 'rejected') {
    if (opened.status === 'fulfilled') await opened.value.close();
    if (started.status === 'fulfilled') await started.value.close();
    throw opened.status === 'rejected' ? opened.reason : (started as PromiseRejectedResult).reason;
  }
  const meta = opened.value;
  const engine: Engine = started.value;
  const tokenizationKey =
    options.secrets && cfg.tokenization ? resolveSecret(cfg.tokenization.key, project.root, 'finmesh.yaml: tokenization.key') : undefined;
  const lineageLog = componentLogger(cfg.logging, 'lineage');
  const onError = (e: unknown) =>
    lineageLog.warn({ err_message: e instanceof Error ? e.message : String(e) }, 'lineage event not delivered');
  const transports = options.readonly ? [] : await createTransports(cfg.lineage.transports, project.root, onError);
  const lineage = new Lineage(meta, transports, onError);
  // A private registry is made when first used: a read command never measures anything.
  let metrics = options.metrics;
  const getMetrics = () => {
    metrics ??= new Metrics({ processMetrics: false });
    return metrics;
  };
  options.metrics?.applyControls(cfg.cost.monitoring.metrics);
  // Only a registry someone scrapes costs anything: a command's private one is not metered.
  // A read command records only what it is handed (a query's scans): the lake's storage time is sampled by the next
  // process that works on it (or a cost report), as it is after any idle time — a read's start writes nothing.
  const meter = new Meter({ project, meta, clock, lakeRoot, metrics: options.metrics, log, sample: !options.readonly });
  const loggers = new Map<string, Logger>();
  const runs = new Runs({
    meta,
    lineage,
    logger: log,
    loggerFor: (component) => {
      const known = loggers.get(component);
      if (known) return known;
      const l = componentLogger(cfg.logging, component);
      loggers.set(component, l);
      return l;
    },
    usage: meter,
    metrics: options.metrics ?? getMetrics,
    clock,
    heartbeatMs: parseDuration(cfg.runs.heartbeat),
    expiryMs: parseDuration(cfg.runs.expireAfter),
  });
  const lakeReader = new LakeReaderSession({
    readers: meta.readers,
    clock,
    onError: (e) => log.warn({ err_message: e instanceof Error ? e.message : String(e) }, 'lake reader session not recorded'),
  });
  // Runs left `running` by a process that died are failed now, by the first process that looks (readers too:
  // `finmesh runs` must not show a dead run as running).
  await runs.expireDead();
  // A project opened to work remembers each contract version it met, for the product's version history.
  // Loaded here only: the differ it brings (YAML, the ODCS schema validator) is no part of a read command's start.
  if (!options.readonly) {
    const { recordContractVersions } = await import('../mesh/contract-history.js');
    await recordContractVersions(project, meta.contracts, new Date(clock.now()));
  }
  meter.start();
  return {
    project,
    engine,
    storage,
    meta,
    lakeReader,
    tokenizationKey,
    lineage,
    runs,
    get metrics() {
      return getMetrics();
    },
    meter,
    log,
    clock,
    async close() {
      await runs.close();
      await lakeReader.close();
      await lineage.close();
      await engine.close();
      await meter.close();
      await meta.close();
    },
  };
}

/** The context of a project that has run (its metadata store exists), read-only; undefined when it never ran. */
export async function openIfRan(project: Project, options: Omit<OpenOptions, 'readonly'> = {}): Promise<Context | undefined> {
  try {
    return await openContext(project, { ...options, readonly: true });
  } catch (e) {
    if (e instanceof FinmeshError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
}
