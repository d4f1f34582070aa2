import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
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
import type { LedgerEntry } from '../metadata/metadata-store.js';
import type { Metrics } from '../observability/metrics.js';
import { jobName } from '../runs/job-names.js';
import type { ParentRun, Run } from '../runs/runs.js';
import type { FileSource, RemoteFile } from '../sources/files/file-source.js';
import { type FileSourceConfig, isFileSource } from '../sources/files/file-source-kinds.js';
import { createFileSource } from '../sources/files/registry.js';
import { readFileWithEngine } from '../sources/formats/csv-engine.js';
import { sniffContainer } from '../sources/formats/decode.js';
import { type Layout, layoutSchema } from '../sources/formats/fixed-width.js';
import { type FileFormat, readFileRows } from '../sources/formats/read-file.js';
import type { Context } from './context.js';
import { archiveOf, type Candidate, completeFiles } from './file-completeness.js';

export type FileOutcome = 'ingested' | 'appended' | 'duplicate' | 'changed' | 'quarantined' | 'incomplete' | 'refused' | 'failed';

export interface IngestReport {
  source: string;
  runId: string;
  files: {
    seen: number;
    /** Files whose rows loaded this cycle, appended ones included. */
    ingested: number;
    /** Of those, files that had grown since an earlier cycle took them: only the added lines loaded. */
    appended: number;
    duplicate: number;
    changed: number;
    quarantined: number;
    incomplete: number;
    /** Entries the server listed that finmesh will not touch (a name holding `/`, a folder loop). */
    refused: number;
    failed: number;
  };
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
 * complete by the source's rule (`file-completeness.ts`), download them (the source bounds its connections and
 * resumes partial downloads), hash (SHA-256), skip content already ingested under any name, keep the file unchanged
 * in landing, decrypt and unpack it, parse it, load good rows to bronze and bad rows to quarantine — or, when the
 * file fails integrity (signature, trailer, truncation, decompression limits), quarantine it whole and load nothing
 * of it — then tell the source what becomes of the file (`afterCommit`). A file taken before it settled loads its
 * complete lines only; one that grew since it was taken loads only the lines it added. A file that fails is reported
 * as failed and the cycle goes on with the next.
 */
export async function ingestFileSource(
  ctx: Context,
  source: Source,
  options: {
    parent?: ParentRun | undefined;
    /** When a schedule meant this cycle to run. */
    nominalTime?: Date;
    /** Once aborted (SIGTERM), the file being committed finishes and no other starts; the next cycle takes them. */
    signal?: AbortSignal | undefined;
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
    files: { seen: 0, ingested: 0, appended: 0, duplicate: 0, changed: 0, quarantined: 0, incomplete: 0, refused: 0, failed: 0 },
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
  run.enter();
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
    const complete = await completeFiles({
      files: remote,
      cfg,
      source: source.name,
      checkpoints: ctx.meta.checkpoints,
      clock: ctx.clock,
      readText: (f) => readRemoteText(remote, f, downloads),
    });
    report.files.seen = complete.seen;
    for (const r of complete.refused) {
      report.files.refused++;
      report.details.push({ path: r.path, outcome: 'refused', reason: r.reason });
      run.log.warn({ path: r.path }, `${source.name}: refused ${r.path}: ${r.reason}`);
    }
    for (const w of complete.waiting) {
      report.files.incomplete++;
      report.details.push({ path: w.path, outcome: 'incomplete', reason: w.reason });
    }
    const candidates: Candidate[] = [];
    for (const c of complete.candidates) {
      // Paths come from the server: whatever it lists must stay below the source's folder.
      if (!inside(cfg.path, c.file.path)) {
        report.files.refused++;
        report.details.push({ path: c.file.path, outcome: 'refused', reason: `outside ${cfg.path}; never opened` });
        continue;
      }
      // A file met before with the same size and modification time (ingested whole, a duplicate, quarantined) is
      // not fetched again; one whose last line was still being written is.
      const last = await ctx.meta.ledger.lastSeen(source.name, c.file.path);
      if (last && sameVersion(last, c.file) && (last.status !== 'ingested' || (last.loadedBytes ?? last.size) >= last.size)) continue;
      candidates.push(c);
    }
    dropStalePartials(downloads);
    // Downloads run ahead (the source bounds how many at once), each resuming where a failed attempt stopped; files
    // are then verified and committed one at a time, in name order. A file above the size limit is not fetched.
    const fetched = candidates.map(({ file: f }) => {
      const local = join(downloads, createHash('sha1').update(`${f.path}\u0000${f.size}\u0000${f.mtime.getTime()}`).digest('hex'));
      if (f.size > cfg.maxFileBytes) return Promise.resolve({ local, error: undefined as unknown });
      return remote.download(f.path, local, f.size).then(
        () => ({ local, error: undefined as unknown }),
        (error: unknown) => ({ local, error }),
      );
    });
    for (const [i, c] of candidates.entries()) {
      if (options.signal?.aborted) break;
      const f = c.file;
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
        // Never fetched, so never hashed: recorded by size and time, so the next cycle does not quarantine it again.
        await ctx.meta.ledger.record({
          source: source.name,
          path: f.path,
          size: f.size,
          mtime: f.mtime,
          sha256: `unfetched:${f.size}:${f.mtime.getTime()}`,
          status: 'quarantined',
          runId,
          seenAt: new Date(),
        });
        report.files.quarantined++;
        report.details.push({ path: f.path, outcome: 'quarantined', reason: 'too large' });
        continue;
      }
      try {
        await processFile(ctx, source, cfg, format, c, local, runId, report, remote);
        report.bytes += f.size;
      } catch (e) {
        // One file that cannot be committed (the lake refused it, the store is down) fails alone: the next is tried.
        report.files.failed++;
        const reason = e instanceof FinmeshError ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
        report.details.push({ path: f.path, outcome: 'failed', reason });
        run.log.error({ path: f.path, err_message: reason }, `${source.name}: ${f.path} failed`);
      }
      metrics.fileLag.set({ domain: source.domain, source: source.name }, (Date.now() - f.mtime.getTime()) / 1000);
    }
    const failed = report.details.filter((d) => d.outcome === 'failed');
    run.meter('sftp.bytes', report.bytes);
    run.meter('files.ingested', report.files.ingested);
    run.meter('files.failed', report.files.failed);
    run.meter('files.quarantined', report.files.quarantined);
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
        o.onReport(await ingestFileSource(ctx, s, { nominalTime: new Date(at === 0 ? Date.now() : at), signal: o.signal }));
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

async function processFile(
  ctx: Context,
  source: Source,
  cfg: FileSourceConfig,
  format: FileFormat,
  c: Candidate,
  local: string,
  runId: string,
  report: IngestReport,
  files: FileSource,
): Promise<void> {
  const f = c.file;
  const incomplete = (reason: string) => {
    report.files.incomplete++;
    report.details.push({ path: f.path, outcome: 'incomplete', reason });
  };
  const staging = await ctx.storage.stagingDir();
  try {
    const scan = await scanFile(local);
    const { sha256 } = scan;
    const entry: LedgerEntry = {
      source: source.name,
      path: f.path,
      size: f.size,
      mtime: f.mtime,
      sha256,
      runId,
      seenAt: new Date(),
      status: '',
    };
    // A file waiting for its end keeps its download: the next cycle resumes it or finds it whole.
    if (c.sha256 && c.sha256 !== sha256) {
      return incomplete(`its SHA-256 is ${sha256}, the manifest says ${c.sha256}: not complete yet (or not the file the partner listed)`);
    }
    const seen = await ctx.meta.ledger.find(source.name, sha256);
    // Lines of this file already in bronze: of this very content (its last line was still being written), or of
    // an earlier, shorter version it still starts with (the file grew after it was taken).
    let skipLines = 0;
    if (seen) {
      if (seen.path !== f.path) {
        rmSync(local, { force: true });
        await ctx.meta.ledger.record({ ...entry, status: 'duplicate' });
        report.files.duplicate++;
        report.details.push({
          path: f.path,
          outcome: 'duplicate',
          sha256,
          reason: `same content as ${seen.path}, ingested by run ${seen.runId}`,
        });
        return;
      }
      const mine = await ctx.meta.ledger.lastIngested(source.name, f.path);
      if (!mine || mine.sha256 !== sha256 || (mine.loadedBytes ?? mine.size) >= mine.size) {
        rmSync(local, { force: true });
        return;
      }
      skipLines = mine.loadedLines ?? 0;
    }
    const container = await sniffContainer(local);
    const plain = container === 'plain' && !format.pgp;
    const previous = seen ? undefined : await ctx.meta.ledger.lastIngested(source.name, f.path);
    if (previous && plain && previous.sha256 !== sha256 && (await grewFrom(local, previous))) skipLines = previous.loadedLines ?? 0;
    // A plain file taken before it settled loads up to its last line end: its last line may be half written.
    let loadBytes = scan.size;
    let loadLines = scan.newlines + (scan.endsWithNewline || scan.size === 0 ? 0 : 1);
    if (plain && !c.settled && !scan.endsWithNewline) {
      loadBytes = scan.lastLineEnd;
      loadLines = scan.newlines;
    }
    if (loadLines <= skipLines) {
      return incomplete(
        skipLines > 0
          ? `${skipLines} lines loaded; the line after them is still being written`
          : 'its first line is still being written; taken on a later poll',
      );
    }
    const names = new Set(source.config.schema.map((c) => c.name));
    const rows = new NdjsonWriter(join(staging, 'rows.ndjson'));
    const rejects = new NdjsonWriter(join(staging, 'rejects.ndjson'));
    let read: Awaited<ReturnType<typeof readFileRows>>;
    const sinkFor = (member: string) => ({
      row: (line: number, values: Record<string, unknown>) => {
        if (line <= skipLines) return;
        const out: Record<string, unknown> = { _source_file: member, _line: line };
        for (const k in values) if (names.has(k)) out[k] = values[k];
        rows.add(JSON.stringify(out));
      },
      reject: (line: number, reason: string, raw: string) => {
        if (line > skipLines) rejects.add(quarantineLine(source, { kind: 'row', file: member, line, reason, raw }));
      },
    });
    // A whole plain CSV is parsed by the engine itself where it gives the scanner's results (rows the engine leaves
    // to the scanner, and rejects, still come through the sink); anything else by the scanner.
    let parsed: { select: string; count: number } | undefined;
    try {
      if (plain && skipLines === 0 && loadBytes === scan.size)
        parsed = await readFileWithEngine(ctx.engine, local, f.path, format, staging, sinkFor(f.path));
      read = parsed
        ? { integrityError: undefined, members: [f.path] }
        : await readFileRows(local, f.path, format, staging, sinkFor, plain && loadBytes < scan.size ? loadBytes : undefined);
    } finally {
      rows.close();
      rejects.close();
    }
    if (read.integrityError && read.truncated && !c.settled) {
      return incomplete(`${withoutPath(read.integrityError, f.path)}; waiting while it is still young`);
    }
    // Landing keeps the bytes exactly as received, named by their hash, whatever happens to the rows.
    const landing = { domain: source.domain, zone: 'landing' as const, name: source.dataset.name };
    const day = new Date().toISOString().slice(0, 10);
    const landingKey = `${datasetKey(landing)}/dt=${day}/${sha256.slice(0, 16)}-${landingName(f.path)}`;
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
    // Named by content and lines, so a cycle replayed after a crash overwrites its own files.
    const accepted = rows.count + (parsed?.count ?? 0);
    if (accepted > 0)
      await writeBronzeBatch(ctx, {
        source,
        runId,
        firstOffset: skipLines + 1,
        lastOffset: loadLines,
        input: parsed
          ? { select: withNdjsonRows(ctx, source, parsed.select, rows), identity: sha256.slice(0, 12) }
          : { ndjsonFile: rows.path, identity: sha256.slice(0, 12) },
      });
    if (rejects.count > 0)
      await writeQuarantine(ctx, source, runId, { ndjsonFile: rejects.path, identity: `${sha256.slice(0, 12)}-${skipLines + 1}` });
    await ctx.meta.ledger.record({
      ...entry,
      status: 'ingested',
      ...(loadBytes < scan.size
        ? { loadedBytes: loadBytes, loadedLines: loadLines, prefixSha256: scan.lastLineEndSha256 }
        : { loadedLines: loadLines }),
    });
    const outcome: FileOutcome = skipLines > 0 ? 'appended' : previous && previous.sha256 !== sha256 ? 'changed' : 'ingested';
    report.files.ingested++;
    if (outcome === 'changed') report.files.changed++;
    if (outcome === 'appended') report.files.appended++;
    report.rows.accepted += accepted;
    report.rows.rejected += rejects.count;
    const detail: IngestReport['details'][number] = {
      path: f.path,
      outcome,
      sha256,
      size: f.size,
      rows: accepted,
      rejected: rejects.count,
      ...members,
      ...signed,
      ...(outcome === 'changed' ? { reason: 'a new version of a file ingested before under the same name' } : {}),
      ...(outcome === 'appended'
        ? { reason: `grew since it was taken: lines ${skipLines + 1}-${loadLines} loaded, the first ${skipLines} were already` }
        : {}),
      ...(loadBytes < scan.size ? { warning: `its last line is still being written: lines 1-${loadLines} loaded, the rest waits` } : {}),
    };
    report.details.push(detail);
    // A file whose end is still to come stays where it is until it is whole.
    if (loadBytes < scan.size) return;
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

/** The engine's rows of a file, and the rows the scanner read for it (staged as NDJSON), as one relation. */
function withNdjsonRows(ctx: Context, source: Source, select: string, rows: NdjsonWriter): string {
  if (rows.count === 0) return select;
  const d = ctx.engine.dialect;
  const columns = source.config.schema.map((c) => ({ name: c.name, type: c.type }));
  const names = columns.map((c) => d.quoteIdent(c.name)).join(', ');
  return `SELECT ${names} FROM (${select}) UNION ALL SELECT ${names} FROM ${d.readNdjson(rows.path, columns)}`;
}

/** True when `path` is below the source's folder and climbs out of it nowhere. */
function inside(root: string, path: string): boolean {
  const r = root.replace(/\/+$/, '');
  return (
    path.startsWith(`${r}/`) &&
    !path
      .slice(r.length + 1)
      .split('/')
      .some((s) => s === '' || s === '.' || s === '..')
  );
}

/** The ledger entry is the file as listed now: same size and modification time. */
function sameVersion(e: LedgerEntry, f: RemoteFile): boolean {
  return e.size === f.size && e.mtime.getTime() === f.mtime.getTime();
}

/** A file name as part of a landing key: safe characters only, and short enough for any filesystem (255 bytes a name). */
export function landingName(path: string): string {
  const name = basename(path).replace(/[^A-Za-z0-9_.-]/g, '_');
  if (name.length <= 120) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  return `${name.slice(0, 120 - ext.length - 9)}~${createHash('sha256').update(name).digest('hex').slice(0, 8)}${ext}`;
}

const withoutPath = (message: string, path: string) => (message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);

/** Whether the local file starts with the bytes an earlier version of it loaded (the file grew since). */
async function grewFrom(local: string, previous: LedgerEntry): Promise<boolean> {
  const bytes = previous.loadedBytes ?? previous.size;
  const expected = previous.prefixSha256 ?? previous.sha256;
  if (bytes <= 0 || statSync(local).size <= bytes) return false;
  return (await hashFile(local, bytes)) === expected;
}

/** A small remote file (a manifest) as text. */
async function readRemoteText(files: FileSource, f: RemoteFile, downloads: string): Promise<string> {
  const local = join(
    downloads,
    `manifest-${createHash('sha1').update(`${f.path}\u0000${f.size}\u0000${f.mtime.getTime()}`).digest('hex')}`,
  );
  try {
    await files.download(f.path, local, f.size);
    return readFileSync(local, 'utf8');
  } finally {
    rmSync(local, { force: true });
  }
}

interface FileScan {
  size: number;
  sha256: string;
  newlines: number;
  endsWithNewline: boolean;
  /** Bytes up to and including the last line end (0 when there is none), and their SHA-256. */
  lastLineEnd: number;
  lastLineEndSha256: string | undefined;
}

/** Bytes a file is read in by `scanFile` and `hashFile`: one buffer, reused. */
const SCAN_CHUNK_BYTES = 1 << 20;

/**
 * Each chunk of a file (or of its first `bytes`), read into one buffer that is reused: a stream's fresh 64 KiB buffer
 * per chunk left 1,500 of them for the garbage collector in a 100 MB file, and the process ~20 MiB larger before its
 * parse began than for a 10 MB one. `chunk` is a view of the buffer, valid until `each` returns.
 */
async function eachChunk(path: string, each: (chunk: Buffer) => void, bytes = Number.POSITIVE_INFINITY): Promise<void> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    for (let at = 0; at < bytes; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, bytes - at), at);
      if (bytesRead === 0) break;
      each(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
}

/** One pass over a file: its hash, its line ends, and the hash of the part up to its last line end. */
async function scanFile(path: string): Promise<FileScan> {
  const h = createHash('sha256');
  let size = 0;
  let newlines = 0;
  let lastLineEnd = 0;
  let atLineEnd: Hash | undefined;
  let last = -1;
  await eachChunk(path, (b) => {
    const nl = b.lastIndexOf(10);
    if (nl >= 0) {
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) newlines++;
      h.update(b.subarray(0, nl + 1));
      atLineEnd = h.copy();
      h.update(b.subarray(nl + 1));
      lastLineEnd = size + nl + 1;
    } else h.update(b);
    size += b.length;
    if (b.length > 0) last = b[b.length - 1] as number;
  });
  return {
    size,
    sha256: h.digest('hex'),
    newlines,
    endsWithNewline: last === 10,
    lastLineEnd,
    lastLineEndSha256: atLineEnd?.digest('hex'),
  };
}

/** SHA-256 of a file, or of its first `bytes`. */
async function hashFile(path: string, bytes?: number): Promise<string> {
  const h = createHash('sha256');
  await eachChunk(path, (b) => h.update(b), bytes);
  return h.digest('hex');
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
  for (const k of ['ingested', 'appended', 'duplicate', 'changed', 'quarantined', 'incomplete', 'refused', 'failed'] as const)
    m.sftpFiles.inc({ ...l, outcome: k }, report.files[k]);
  m.sftpBytes.inc(l, report.bytes);
  m.rowsAccepted.inc(l, report.rows.accepted);
  m.quarantineRows.inc(l, report.rows.rejected + report.files.quarantined);
  m.ingestDuration.observe(l, (Date.now() - started) / 1000);
}
