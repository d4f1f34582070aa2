import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { datasetKey, type Source } from '../config/project.js';
import { resolveSecret } from '../config/secrets.js';
import { FinmeshError } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { quoteLiteral } from '../engine/engine.js';
import { fileKey } from '../lake/layout.js';
import type { Metrics } from '../observability/metrics.js';
import { decodeFile } from '../sources/formats/decode.js';
import { type Layout, layoutSchema, type ParsedFile, parseFixedWidth } from '../sources/formats/fixed-width.js';
import { EmbeddedSftpServer } from '../sources/sftp/embedded-sftp-server.js';
import { globToRegExp, type RemoteFile, SftpConnection } from '../sources/sftp/sftp-client.js';
import { writeBronzeBatch } from './bronze-writer.js';
import type { Context } from './context.js';
import { refreshDataset } from './lake-session.js';

export type FileOutcome = 'ingested' | 'duplicate' | 'changed' | 'quarantined' | 'incomplete';

export interface IngestReport {
  source: string;
  runId: string;
  files: { seen: number; ingested: number; duplicate: number; changed: number; quarantined: number; incomplete: number };
  rows: { accepted: number; rejected: number };
  bytes: number;
  details: { path: string; outcome: FileOutcome; sha256?: string; rows?: number; rejected?: number; reason?: string }[];
}

type SftpConfig = Extract<Source['config'], { kind: 'sftp' }>;

/**
 * One ingestion cycle of a partner SFTP source: list, keep the files that are complete (stable size and mtime,
 * or a `.done` marker), download, hash (SHA-256), skip content already ingested under any name, keep the file
 * unchanged in landing, parse it, load good rows to bronze and bad rows to quarantine — or, when the file fails
 * integrity (trailer, truncation, decompression limits), quarantine it whole and load nothing of it.
 */
export async function ingestSftpSource(
  ctx: Context,
  source: Source,
  options: { metrics?: Metrics; parentRunId?: string } = {},
): Promise<IngestReport> {
  if (source.config.kind !== 'sftp') throw new FinmeshError('CONFIG_INVALID', `${source.file}: ${source.name} is not an SFTP source`);
  const cfg = source.config;
  const runId = uuidv7();
  const started = Date.now();
  ctx.meta.startRun({
    runId,
    job: `ingest:${source.name}`,
    kind: 'ingest',
    parentRunId: options.parentRunId,
    startedAt: new Date(started),
  });
  const report: IngestReport = {
    source: source.name,
    runId,
    files: { seen: 0, ingested: 0, duplicate: 0, changed: 0, quarantined: 0, incomplete: 0 },
    rows: { accepted: 0, rejected: 0 },
    bytes: 0,
    details: [],
  };
  const password = cfg.password ? resolveSecret(cfg.password, ctx.project.root, `${source.file}: password`) : undefined;
  const privateKey = cfg.privateKey ? resolveSecret(cfg.privateKey, ctx.project.root, `${source.file}: privateKey`) : undefined;
  let embedded: EmbeddedSftpServer | undefined;
  let conn: SftpConnection | undefined;
  try {
    let port = cfg.port;
    if (cfg.embedded) {
      const root = resolve(ctx.project.root, cfg.embedded.root);
      embedded = await EmbeddedSftpServer.start({
        root,
        username: cfg.username,
        password: password ?? '',
        hostKeyFile: join(resolve(ctx.project.root, '.finmesh/secrets'), `${source.name}.host_key`),
      });
      port = embedded.port;
    }
    conn = await connectWithRetry({
      host: cfg.host,
      port,
      username: cfg.username,
      password,
      privateKey,
      hostKeyFingerprint: cfg.hostKeyFingerprint,
    });
    const pattern = globToRegExp(cfg.pattern);
    const matches = (files: RemoteFile[]) =>
      files.filter((f) => pattern.test(f.path.slice(cfg.path.replace(/\/$/, '').length + 1)) || pattern.test(basename(f.path)));
    const first = await conn.list(cfg.path, cfg.recursive);
    const markers = new Set(first.filter((f) => f.path.endsWith('.done')).map((f) => f.path.slice(0, -5)));
    let candidates = matches(first.filter((f) => !f.path.endsWith('.done')));
    report.files.seen = candidates.length;
    // Two polls a moment apart: a file still being written changes size or mtime between them.
    if (candidates.some((c) => !markers.has(c.path)) && cfg.stableMs > 0)
      await new Promise((r) => setTimeout(r, Math.min(cfg.stableMs, 1000)));
    const second = new Map((await conn.list(cfg.path, cfg.recursive)).map((f) => [f.path, f]));
    const now = Date.now();
    const layout = cfg.format === 'fixed-width' ? loadLayout(ctx, source, cfg) : undefined;
    candidates = candidates.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const f of candidates) {
      const again = second.get(f.path);
      const stable =
        markers.has(f.path) ||
        (again && again.size === f.size && again.mtime.getTime() === f.mtime.getTime() && now - f.mtime.getTime() >= cfg.stableMs);
      if (!stable) {
        report.files.incomplete++;
        report.details.push({ path: f.path, outcome: 'incomplete', reason: 'still changing or too recent; taken on a later poll' });
        continue;
      }
      if (f.size > cfg.maxFileBytes) {
        await quarantineFile(ctx, source, runId, f.path, `file is ${f.size} bytes, above the limit of ${cfg.maxFileBytes}`);
        report.files.quarantined++;
        report.details.push({ path: f.path, outcome: 'quarantined', reason: 'too large' });
        continue;
      }
      await ingestOne(ctx, source, cfg, conn, f, layout, runId, report);
      options.metrics?.fileLag.set({ domain: source.domain, source: source.name }, (Date.now() - f.mtime.getTime()) / 1000);
    }
    ctx.meta.finishRun(runId, {
      status: 'succeeded',
      endedAt: new Date(),
      rowsIn: report.rows.accepted + report.rows.rejected,
      rowsOut: report.rows.accepted,
      rowsRejected: report.rows.rejected,
    });
  } catch (e) {
    ctx.meta.finishRun(runId, { status: 'failed', endedAt: new Date(), error: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    conn?.close();
    await embedded?.close();
  }
  const m = options.metrics;
  if (m) {
    const l = { domain: source.domain, source: source.name };
    m.sftpFiles.inc({ ...l, outcome: 'seen' }, report.files.seen);
    for (const k of ['ingested', 'duplicate', 'changed', 'quarantined', 'incomplete'] as const)
      m.sftpFiles.inc({ ...l, outcome: k }, report.files[k]);
    m.sftpBytes.inc(l, report.bytes);
    m.rowsAccepted.inc(l, report.rows.accepted);
    m.quarantineRows.inc(l, report.rows.rejected + report.files.quarantined);
    m.ingestDuration.observe(l, (Date.now() - started) / 1000);
  }
  return report;
}

async function connectWithRetry(o: Parameters<typeof SftpConnection.connect>[0]): Promise<SftpConnection> {
  let last: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await SftpConnection.connect(o);
    } catch (e) {
      if (e instanceof FinmeshError && e.code === 'PERMISSION') throw e;
      last = e;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
  throw new FinmeshError('UNAVAILABLE', `${(last as Error).message} (after 3 attempts)`, { cause: last });
}

function loadLayout(ctx: Context, source: Source, cfg: SftpConfig): Layout {
  if (!cfg.layout) throw new FinmeshError('CONFIG_INVALID', `${source.file}: a fixed-width source needs a layout`);
  const path = isAbsolute(cfg.layout) ? cfg.layout : resolve(ctx.project.root, cfg.layout);
  const r = layoutSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!r.success)
    throw new FinmeshError('CONFIG_INVALID', `${cfg.layout}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function ingestOne(
  ctx: Context,
  source: Source,
  cfg: SftpConfig,
  conn: SftpConnection,
  f: RemoteFile,
  layout: Layout | undefined,
  runId: string,
  report: IngestReport,
): Promise<void> {
  const staging = await ctx.storage.stagingDir();
  try {
    const local = join(staging, 'download');
    await conn.download(f.path, local);
    const bytes = readFileSync(local);
    if (bytes.length !== statSync(local).size || bytes.length !== f.size)
      throw new FinmeshError('DATA_INVALID', `${f.path}: downloaded ${bytes.length} bytes of ${f.size}`);
    report.bytes += bytes.length;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const seen = ctx.meta.ledgerFind(source.name, sha256);
    const entry = { source: source.name, path: f.path, size: f.size, mtime: f.mtime, sha256, runId, seenAt: new Date() };
    if (seen) {
      ctx.meta.ledgerRecord({ ...entry, status: seen.path === f.path ? 'seen' : 'duplicate' });
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
    const previousVersion = ctx.meta.ledgerPath?.(source.name, f.path);
    // Landing keeps the bytes exactly as received, named by their hash.
    const landing = { domain: source.domain, zone: 'landing' as const, name: source.dataset.name };
    const day = new Date().toISOString().slice(0, 10);
    const landingKey = `${datasetKey(landing)}/dt=${day}/${sha256.slice(0, 16)}-${basename(f.path).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    const landed = await ctx.storage.commit(local, landingKey);
    ctx.meta.commitFiles({
      dataset: datasetKey(landing),
      runId,
      add: [{ key: landingKey, partition: `dt=${day}`, rows: 0, bytes: landed }],
      replace: [],
    });
    let parsed: ParsedFile;
    try {
      const text = decodeFile(bytes, f.path, layout?.encoding ?? 'utf-8', { maxBytes: cfg.maxFileBytes, maxRatio: cfg.maxExpansionRatio });
      parsed = layout ? parseFixedWidth(text, layout, f.path) : parseNdjson(text, f.path);
    } catch (e) {
      parsed = { rows: [], rejects: [], integrityError: e instanceof Error ? e.message : String(e) };
    }
    if (parsed.integrityError) {
      await quarantineFile(ctx, source, runId, f.path, parsed.integrityError);
      ctx.meta.ledgerRecord({ ...entry, status: 'quarantined' });
      report.files.quarantined++;
      report.details.push({ path: f.path, outcome: 'quarantined', sha256, reason: parsed.integrityError });
      return;
    }
    const names = new Set(source.config.schema.map((c) => c.name));
    const records = parsed.rows.map((r) => {
      const values: Record<string, unknown> = { _source_file: f.path, _line: r.line };
      for (const [k, v] of Object.entries(r.values)) if (names.has(k)) values[k] = v;
      return { offset: r.line, op: 'upsert' as const, key: `${sha256}:${r.line}`, json: JSON.stringify(values) };
    });
    if (records.length > 0) {
      await writeBronzeBatch(ctx, {
        source,
        runId,
        firstOffset: records[0]?.offset ?? 0,
        lastOffset: records.at(-1)?.offset ?? 0,
        input: { records },
      });
    }
    if (parsed.rejects.length > 0)
      await writeQuarantine(
        ctx,
        source,
        runId,
        parsed.rejects.map((r) => ({ kind: 'row', file: f.path, line: r.line, reason: r.reason, raw: r.raw })),
      );
    ctx.meta.ledgerRecord({ ...entry, status: 'ingested' });
    const outcome: FileOutcome = previousVersion && previousVersion !== sha256 ? 'changed' : 'ingested';
    report.files.ingested++;
    if (outcome === 'changed') report.files.changed++;
    report.rows.accepted += records.length;
    report.rows.rejected += parsed.rejects.length;
    report.details.push({
      path: f.path,
      outcome,
      sha256,
      rows: records.length,
      rejected: parsed.rejects.length,
      ...(outcome === 'changed' ? { reason: 'a new version of a file ingested before under the same name' } : {}),
    });
    await afterCommit(conn, cfg, f.path);
  } finally {
    await ctx.storage.discard(staging);
  }
}

function parseNdjson(text: string, file: string): ParsedFile {
  const rows: ParsedFile['rows'] = [];
  const rejects: ParsedFile['rejects'] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      const v = JSON.parse(raw) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      rows.push({ line: i + 1, values: v as Record<string, unknown> });
    } catch (e) {
      rejects.push({ line: i + 1, reason: `${file}: line ${i + 1}: ${(e as Error).message}`, raw });
    }
  });
  return { rows, rejects, integrityError: undefined };
}

async function afterCommit(conn: SftpConnection, cfg: SftpConfig, path: string): Promise<void> {
  if (cfg.afterCommit === 'delete') await conn.remove(path);
  else if (cfg.afterCommit === 'move') {
    const archive = cfg.archivePath ?? `${cfg.path.replace(/\/$/, '')}/archive`;
    await conn.mkdir(archive);
    await conn.rename(path, `${archive}/${basename(path)}`);
  }
}

async function quarantineFile(ctx: Context, source: Source, runId: string, file: string, reason: string): Promise<void> {
  await writeQuarantine(ctx, source, runId, [{ kind: 'file', file, line: 0, reason, raw: '' }]);
}

/** Quarantine rows: what was rejected, why, where (file and line), the raw text, and the run. */
async function writeQuarantine(
  ctx: Context,
  source: Source,
  runId: string,
  rows: { kind: string; file: string; line: number; reason: string; raw: string }[],
): Promise<void> {
  const dataset = { domain: source.domain, zone: 'quarantine' as const, name: source.dataset.name };
  const staging = await ctx.storage.stagingDir();
  try {
    const input = join(staging, 'q.ndjson');
    writeFileSync(input, rows.map((r) => JSON.stringify({ ...r, source: source.name })).join('\n'));
    const select = `SELECT kind, source, file AS _source_file, line AS _line, reason, raw, ${quoteLiteral(runId)} AS _run_id, now() AS _ingested_at, CAST(now() AS DATE) AS dt
      FROM read_json(${quoteLiteral(input)}, format = 'newline_delimited', columns = {kind: 'VARCHAR', source: 'VARCHAR', file: 'VARCHAR', line: 'BIGINT', reason: 'VARCHAR', raw: 'VARCHAR'})`;
    const written = await ctx.engine.writeParquet(select, join(staging, 'out'), { partitionBy: 'dt' });
    const add = [];
    for (const w of written) {
      const key = fileKey(
        dataset,
        w.partition,
        `${runId}-${createHash('sha256')
          .update(rows.map((r) => `${r.file}:${r.line}`).join('|'))
          .digest('hex')
          .slice(0, 12)}`,
      );
      add.push({ key, partition: w.partition, rows: w.rows, bytes: await ctx.storage.commit(w.path, key) });
    }
    ctx.meta.commitFiles({ dataset: datasetKey(dataset), runId, add, replace: [] });
    await refreshDataset(ctx, dataset);
  } finally {
    await ctx.storage.discard(staging);
  }
}
