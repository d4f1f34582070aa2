import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type DatasetRef, datasetKey } from '../config/project.js';
import { durationMs } from '../config/schema.js';
import { FinmeshError } from '../core/errors.js';
import { buildDag } from '../engine/dag.js';
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
 *   its commit and its ack) overwrites its own file by name; merged away, its rows would land twice in bronze (silver
 *   would still hold them once: it deduplicates by key);
 * - rows an incremental model has yet to read: only files up to the lowest position its consumers consumed are
 *   merged, and the merged file carries the highest seq of what it holds (`dataSeq`), so to them it is nothing new;
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
}

export interface CompactionReport {
  runId: string;
  dryRun: boolean;
  at: Date;
  groups: CompactedGroup[];
  /** Per dataset looked at: live files before, and after (as many in a dry run). */
  datasets: { dataset: string; filesBefore: number; filesAfter: number }[];
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
  const plans: { ref: DatasetRef; groups: LakeFile[][]; live: number }[] = [];
  for (const ref of refs) {
    const key = datasetKey(ref);
    const live = await ctx.meta.manifest.liveFiles(key);
    const consumed = await consumedByAll(ctx, ref);
    const groups = planGroups(live, { ...o, now, consumed });
    plans.push({ ref, groups, live: live.length });
    for (const g of groups) report.groups.push(describe(key, g));
  }
  if (dryRun) {
    for (const p of plans)
      report.datasets.push({
        dataset: datasetKey(p.ref),
        filesBefore: p.live,
        filesAfter: p.live - p.groups.reduce((n, g) => n + g.length - 1, 0),
      });
    return report;
  }
  const total = report.groups.length;
  if (total === 0) {
    for (const p of plans) report.datasets.push({ dataset: datasetKey(p.ref), filesBefore: p.live, filesAfter: p.live });
    return report;
  }
  const engine = o.engine ?? (await ownEngine());
  try {
    let done = 0;
    for (const p of plans) {
      const key = datasetKey(p.ref);
      for (const files of p.groups) {
        if (o.signal?.aborted) break;
        const entry = report.groups[done] as CompactedGroup;
        await mergeGroup(ctx, engine, runId, p.ref, files, entry);
        done++;
        o.onProgress?.(done, total);
      }
      if (p.groups.length > 0) await refreshDataset(ctx, p.ref);
      report.datasets.push({ dataset: key, filesBefore: p.live, filesAfter: (await ctx.meta.manifest.liveFiles(key)).length });
    }
  } finally {
    if (!o.engine) await engine.close();
  }
  const merged = report.groups.filter((g) => g.key);
  ctx.metrics.lakeCompactionFiles.inc(
    { outcome: 'merged' },
    merged.reduce((n, g) => n + g.files, 0),
  );
  ctx.metrics.lakeCompactionFiles.inc({ outcome: 'written' }, merged.length);
  return report;
}

/** A DuckDB of compaction's own: one thread, and no profile of what it reads (its reads are not a user's). */
async function ownEngine(): Promise<Engine> {
  const { DuckDbEngine } = await import('../engine/duckdb/duckdb-engine.js');
  return DuckDbEngine.create({ threads: 1, profile: false });
}

/**
 * The lowest input position the incremental models that read `ref` consumed (`Infinity` when none has run): what
 * they have not read yet is never merged. A model that never ran reads every file on its first run anyway.
 */
async function consumedByAll(ctx: Context, ref: DatasetRef): Promise<number> {
  const key = datasetKey(ref);
  let lowest = Number.POSITIVE_INFINITY;
  for (const node of buildDag(ctx.project).dag.nodes) {
    if (node.product.materialized !== 'incremental') continue;
    if (!node.sources.some((s) => datasetKey(s.dataset) === key) && !node.refs.some((r) => datasetKey(r.dataset) === key)) continue;
    const state = await ctx.meta.manifest.state(datasetKey(node.product.dataset));
    if (!state?.schema) continue;
    lowest = Math.min(lowest, state.inputs[key] ?? 0);
  }
  return lowest;
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
        add: [{ key, partition: first.partition, rows, bytes, dataSeq }],
        replace: files.map((f) => f.key),
        replaceMustBeLive: true,
      });
    } catch (e) {
      // Another commit replaced one of the files first (another compaction): the merged file is nobody's.
      await ctx.storage.delete(key);
      if (e instanceof FinmeshError && e.code === 'CONFLICT') {
        entry.refused = e.message;
        return;
      }
      throw e;
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
