import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { datasetKey, type Source } from '../config/project.js';
import { durationMs } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import { FinmeshError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { writeBronzeBatch } from '../lake/bronze-writer.js';
import { NdjsonWriter, quarantineLine, writeQuarantine } from '../lake/quarantine.js';
import { ingestRunEvents } from '../lineage/events.js';
import type { Metrics } from '../observability/metrics.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun, Run } from '../runs/runs.js';
import { DEFAULT_ARCHIVE_FOLDER, type FileSource, type RemoteFile } from '../sources/files/file-source.js';
import { type FileSourceConfig, isFileSource } from '../sources/files/file-source-kinds.js';
import { fileMatcher } from '../sources/files/glob.js';
import { createFileSource } from '../sources/files/registry.js';
import { type Layout, layoutSchema } from '../sources/formats/fixed-width.js';
import { type FileFormat, readFileRows } from '../sources/formats/read-file.js';
import type { Context } from './context.js';

export type FileOutcome = 'ingested' | 'duplicate' | 'changed' | 'quarantined' | 'incomplete' | 'failed';

export interface IngestReport {
  source: string;
  runId: string;
  files: { seen: number; ingested: number; duplicate: number; changed: number; quarantined: number; incomplete: number; failed: number };
  rows: { accepted: number; rejected: number };
  bytes: number;
  details: {
    path: string;
    outcome: FileOutcome;
    sha256?: string;
    rows?: number;
    rejected?: number;
    reason?: string;
    /** Zip entries read, as `file!entry`. */
    members?: string[];
    /** Key id of the partner's verified PGP signature. */
    signedBy?: string;
    /** Bytes received. */
    size?: number;
    /** Something went wrong after the file was committed (the after-commit move or delete). */
    warning?: string;
  }[];
}

/**
 * One ingestion cycle of a partner file source (any `FileSource`: SFTP today): list, keep the files that are
 * complete (stable size and mtime, or a `.done` marker), download them (the source bounds its connections and
 * resumes partial downloads), hash (SHA-256), skip content already ingested under any name, keep the file unchanged
 * in landing, decrypt and unpack it, parse it, load good rows to bronze and bad rows to quarantine — or, when the
 * file fails integrity (signature, trailer, truncation, decompression limits), quarantine it whole and load nothing
 * of it — then tell the source what becomes of the file (`afterCommit`).
 */
export async function ingestFileSource(
  ctx: Context,
  source: Source,
  options: {
    parent?: ParentRun | undefined;
    /** When a schedule meant this cycle to run. */
    nominalTime?: Date;
  } = {},
): Promise<IngestReport> {
  if (!isFileSource(source))
    throw new FinmeshError('CONFIG_INVALID', `${source.file}: ${source.name} is a ${source.config.kind} source, not a file source`);
  const cfg = source.config;
  const metrics = ctx.metrics;
  const started = Date.now();
  const report: IngestReport = {
    source: source.name,
    runId: '',
    files: { seen: 0, ingested: 0, duplicate: 0, changed: 0, quarantined: 0, incomplete: 0, failed: 0 },
    rows: { accepted: 0, rejected: 0 },
    bytes: 0,
    details: [],
  };
  const events = (run: Run, ok: boolean, error?: string) =>
    ingestRunEvents(ctx, source, {
      runId: run.id,
      startedAt: run.startedAt,
      parent: options.parent,
      ok,
      error,
      files: report.details,
      rows: report.rows,
      bytes: report.bytes,
      nominalTime: options.nominalTime,
    });
  const run = await ctx.runs.start({
    job: jobName.ingest(source),
    kind: 'ingest',
    parent: options.parent,
    startedAt: new Date(started),
    labels: { domain: source.domain, source: source.name },
    lineage: { start: (r) => events(r, true).start, end: (r, o) => events(r, o.status === 'succeeded', o.error).end },
  });
  const runId = run.id;
  report.runId = runId;
  const secret = (ref: string | undefined, what: string) =>
    ref ? resolveSecret(ref, ctx.project.root, `${source.file}: ${what}`) : undefined;
  let opened: FileSource | undefined;
  try {
    // Inside the run: a missing secret or a bad layout fails the run with its reason, never leaves it running.
    const format = fileFormat(ctx, source, cfg, secret);
    const downloads = resolve(ctx.project.root, '.finmesh/downloads', source.name);
    mkdirSync(downloads, { recursive: true });
    const remote = await createFileSource(source, ctx.project, {
      onRetry: (e, attempt, delayMs) =>
        run.log.warn(
          { err_message: e instanceof Error ? e.message : String(e) },
          `${source.name}: attempt ${attempt} failed, retrying in ${delayMs} ms`,
        ),
    });
    opened = remote;
    const candidates = await completeFiles(remote, cfg, report);
    dropStalePartials(downloads);
    // Downloads run ahead (the source bounds how many at once), each resuming where a failed attempt stopped; files
    // are then verified and committed one at a time, in name order. A file above the size limit is not fetched.
    const fetched = candidates.map((f) => {
      const local = join(downloads, createHash('sha1').update(`${f.path}\u0000${f.size}\u0000${f.mtime.getTime()}`).digest('hex'));
      if (f.size > cfg.maxFileBytes) return Promise.resolve({ local, error: undefined as unknown });
      return remote.download(f.path, local, f.size).then(
        () => ({ local, error: undefined as unknown }),
        (error: unknown) => ({ local, error }),
      );
    });
    for (const [i, f] of candidates.entries()) {
      const { local, error } = await (fetched[i] as (typeof fetched)[number]);
      if (error) {
        report.files.failed++;
        report.details.push({ path: f.path, outcome: 'failed', reason: (error as Error).message });
        continue;
      }
      if (f.size > cfg.maxFileBytes) {
        await writeQuarantine(ctx, source, runId, [
          { kind: 'file', file: f.path, line: 0, reason: `file is ${f.size} bytes, above the limit of ${cfg.maxFileBytes}`, raw: '' },
        ]);
        report.files.quarantined++;
        report.details.push({ path: f.path, outcome: 'quarantined', reason: 'too large' });
        continue;
      }
      report.bytes += f.size;
      await processFile(ctx, source, cfg, format, f, local, runId, report, remote);
      metrics.fileLag.set({ domain: source.domain, source: source.name }, (Date.now() - f.mtime.getTime()) / 1000);
    }
    const failed = report.details.filter((d) => d.outcome === 'failed');
    await run.end({
      status: failed.length > 0 ? 'failed' : 'succeeded',
      rowsIn: report.rows.accepted + report.rows.rejected,
      rowsOut: report.rows.accepted,
      rowsRejected: report.rows.rejected,
      error: failed.length > 0 ? failed.map((d) => d.reason).join('; ') : undefined,
    });
  } catch (e) {
    await run.fail(e);
    throw e;
  } finally {
    await opened?.close();
    recordMetrics(metrics, source, report, started);
  }
  return report;
}

/**
 * Polls each source on its own `pollEvery` until `signal` aborts, one cycle at a time per source. A failed cycle
 * is reported and retried at the next poll; a running cycle finishes before the loop stops.
 */
export async function watchFileSources(
  ctx: Context,
  sources: Source[],
  o: { signal: AbortSignal; onReport: (r: IngestReport) => void; onError: (source: Source, e: unknown) => void },
): Promise<void> {
  const due = new Map(sources.map((s) => [s.name, 0]));
  while (!o.signal.aborted) {
    for (const s of sources) {
      const at = due.get(s.name) ?? 0;
      if (o.signal.aborted || at > Date.now() || !isFileSource(s)) continue;
      try {
        o.onReport(await ingestFileSource(ctx, s, { nominalTime: new Date(at === 0 ? Date.now() : at) }));
      } catch (e) {
        o.onError(s, e);
      }
      // The next poll is due one interval after this one was, so cycles keep their cadence.
      due.set(s.name, Math.max(at === 0 ? Date.now() : at, Date.now() - durationMs(s.config.pollEvery)) + durationMs(s.config.pollEvery));
    }
    await sleep(Math.max(50, Math.min(...due.values()) - Date.now()), o.signal);
  }
}

function fileFormat(
  ctx: Context,
  source: Source,
  cfg: FileSourceConfig,
  secret: (ref: string | undefined, what: string) => string | undefined,
): FileFormat {
  const sensitive = new Set(['confidential', 'pii', 'pci']);
  return {
    format: cfg.format,
    layout: cfg.format === 'fixed-width' ? loadLayout(ctx, source, cfg) : undefined,
    csv: cfg.csv,
    encoding: cfg.encoding,
    schema: cfg.schema.map((c) => ({ name: c.name, type: c.type, sensitive: sensitive.has(c.classification ?? 'internal') })),
    pgp: cfg.pgp && {
      privateKey: secret(cfg.pgp.privateKey, 'pgp.privateKey') as string,
      passphrase: secret(cfg.pgp.passphrase, 'pgp.passphrase'),
      verificationKey: secret(cfg.pgp.verifyWith, 'pgp.verifyWith'),
    },
    limits: { maxBytes: cfg.maxFileBytes, maxRatio: cfg.maxExpansionRatio, maxEntries: cfg.maxArchiveEntries },
  };
}

/** Where `afterCommit: move` puts files: never listed again. */
function archiveOf(cfg: FileSourceConfig): string | undefined {
  return cfg.afterCommit === 'move' ? (cfg.archivePath ?? `${cfg.path.replace(/\/$/, '')}/${DEFAULT_ARCHIVE_FOLDER}`) : undefined;
}

/** Lists twice a moment apart and keeps the files that held still (or have a `.done` marker), in name order. */
async function completeFiles(files: FileSource, cfg: FileSourceConfig, report: IngestReport): Promise<RemoteFile[]> {
  const matches = fileMatcher({ root: cfg.path, pattern: cfg.pattern, regex: cfg.regex });
  const archive = archiveOf(cfg);
  const list = async () =>
    (await files.list(cfg.path, { recursive: cfg.recursive })).filter((f) => !archive || !f.path.startsWith(`${archive}/`));
  const first = await list();
  const markers = new Set(first.filter((f) => f.path.endsWith('.done')).map((f) => f.path.slice(0, -5)));
  const candidates = first
    .filter((f) => !f.path.endsWith('.done') && matches(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  report.files.seen = candidates.length;
  // Two polls a moment apart: a file still being written changes size or mtime between them.
  if (candidates.some((c) => !markers.has(c.path)) && cfg.stableMs > 0) await sleep(Math.min(cfg.stableMs, 1000));
  const second = new Map((await list()).map((f) => [f.path, f]));
  const now = Date.now();
  return candidates.filter((f) => {
    const again = second.get(f.path);
    const stable =
      markers.has(f.path) ||
      (again && again.size === f.size && again.mtime.getTime() === f.mtime.getTime() && now - f.mtime.getTime() >= cfg.stableMs);
    if (!stable) {
      report.files.incomplete++;
      report.details.push({ path: f.path, outcome: 'incomplete', reason: 'still changing or too recent; taken on a later poll' });
    }
    return stable;
  });
}

async function processFile(
  ctx: Context,
  source: Source,
  cfg: FileSourceConfig,
  format: FileFormat,
  f: RemoteFile,
  local: string,
  runId: string,
  report: IngestReport,
  files: FileSource,
): Promise<void> {
  const staging = await ctx.storage.stagingDir();
  try {
    const sha256 = await hashFile(local);
    const seen = await ctx.meta.ledger.find(source.name, sha256);
    const entry = { source: source.name, path: f.path, size: f.size, mtime: f.mtime, sha256, runId, seenAt: new Date() };
    if (seen) {
      rmSync(local, { force: true });
      await ctx.meta.ledger.record({ ...entry, status: seen.path === f.path ? 'seen' : 'duplicate' });
      if (seen.path !== f.path) {
        report.files.duplicate++;
        report.details.push({
          path: f.path,
          outcome: 'duplicate',
          sha256,
          reason: `same content as ${seen.path}, ingested by run ${seen.runId}`,
        });
      }
      return;
    }
    const previousVersion = await ctx.meta.ledger.lastIngested(source.name, f.path);
    const names = new Set(source.config.schema.map((c) => c.name));
    const rows = new NdjsonWriter(join(staging, 'rows.ndjson'));
    const rejects = new NdjsonWriter(join(staging, 'rejects.ndjson'));
    let read: Awaited<ReturnType<typeof readFileRows>>;
    try {
      read = await readFileRows(local, f.path, format, staging, (member) => ({
        row: (line, values) => {
          const out: Record<string, unknown> = { _source_file: member, _line: line };
          for (const k in values) if (names.has(k)) out[k] = values[k];
          rows.add(JSON.stringify(out));
        },
        reject: (line, reason, raw) => rejects.add(quarantineLine(source, { kind: 'row', file: member, line, reason, raw })),
      }));
    } finally {
      rows.close();
      rejects.close();
    }
    // Landing keeps the bytes exactly as received, named by their hash, whatever happens to the rows.
    const landing = { domain: source.domain, zone: 'landing' as const, name: source.dataset.name };
    const day = new Date().toISOString().slice(0, 10);
    const landingKey = `${datasetKey(landing)}/dt=${day}/${sha256.slice(0, 16)}-${basename(f.path).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    const landed = await ctx.storage.commit(local, landingKey);
    await ctx.meta.manifest.commit({
      dataset: datasetKey(landing),
      runId,
      add: [{ key: landingKey, partition: `dt=${day}`, rows: 0, bytes: landed }],
      replace: [],
    });
    const signed = read.signedBy ? { signedBy: read.signedBy } : {};
    const members = read.members.length > 1 || read.members[0] !== f.path ? { members: read.members } : {};
    if (read.integrityError) {
      await writeQuarantine(ctx, source, runId, [{ kind: 'file', file: f.path, line: 0, reason: read.integrityError, raw: '' }]);
      await ctx.meta.ledger.record({ ...entry, status: 'quarantined' });
      report.files.quarantined++;
      report.details.push({
        path: f.path,
        outcome: 'quarantined',
        sha256,
        size: f.size,
        reason: read.integrityError,
        ...members,
        ...signed,
      });
      return;
    }
    if (rows.count > 0)
      await writeBronzeBatch(ctx, {
        source,
        runId,
        firstOffset: 1,
        lastOffset: rows.count,
        input: { ndjsonFile: rows.path, identity: sha256.slice(0, 12) },
      });
    if (rejects.count > 0) await writeQuarantine(ctx, source, runId, { ndjsonFile: rejects.path, identity: sha256.slice(0, 12) });
    await ctx.meta.ledger.record({ ...entry, status: 'ingested' });
    const outcome: FileOutcome = previousVersion && previousVersion !== sha256 ? 'changed' : 'ingested';
    report.files.ingested++;
    if (outcome === 'changed') report.files.changed++;
    report.rows.accepted += rows.count;
    report.rows.rejected += rejects.count;
    const detail: IngestReport['details'][number] = {
      path: f.path,
      outcome,
      sha256,
      size: f.size,
      rows: rows.count,
      rejected: rejects.count,
      ...members,
      ...signed,
      ...(outcome === 'changed' ? { reason: 'a new version of a file ingested before under the same name' } : {}),
    };
    report.details.push(detail);
    try {
      await files.afterCommit(f.path, cfg.afterCommit, archiveOf(cfg));
    } catch (e) {
      // The rows are committed: a partner server refusing the move or delete must not undo or stop that.
      detail.warning = `afterCommit ${cfg.afterCommit} failed (${(e as Error).message}); the file stays where it is and the ledger keeps it from loading twice`;
    }
  } finally {
    await ctx.storage.discard(staging);
  }
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolveHash(h.digest('hex')));
  });
}

/** Partial downloads of files that never came back (renamed, deleted by the partner) are dropped after a week. */
function dropStalePartials(dir: string): void {
  const cutoff = Date.now() - 7 * 86_400_000;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).mtimeMs < cutoff) rmSync(p, { force: true });
  }
}

function loadLayout(ctx: Context, source: Source, cfg: FileSourceConfig): Layout {
  if (!cfg.layout) throw new FinmeshError('CONFIG_INVALID', `${source.file}: a fixed-width source needs a layout`);
  const path = isAbsolute(cfg.layout) ? cfg.layout : resolve(ctx.project.root, cfg.layout);
  const r = layoutSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!r.success)
    throw new FinmeshError('CONFIG_INVALID', `${cfg.layout}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

function recordMetrics(m: Metrics | undefined, source: Source, report: IngestReport, started: number): void {
  if (!m) return;
  const l = { domain: source.domain, source: source.name };
  m.sftpFiles.inc({ ...l, outcome: 'seen' }, report.files.seen);
  for (const k of ['ingested', 'duplicate', 'changed', 'quarantined', 'incomplete', 'failed'] as const)
    m.sftpFiles.inc({ ...l, outcome: k }, report.files[k]);
  m.sftpBytes.inc(l, report.bytes);
  m.rowsAccepted.inc(l, report.rows.accepted);
  m.quarantineRows.inc(l, report.rows.rejected + report.files.quarantined);
  m.ingestDuration.observe(l, (Date.now() - started) / 1000);
}
