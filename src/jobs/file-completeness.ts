import { durationMs } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { sleep } from '../core/sleep.js';
import type { CheckpointStore } from '../metadata/metadata-store.js';
import { DEFAULT_ARCHIVE_FOLDER, type FileSource, type RemoteFile } from '../sources/files/file-source.js';
import type { FileSourceConfig } from '../sources/files/file-source-kinds.js';
import { fileMatcher } from '../sources/files/glob.js';

/** A file the ingest job may take this cycle. */
export interface Candidate {
  file: RemoteFile;
  /** Which rule found it complete. */
  by: 'stable' | 'marker' | 'manifest';
  /**
   * Final as it is: declared complete by the partner (marker, manifest) or held still past `settle`. A file taken
   * before it settled loads its complete lines only, and a missing trailer or a cut gzip means "wait", not "broken".
   */
  settled: boolean;
  /** The SHA-256 a manifest lists for it: the file must match it. */
  sha256?: string | undefined;
}

export interface Completeness {
  candidates: Candidate[];
  /** Files that match the source but are not complete yet, with why. */
  waiting: { path: string; reason: string }[];
  /** Entries the source refused to list (see `ListOptions.onRefused`). */
  refused: { path: string; reason: string }[];
  /** Files listed that match the source (markers and manifests aside). */
  seen: number;
}

/** What the job remembers of a file between cycles, to scale the quiet period to its writer's pace. */
interface Observation {
  /** Size and mtime (ms) last seen. */
  s: number;
  m: number;
  /** When (our clock, ms) the file was first seen at that size and mtime. */
  t: number;
  /** Longest pause seen between two writes (mtime to mtime), ms. */
  g: number;
}

/** A manifest larger than this is refused: a partner's list of files is small. */
const MAX_MANIFEST_BYTES = 1 << 20;
/** Observations of files unchanged for this long are dropped: their pace no longer matters. */
const FORGET_AFTER_MS = 86_400_000;

/** Where `afterCommit: move` puts files: never listed again. */
export function archiveOf(cfg: FileSourceConfig): string | undefined {
  return cfg.afterCommit === 'move' ? (cfg.archivePath ?? `${cfg.path.replace(/\/$/, '')}/${DEFAULT_ARCHIVE_FOLDER}`) : undefined;
}

/**
 * Which files of a source are complete, by the source's rule (`complete.by`):
 * - `stable`: listed twice a moment apart with the same size and mtime, and unchanged for the quiet period —
 *   `stableMs`, or twice the longest pause between writes this job has seen on the file, whichever is longer (a
 *   writer that paused before may pause again). A `<name><marker>` takes the file at once.
 * - `marker`: only `<name><marker>` does.
 * - `manifest`: a manifest file (sha256sum lines, `complete.manifest`) lists the file; its hash must match.
 * Files are returned in name order. The observations behind the pace live in the checkpoint store under
 * `files:<source>`.
 */
export async function completeFiles(o: {
  files: FileSource;
  cfg: FileSourceConfig;
  source: string;
  checkpoints: CheckpointStore;
  clock: Clock;
  /** Reads a small remote file (a manifest) as text. */
  readText: (f: RemoteFile) => Promise<string>;
}): Promise<Completeness> {
  const { files, cfg, clock } = o;
  const matches = fileMatcher({ root: cfg.path, pattern: cfg.pattern, regex: cfg.regex });
  const isManifest = cfg.complete.manifest ? fileMatcher({ root: cfg.path, pattern: cfg.complete.manifest }) : () => false;
  const marker = cfg.complete.marker;
  const archive = archiveOf(cfg);
  const refused: Completeness['refused'] = [];
  const list = async (report: boolean) =>
    (
      await files.list(cfg.path, {
        recursive: cfg.recursive,
        onRefused: report ? (path, reason) => refused.push({ path, reason }) : undefined,
      })
    ).filter((f) => !archive || !f.path.startsWith(`${archive}/`));
  const first = await list(true);
  const markers = new Set(first.filter((f) => f.path.endsWith(marker)).map((f) => f.path.slice(0, -marker.length)));
  const manifests = first.filter((f) => isManifest(f.path));
  const candidates = first
    .filter((f) => !f.path.endsWith(marker) && !isManifest(f.path) && matches(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const declared = cfg.complete.by === 'manifest' ? await readManifests(manifests, o.readText) : new Map<string, string>();

  const key = `files:${o.source}`;
  const before = parseObservations((await o.checkpoints.get(key))?.value);
  const after: Record<string, Observation> = {};
  const observe = (f: RemoteFile, at: number) => {
    const prev = after[f.path] ?? before[f.path];
    const m = f.mtime.getTime();
    const pause = prev && m > prev.m ? m - prev.m : 0;
    const ob = prev && prev.s === f.size && prev.m === m ? prev : { s: f.size, m, t: at, g: Math.max(prev?.g ?? 0, pause) };
    after[f.path] = ob;
    return ob;
  };
  for (const f of candidates) observe(f, clock.now());

  const stableWanted = cfg.complete.by === 'stable' && candidates.some((c) => !markers.has(c.path));
  // Two listings a moment apart: a file still being written changes size or mtime between them.
  if (stableWanted && cfg.stableMs > 0) await sleep(Math.min(cfg.stableMs, 1000));
  const second = stableWanted ? new Map((await list(false)).map((f) => [f.path, f])) : undefined;
  const now = clock.now();
  const settleFor = (quiet: number) =>
    cfg.complete.settle ? Math.max(quiet, durationMs(cfg.complete.settle)) : 5 * Math.max(2 * cfg.stableMs, quiet);
  const out: Candidate[] = [];
  const waiting: Completeness['waiting'] = [];
  for (const f of candidates) {
    if (markers.has(f.path)) {
      out.push({ file: f, by: 'marker', settled: true });
      continue;
    }
    if (cfg.complete.by === 'marker') {
      waiting.push({ path: f.path, reason: `no ${marker} marker yet` });
      continue;
    }
    if (cfg.complete.by === 'manifest') {
      const sha256 = declared.get(f.path);
      if (sha256) out.push({ file: f, by: 'manifest', settled: true, sha256 });
      else waiting.push({ path: f.path, reason: 'no manifest lists it yet' });
      continue;
    }
    const again = second?.get(f.path);
    const obs = again ? observe(again, now) : undefined;
    const unchanged = again !== undefined && again.size === f.size && again.mtime.getTime() === f.mtime.getTime();
    // Quiet for: what the server's clock says (mtime), or what ours saw, whichever is longer (a partner clock ahead).
    const quietFor = Math.max(now - f.mtime.getTime(), obs ? now - obs.t : 0);
    const quiet = Math.max(cfg.stableMs, 2 * (obs?.g ?? 0));
    if (!unchanged || quietFor < quiet) {
      waiting.push({
        path: f.path,
        reason:
          quiet > cfg.stableMs
            ? `still changing, or quiet for less than ${quiet} ms (twice the longest pause its writer took); taken on a later poll`
            : 'still changing or too recent; taken on a later poll',
      });
      continue;
    }
    out.push({ file: f, by: 'stable', settled: quietFor >= settleFor(quiet) });
  }
  const kept: Record<string, Observation> = {};
  for (const [p, ob] of Object.entries({ ...before, ...after }))
    if (candidates.some((c) => c.path === p) && now - Math.max(ob.m, ob.t) < FORGET_AFTER_MS) kept[p] = ob;
  if (JSON.stringify(kept) !== JSON.stringify(before)) await o.checkpoints.set(key, JSON.stringify(kept));
  return { candidates: out, waiting, refused, seen: candidates.length };
}

function parseObservations(value: string | undefined): Record<string, Observation> {
  if (!value) return {};
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, Observation>) : {};
  } catch {
    return {};
  }
}

/**
 * The files the manifests list, by full path, with their SHA-256: sha256sum's format (`<hex>  <name>` or
 * `<hex> *<name>`), names relative to the manifest's folder. Lines that are not such, and names that climb out
 * of the folder, are ignored; a manifest above `MAX_MANIFEST_BYTES` is not read.
 */
async function readManifests(manifests: RemoteFile[], readText: (f: RemoteFile) => Promise<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of manifests) {
    if (m.size > MAX_MANIFEST_BYTES) continue;
    const folder = m.path.slice(0, m.path.lastIndexOf('/'));
    for (const line of (await readText(m)).split(/\r?\n/)) {
      const hit = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
      const name = hit?.[2];
      if (!hit || !name || name.startsWith('/') || name.split('/').some((s) => s === '..' || s === '')) continue;
      out.set(`${folder}/${name}`, (hit[1] as string).toLowerCase());
    }
  }
  return out;
}
