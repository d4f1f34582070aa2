import type { Context } from '../jobs/context.js';
import { DEFAULT_RUN_EXPIRY_MS, type LakeReader, type RetiredFile } from '../metadata/metadata-store.js';
import type { ParentRun } from '../runs/runs.js';
import { type LakeObject, STAGING_PREFIX } from './storage.js';

/** A staging folder nothing has written into for this long belongs to a process that died mid-write. */
export const DEFAULT_STAGING_MAX_AGE_MS = 3_600_000;
/**
 * An unknown Parquet object younger than this may be a commit in flight (renamed into place, not yet recorded in
 * the manifest), so it is only reported. A commit takes milliseconds; an hour is far beyond any.
 */
export const DEFAULT_ORPHAN_MIN_AGE_MS = 3_600_000;
/**
 * A view defined less than this after a file's retirement still holds the file: the retirement's time is taken when
 * its commit starts, not when it becomes visible, and another machine's clock may be a little ahead.
 */
export const VIEW_CLOCK_MARGIN_MS = 1000;

/** Zones whose files finmesh derives (and may therefore delete when unknown). Landing keeps files as received. */
const DERIVED_ZONES = new Set(['bronze', 'silver', 'gold', 'quarantine']);
const FORGET_BATCH = 200;

/** What garbage collection uses of a context. */
export type GcContext = Pick<Context, 'meta' | 'storage' | 'runs' | 'clock' | 'lakeReader' | 'metrics'>;

export interface GcOptions {
  /** A retired file is deleted only once it has been retired this long (`lake.gc.grace`). */
  graceMs: number;
  /** Report what would be deleted; delete and forget nothing. */
  dryRun?: boolean | undefined;
  /** Default: the context's clock. */
  now?: Date | undefined;
  parent?: ParentRun | undefined;
  /** Default `DEFAULT_STAGING_MAX_AGE_MS`. */
  stagingMaxAgeMs?: number | undefined;
  /** Default `DEFAULT_ORPHAN_MIN_AGE_MS` (or the grace, when longer). */
  orphanMinAgeMs?: number | undefined;
  /** A reader without a heartbeat for this long is dead and holds nothing (default `DEFAULT_RUN_EXPIRY_MS`). */
  readerExpiryMs?: number | undefined;
}

export interface GcFile {
  key: string;
  dataset: string;
  /** As the manifest recorded it. */
  bytes: number;
  retiredAt: Date;
}

export interface GcKeptFile extends GcFile {
  /** `reader`: a live reader's view of the dataset predates the retirement; `grace`: retired less than the grace ago. */
  reason: 'reader' | 'grace';
  /** The readers that hold it (`host pid command`). */
  readers: string[];
}

export interface GcStagingFolder {
  /** `.staging/<id>/` in the lake, or a local folder for a lake whose staging is on this machine (GCS). */
  key: string;
  /** `lake`: in the lake's storage (the local lake, or objects under `.staging/` in a bucket); `local`: on this machine. */
  where: 'lake' | 'local';
  objects: number;
  bytes: number;
  lastWrite: Date;
  removed: boolean;
}

export interface GcOrphan {
  key: string;
  bytes: number;
  mtime: Date;
  deleted: boolean;
}

export interface GcReport {
  runId: string;
  dryRun: boolean;
  at: Date;
  graceMs: number;
  /** Retired files deleted (or, in a dry run, that would be). */
  deleted: GcFile[];
  /** Bytes of the objects deleted: retired files, staging folders and orphans (would be, in a dry run). */
  bytesFreed: number;
  kept: GcKeptFile[];
  staging: GcStagingFolder[];
  /** Parquet objects in a derived zone's folders that the manifest does not know. */
  orphans: GcOrphan[];
  readers: { alive: string[]; expired: string[] };
}

/**
 * Deletes the lake files the manifest retired once no reader can need them, as a run of kind `gc`:
 * - a retired file is deleted when it was retired at least `graceMs` ago and no live reader (heartbeat within
 *   `readerExpiryMs`) defined its view of the file's dataset before the retirement (plus `VIEW_CLOCK_MARGIN_MS`):
 *   readers that started before the commit finish first. The object is deleted, then the manifest forgets it, so a
 *   crash in between leaves a row the next collection deletes again (deletes are idempotent);
 * - staging folders nothing wrote into for `stagingMaxAgeMs` are removed (a process died mid-write);
 * - Parquet objects in bronze/silver/gold/quarantine folders the manifest does not know are orphans (a writer died
 *   between putting the object in place and recording it; a retried model run writes under another key, so a glob
 *   would count the orphan's rows twice). They are reported, and deleted once older than `orphanMinAgeMs` and the
 *   grace, when the manifest still does not know them: a younger one may be a commit in flight.
 * Readers whose heartbeat stopped are unregistered. A dry run changes nothing. The run's `rowsIn` is the retired
 * files looked at and `rowsOut` the files deleted.
 */
export async function collectGarbage(ctx: GcContext, options: GcOptions): Promise<GcReport> {
  return ctx.runs.track(
    { job: 'lake:gc', kind: 'gc', parent: options.parent },
    async (run) => {
      const report = await collect(ctx, run.id, options);
      const mib = (report.bytesFreed / 2 ** 20).toFixed(1);
      run.log.debug(
        { files_deleted: report.deleted.length, bytes_freed: report.bytesFreed, files_kept: report.kept.length, dry_run: report.dryRun },
        `lake gc: ${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length} files (${mib} MiB), kept ${report.kept.length}`,
      );
      return report;
    },
    (r) => ({ rowsIn: r.deleted.length + r.kept.length, rowsOut: r.dryRun ? 0 : r.deleted.length }),
  );
}

async function collect(ctx: GcContext, runId: string, o: GcOptions): Promise<GcReport> {
  const now = o.now?.getTime() ?? ctx.clock.now();
  const dryRun = o.dryRun ?? false;
  // This process's latest views first, so its own readers hold no more than they must.
  await ctx.lakeReader.publish();
  // Retired files before readers: a reader registered after this listing defines its views after these retirements.
  const retired = groupByKey(await ctx.meta.manifest.retired(new Date(now + 1)));
  const expiry = o.readerExpiryMs ?? DEFAULT_RUN_EXPIRY_MS;
  const readers = await ctx.meta.readers.list(new Date(0));
  const alive = readers.filter((r) => r.heartbeatAt.getTime() >= now - expiry);
  const expired = readers.filter((r) => r.heartbeatAt.getTime() < now - expiry);
  const objects = new Map<string, LakeObject>();
  for await (const obj of ctx.storage.list('')) objects.set(obj.key, obj);

  const report: GcReport = {
    runId,
    dryRun,
    at: new Date(now),
    graceMs: o.graceMs,
    deleted: [],
    bytesFreed: 0,
    kept: [],
    staging: [],
    orphans: [],
    readers: { alive: alive.map((r) => r.process), expired: expired.map((r) => r.process) },
  };

  for (const file of retired.values()) {
    if (now - file.retiredAt.getTime() < o.graceMs) {
      report.kept.push({ ...file, reason: 'grace', readers: [] });
      continue;
    }
    const holders = alive.filter((r) => holds(r, file));
    if (holders.length > 0) report.kept.push({ ...file, reason: 'reader', readers: holders.map((r) => r.process) });
    else report.deleted.push(file);
  }

  report.staging = stagingFolders(objects.values());
  // A GCS lake stages on this machine's disk: its folders are not objects of the bucket.
  for (const f of (await ctx.storage.localStagingFolders?.()) ?? [])
    report.staging.push({ key: f.path, where: 'local', objects: f.objects, bytes: f.bytes, lastWrite: f.lastWrite, removed: false });
  for (const s of report.staging) s.removed = now - s.lastWrite.getTime() >= (o.stagingMaxAgeMs ?? DEFAULT_STAGING_MAX_AGE_MS);

  const orphanAge = Math.max(o.graceMs, o.orphanMinAgeMs ?? DEFAULT_ORPHAN_MIN_AGE_MS);
  for (const obj of objects.values()) {
    if (retired.has(obj.key) || !isVisibleDerivedParquet(obj.key) || (await ctx.meta.manifest.knows(obj.key))) continue;
    report.orphans.push({ key: obj.key, bytes: obj.size, mtime: obj.mtime, deleted: now - obj.mtime.getTime() >= orphanAge });
  }

  const freed = () =>
    report.deleted.reduce((n, f) => n + (objects.get(f.key)?.size ?? 0), 0) +
    report.staging.filter((s) => s.removed).reduce((n, s) => n + s.bytes, 0) +
    report.orphans.filter((x) => x.deleted).reduce((n, x) => n + x.bytes, 0);
  if (dryRun) return { ...report, bytesFreed: freed() };

  await deleteRetired(ctx, report.deleted);
  for (const s of report.staging) if (s.removed) await (s.where === 'local' ? ctx.storage.discard(s.key) : ctx.storage.deletePrefix(s.key));
  for (const x of report.orphans) {
    // Known by now: its writer recorded it after all, so it is data, not an orphan.
    if (x.deleted && (await ctx.meta.manifest.knows(x.key))) x.deleted = false;
    if (x.deleted) await ctx.storage.delete(x.key);
  }
  for (const r of expired) await ctx.meta.readers.remove(r.id);
  report.bytesFreed = freed();
  ctx.metrics.lakeGcFiles.inc({ outcome: 'deleted' }, report.deleted.length);
  ctx.metrics.lakeGcFiles.inc({ outcome: 'kept' }, report.kept.length);
  ctx.metrics.lakeGcBytes.inc(report.bytesFreed);
  return report;
}

/** A live reader holds a retired file when its view of the file's dataset was defined before the retirement. */
function holds(reader: LakeReader, file: GcFile): boolean {
  const definedAt = reader.views[file.dataset];
  return definedAt !== undefined && definedAt < file.retiredAt.getTime() + VIEW_CLOCK_MARGIN_MS;
}

/**
 * One entry per key. A key retired more than once (a replayed batch, then a replacement) is one object, listed by
 * views defined before its last retirement: that retirement is the one that counts.
 */
function groupByKey(files: RetiredFile[]): Map<string, GcFile> {
  const byKey = new Map<string, GcFile>();
  for (const f of files) {
    const seen = byKey.get(f.key);
    if (!seen || f.retiredAt > seen.retiredAt) byKey.set(f.key, { key: f.key, dataset: f.dataset, bytes: f.bytes, retiredAt: f.retiredAt });
  }
  return byKey;
}

/** Deletes objects first and forgets them after, in batches: a crash in between only leaves work for the next run. */
async function deleteRetired(ctx: GcContext, files: GcFile[]): Promise<void> {
  const done: string[] = [];
  try {
    for (const f of files) {
      await ctx.storage.delete(f.key);
      done.push(f.key);
      if (done.length >= FORGET_BATCH) await ctx.meta.manifest.forget(done.splice(0));
    }
  } finally {
    if (done.length > 0) await ctx.meta.manifest.forget(done);
  }
}

/** Staging folders (`.staging/<id>/`) with what they hold and when it was last written. */
function stagingFolders(objects: Iterable<LakeObject>): GcStagingFolder[] {
  const folders = new Map<string, GcStagingFolder>();
  for (const obj of objects) {
    if (!obj.key.startsWith(STAGING_PREFIX)) continue;
    const slash = obj.key.indexOf('/', STAGING_PREFIX.length);
    const key = slash < 0 ? obj.key : obj.key.slice(0, slash + 1);
    const f = folders.get(key) ?? { key, where: 'lake' as const, objects: 0, bytes: 0, lastWrite: new Date(0), removed: false };
    f.objects++;
    f.bytes += obj.size;
    if (obj.mtime > f.lastWrite) f.lastWrite = obj.mtime;
    folders.set(key, f);
  }
  return [...folders.values()];
}

/** `<domain>/<zone>/<dataset>/…/<name>.parquet` in a derived zone, with no hidden segment (readers would skip it). */
function isVisibleDerivedParquet(key: string): boolean {
  const parts = key.split('/');
  return (
    parts.length >= 4 &&
    DERIVED_ZONES.has(parts[1] ?? '') &&
    key.endsWith('.parquet') &&
    !parts.some((p) => p.startsWith('.') || p.startsWith('_'))
  );
}
