import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type DatasetRef, datasetKey } from '../config/project.js';
import { durationMs } from '../config/schema.js';
import { FinmeshError } from '../core/errors.js';
import { buildDag, type ModelNode } from '../engine/dag.js';
import type { Engine } from '../engine/engine.js';
import type { Context } from '../jobs/context.js';
import type { LakeFile } from '../metadata/metadata-store.js';
import type { ParentRun } from '../runs/runs.js';
import { fileKey } from './layout.js';
import { engineReadsLake, refreshDataset } from './session.js';

/**
 * Bronze compaction. A change feed commits a file per micro-batch (up to one a second, ~3,600 an hour), and every
 * reader of bronze lists and opens every file: a view over 2,000 files took DuckDB 80 ms to define and a query 100 ms
 * more than over one; over 20,000, 760 ms and a second. Compaction merges a partition's small files into files of
 * about `targetBytes` and swaps them in one manifest commit (the merged files retired, garbage collection deletes
 * them once no reader's view lists them), so readers see the same rows in far fewer files.
 *
 * What it leaves alone, so that it never changes what anyone reads:
 * - files committed less than `minAgeMs` ago: a batch a durable bus delivers again (a lake writer that died between
 *   its commit and its ack) overwrites its own file by name; merged away, its rows would land twice in bronze (a
 *   model that deduplicates by key still holds them once; one that counts bronze's rows would not);
 * - rows an incremental model has yet to read: only files up to the lowest position its consumers consumed are
 *   merged, and the merged file carries the highest seq of what it holds (`dataSeq`), so to them it is nothing new;
 *   until each has run once, nothing (a first run reads every live file by name, outside any registered view);
 * - a partition with fewer than `minFiles` small files, and files of half `targetBytes` or more.
 * Two compactions of the same files (a `finmesh lake compact` beside a stream's): the second commit is refused
 * (`replaceMustBeLive`), its merged file deleted, and nothing is added twice.
 *
 * Only a local lake read by the embedded engine: BigQuery loads each bronze file by its key, so a merged file would be
 * loaded again there.
 */
export interface CompactionOptions {
  minAgeMs: number;
  minFiles: number;
  targetBytes: number;
  /** Default: every source's bronze dataset. */
  datasets?: DatasetRef[] | undefined;
  /** Report what would be merged; write and commit nothing. */
  dryRun?: boolean | undefined;
  /** Default: the context's clock. */
  now?: Date | undefined;
  parent?: ParentRun | undefined;
  /**
   * The engine that reads and writes the files. Default: a DuckDB of its own on one thread, so that the context's
   * engine (which a stream commits its batches through, one statement at a time) is never held up by a merge.
   */
  engine?: Engine | undefined;
  /** Stops between merged files (what is merged stays committed). */
  signal?: AbortSignal | undefined;
  /** After each merged file: how many of the groups found are done. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** A set of files merged (or, in a dry run, that would be) into one. */
export interface CompactedGroup {
  dataset: string;
  partition: string | undefined;
  /** The files merged, and what the manifest recorded of them. */
  files: number;
  rows: number;
  bytesBefore: number;
  /** The merged file (absent in a dry run, or when the commit was refused). */
  key?: string | undefined;
  bytesAfter?: number | undefined;
  /** Why nothing was committed: another commit replaced one of the files first. */
  refused?: string | undefined;
  /** Why the merge failed (the other groups go on; the run fails after them). */
  error?: string | undefined;
}

export interface CompactionReport {
  runId: string;
  dryRun: boolean;
  at: Date;
  groups: CompactedGroup[];
  /**
   * Per dataset looked at: live files before, and after (as many in a dry run); `heldBy`, the incremental models that
   * never ran, while nothing of the dataset is merged (their first run reads every file by name).
   */
  datasets: { dataset: string; filesBefore: number; filesAfter: number; heldBy?: string[] | undefined }[];
  /** Why nothing was looked at, when so (the lake or engine compaction does not apply to). */
  skipped?: string | undefined;
}

export async function compactLake(ctx: Context, options: CompactionOptions): Promise<CompactionReport> {
  return ctx.runs.track(
    { job: 'lake:compact', kind: 'compact', parent: options.parent },
    async (run) => {
      const report = await compact(ctx, run.id, options);
      const merged = report.groups.filter((g) => g.key || report.dryRun);
      run.log.debug(
        {
          groups: merged.length,
          files_merged: merged.reduce((n, g) => n + g.files, 0),
          refused: report.groups.filter((g) => g.refused).length,
          dry_run: report.dryRun,
        },
        `lake compact: ${report.dryRun ? 'would merge' : 'merged'} ${merged.reduce((n, g) => n + g.files, 0)} files into ${merged.length}`,
      );
      return report;
    },
    (r) => {
      const rows = r.groups.filter((g) => g.key).reduce((n, g) => n + g.rows, 0);
      return { rowsIn: rows, rowsOut: r.dryRun ? 0 : rows };
    },
  );
}

async function compact(ctx: Context, runId: string, o: CompactionOptions): Promise<CompactionReport> {
  const now = o.now?.getTime() ?? ctx.clock.now();
  const dryRun = o.dryRun ?? false;
  const report: CompactionReport = { runId, dryRun, at: new Date(now), groups: [], datasets: [] };
  if (!engineReadsLake(ctx) || ctx.project.config.engine.kind !== 'duckdb') {
    report.skipped = 'compaction applies to a local lake read by the embedded engine (BigQuery loads each bronze file by its key)';
    return report;
  }
  const refs = o.datasets ?? ctx.project.sources.map((s) => s.dataset);
  const plans: { ref: DatasetRef; groups: LakeFile[][]; live: number; heldBy: string[] }[] = [];
  const nodes = buildDag(ctx.project).dag.nodes;
  for (const ref of refs) {
    const key = datasetKey(ref);
    const live = await ctx.meta.manifest.liveFiles(key);
    const consumers = await consumedByAll(ctx, nodes, ref);
    const groups = consumers.neverRan.length > 0 ? [] : planGroups(live, { ...o, now, consumed: consumers.consumed });
    plans.push({ ref, groups, live: live.length, heldBy: consumers.neverRan });
    for (const g of groups) report.groups.push(describe(key, g));
  }
  const entry = (p: (typeof plans)[number], filesAfter: number) => ({
    dataset: datasetKey(p.ref),
    filesBefore: p.live,
    filesAfter,
    ...(p.heldBy.length > 0 ? { heldBy: p.heldBy } : {}),
  });
  if (dryRun) {
    for (const p of plans) report.datasets.push(entry(p, p.live - p.groups.reduce((n, g) => n + g.length - 1, 0)));
    return report;
  }
  const total = report.groups.length;
  if (total === 0) {
    for (const p of plans) report.datasets.push(entry(p, p.live));
    return report;
  }
  const engine = o.engine ?? (await ownEngine(ctx));
  // A stop interrupts the merge under way (nothing of it is committed) rather than waiting for it.
  const interrupt = () => engine.interrupt();
  o.signal?.addEventListener('abort', interrupt);
  try {
    let done = 0;
    for (const p of plans) {
      let merged = 0;
      try {
        for (const files of p.groups) {
          if (o.signal?.aborted) break;
          const group = report.groups[done] as CompactedGroup;
          try {
            await mergeGroup(ctx, engine, runId, p.ref, files, group);
            if (group.key) merged++;
          } catch (e) {
            if (o.signal?.aborted) break;
            // One group that cannot be merged (a file gone, a count that does not add up) holds up no other.
            group.error = e instanceof Error ? e.message : String(e);
          }
          done++;
          o.onProgress?.(done, total);
        }
      } finally {
        if (merged > 0) await refreshDataset(ctx, p.ref);
      }
      report.datasets.push(entry(p, (await ctx.meta.manifest.liveFiles(datasetKey(p.ref))).length));
    }
  } finally {
    o.signal?.removeEventListener('abort', interrupt);
    if (!o.engine) await engine.close();
  }
  const merged = report.groups.filter((g) => g.key);
  ctx.metrics.lakeCompactionFiles.inc(
    { outcome: 'merged' },
    merged.reduce((n, g) => n + g.files, 0),
  );
  ctx.metrics.lakeCompactionFiles.inc({ outcome: 'written' }, merged.length);
  const failed = report.groups.filter((g) => g.error);
  if (failed.length > 0)
    throw new FinmeshError(
      'DATA_INVALID',
      `lake compact: ${failed.length} of ${report.groups.length} groups could not be merged (the others were): ${failed
        .slice(0, 3)
        .map((g) => `${g.dataset}${g.partition ? `/${g.partition}` : ''} (${g.files} files): ${g.error}`)
        .join('; ')}`,
    );
  return report;
}

/**
 * A DuckDB of compaction's own: one thread, the project's memory limit, and no profile of what it reads (its reads
 * are not a user's).
 */
async function ownEngine(ctx: Context): Promise<Engine> {
  const { DuckDbEngine } = await import('../engine/duckdb/duckdb-engine.js');
  const engine = ctx.project.config.engine;
  return DuckDbEngine.create({ threads: 1, profile: false, memoryLimit: engine.kind === 'duckdb' ? engine.memoryLimit : undefined });
}

/**
 * The lowest input position the incremental models that read `ref` consumed (`Infinity` when there are none): what
 * they have not read yet is never merged. And the ones that never ran: a model's first run reads every live file by
 * its name, outside any view garbage collection knows of, so until each has run once nothing is merged.
 */
async function consumedByAll(ctx: Context, nodes: ModelNode[], ref: DatasetRef): Promise<{ consumed: number; neverRan: string[] }> {
  const key = datasetKey(ref);
  let consumed = Number.POSITIVE_INFINITY;
  const neverRan: string[] = [];
  for (const node of nodes) {
    if (node.product.materialized !== 'incremental') continue;
    if (!node.sources.some((s) => datasetKey(s.dataset) === key) && !node.refs.some((r) => datasetKey(r.dataset) === key)) continue;
    const state = await ctx.meta.manifest.state(datasetKey(node.product.dataset));
    if (!state?.schema) neverRan.push(node.product.name);
    else consumed = Math.min(consumed, state.inputs[key] ?? 0);
  }
  return { consumed, neverRan };
}

/**
 * The groups of files to merge: per partition, the small files old enough and already read by every incremental
 * consumer, in commit order, packed into groups of at most `targetBytes` (groups of one are left as they are), when
 * the partition holds at least `minFiles` of them.
 */
export function planGroups(
  live: LakeFile[],
  o: { now: number; minAgeMs: number; minFiles: number; targetBytes: number; consumed: number },
): LakeFile[][] {
  const byPartition = new Map<string, LakeFile[]>();
  for (const f of live) {
    if (f.bytes * 2 >= o.targetBytes || f.committedAt.getTime() > o.now - o.minAgeMs || f.dataSeq > o.consumed) continue;
    const p = f.partition ?? '';
    const list = byPartition.get(p) ?? [];
    list.push(f);
    byPartition.set(p, list);
  }
  const groups: LakeFile[][] = [];
  for (const files of byPartition.values()) {
    if (files.length < o.minFiles) continue;
    files.sort((a, b) => a.seq - b.seq);
    let group: LakeFile[] = [];
    let bytes = 0;
    for (const f of files) {
      if (group.length > 0 && bytes + f.bytes > o.targetBytes) {
        if (group.length > 1) groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(f);
      bytes += f.bytes;
    }
    if (group.length > 1) groups.push(group);
  }
  return groups;
}

function describe(dataset: string, files: LakeFile[]): CompactedGroup {
  return {
    dataset,
    partition: files[0]?.partition,
    files: files.length,
    rows: files.reduce((n, f) => n + f.rows, 0),
    bytesBefore: files.reduce((n, f) => n + f.bytes, 0),
  };
}

/**
 * Writes the group's rows to one file (the files' own columns, united by name: a column added to the source later is
 * NULL in the rows before it), checks it holds as many rows as the manifest recorded, and swaps it in.
 */
async function mergeGroup(
  ctx: Context,
  engine: Engine,
  runId: string,
  ref: DatasetRef,
  files: LakeFile[],
  entry: CompactedGroup,
): Promise<void> {
  const d = engine.dialect;
  const first = files[0] as LakeFile;
  const last = files[files.length - 1] as LakeFile;
  const staging = await ctx.storage.stagingDir();
  try {
    const select = `SELECT * FROM ${d.readParquet(
      files.map((f) => ctx.storage.readPath(f.key)),
      { partitionColumns: false },
    )}`;
    // In the files' order (commit order): a merged file reads as its files did, one after the other.
    const written = await engine.writeParquet(select, join(staging, 'out'), {});
    const rows = written.reduce((n, w) => n + w.rows, 0);
    if (rows !== entry.rows || written.length !== 1)
      throw new FinmeshError(
        'DATA_INVALID',
        `compacting ${entry.dataset}${entry.partition ? `/${entry.partition}` : ''}: ${files.length} files the manifest records with ${entry.rows} rows gave ${rows}; nothing was committed`,
      );
    // The run's id in the name: two compactions of the same files write two objects, and the one refused deletes
    // its own, never the other's live file.
    const hash = createHash('sha256')
      .update(`${runId}\n${files.map((f) => f.key).join('\n')}`)
      .digest('hex')
      .slice(0, 12);
    const dataSeq = files.reduce((n, f) => Math.max(n, f.dataSeq), 0);
    const key = fileKey(ref, first.partition, `compacted-${first.seq}-${last.seq}-${hash}`);
    const bytes = await ctx.storage.commit((written[0] as { path: string }).path, key);
    try {
      await ctx.meta.manifest.commit({
        dataset: entry.dataset,
        runId,
        add: [{ key, partition: first.partition, rows, bytes, dataSeq, columnBytes: written[0]?.columnBytes }],
        replace: files.map((f) => f.key),
        replaceMustBeLive: true,
      });
    } catch (e) {
      // Another commit replaced one of the files first (another compaction): the merged file is nobody's. Any other
      // failure may have committed after all (a connection lost after COMMIT was sent): the object stays, and garbage
      // collection deletes it only if the manifest never learned of it (an orphan).
      if (!(e instanceof FinmeshError && e.code === 'CONFLICT')) throw e;
      await ctx.storage.delete(key);
      entry.refused = e.message;
      return;
    }
    entry.key = key;
    entry.bytesAfter = bytes;
  } finally {
    await ctx.storage.discard(staging);
  }
}

/** A compaction every `lake.compaction.every` in a long-running process, until `stop`. */
export interface CompactionTimer {
  /** Waits for a compaction under way to finish; starts no more. */
  stop(): Promise<void>;
}

/**
 * Compacts the bronze of `sources` every `lake.compaction.every` (never when 0s, or where compaction does not apply)
 * beside whatever else the process does: on an engine of its own, one compaction at a time. The first comes a whole
 * period after the start, when a durable bus has long delivered again what a previous process left unacked. Failures
 * go to `onError`; the next period tries again.
 */
export function startCompaction(
  ctx: Context,
  o: { sources: DatasetRef[]; parent?: ParentRun | undefined; onError: (e: unknown) => void },
): CompactionTimer {
  const c = ctx.project.config.lake.compaction;
  const everyMs = durationMs(c.every);
  if (everyMs <= 0 || o.sources.length === 0 || !engineReadsLake(ctx) || ctx.project.config.engine.kind !== 'duckdb')
    return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const stopping = new AbortController();
  const timer = setInterval(() => {
    if (running || stopping.signal.aborted) return;
    running = compactLake(ctx, {
      minAgeMs: durationMs(c.minAge),
      minFiles: c.minFiles,
      targetBytes: c.targetBytes,
      datasets: o.sources,
      parent: o.parent,
      signal: stopping.signal,
    })
      .then(
        () => undefined,
        (e: unknown) => o.onError(e),
      )
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  timer.unref();
  return {
    stop: async () => {
      stopping.abort();
      clearInterval(timer);
      await running;
    },
  };
}
