import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { acquirerEdiFile, type SettledSale } from '../../src/demo/simulator/partner-files.js';
import { openContext } from '../../src/jobs/context.js';
import { ingestFileSource } from '../../src/jobs/ingest.js';
import { prepareSession } from '../../src/lake/session.js';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { copyExample, TEST_KEY, tempDir } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

import { type Launched, SSHD_BIN, skipUnless, startSshd } from '../launchers.js';

const sales: SettledSale[] = Array.from({ length: 6 }, (_, i) => ({
  transactionDate: '2026-11-26',
  merchantId: `mer_00000${i}`,
  nsu: String(100000000000 + i),
  authCode: String(100000 + i),
  brand: 'ELO',
  amount: 100 + i,
  merchantName: i === 0 ? 'Padaria São João Ção' : 'Mercado Araújo',
}));

/** A copy of the example whose acquirer source points at `server` with the given settings. */
function projectFor(settings: Record<string, unknown>): string {
  const dir = copyExample();
  const file = join(dir, 'domains/partners/sources/acquirer-settlements.yaml');
  const base = {
    name: 'acquirer-settlements',
    kind: 'sftp',
    host: '127.0.0.1',
    path: '/outbound',
    pattern: 'EDI_*.txt',
    format: 'fixed-width',
    layout: 'layouts/acquirer-edi.yaml',
    expectedDaily: 1,
    stableMs: 200,
    dataset: 'settlements',
    key: ['nsu', 'auth_code', 'installment'],
    eventTime: 'settlement_date',
    schema: loadProject(dir).sources.find((s) => s.name === 'acquirer-settlements')?.config.schema,
  };
  writeFileSync(file, stringify({ ...base, ...settings }));
  return dir;
}

async function ingest(dir: string) {
  const project = loadProject(dir);
  const ctx = await openContext(project, { secrets: true });
  try {
    await prepareSession(ctx);
    const source = project.sources.find((s) => s.name === 'acquirer-settlements');
    assert.ok(source);
    const report = await ingestFileSource(ctx, source);
    const bronze = (
      await ctx.engine
        .query('SELECT nsu, merchant_name, gross_amount, _source_file, _line FROM partners_bronze.settlements ORDER BY _source_file, _line')
        .catch(() => ({ rows: [] }))
    ).rows;
    const quarantine = (
      await ctx.engine.query('SELECT kind, _source_file, _line, reason FROM partners_quarantine.settlements').catch(() => ({ rows: [] }))
    ).rows;
    return { report, bronze, quarantine };
  } finally {
    await ctx.close();
  }
}

describe('SFTP ingestion through finmesh’s embedded server (real protocol)', () => {
  let server: EmbeddedSftpServer;
  let root: string;
  before(async () => {
    root = tempDir('sftp-root-');
    mkdirSync(join(root, 'outbound'));
    server = await EmbeddedSftpServer.start({ root, username: 'partner', password: 'secret-pw', hostKeyFile: join(tempDir(), 'host_key') });
  });
  after(async () => {
    await server?.close();
  });
  const settings = () => ({
    port: server.port,
    username: 'partner',
    password: 'env:TEST_SFTP_PASSWORD',
    hostKeyFingerprint: server.fingerprint,
  });
  process.env.TEST_SFTP_PASSWORD = 'secret-pw';

  it('refuses a host key that does not match the pinned fingerprint, naming both', async () => {
    const dir = projectFor({ ...settings(), hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await assert.rejects(
      ingest(dir),
      (e: Error) => e.message.includes(server.fingerprint) && e.message.includes('does not match the pinned SHA256:AAAA'),
    );
  });

  it('ingests complete files once: ISO-8859-1 text lands as UTF-8, bad rows go to quarantine, duplicates and bad trailers are caught', async () => {
    writeFileSync(join(root, 'outbound/EDI_20261126_001.txt'), acquirerEdiFile(sales, '2026-11-26', 1, { malformed: new Set([3]) }));
    writeFileSync(join(root, 'outbound/EDI_20261126_001_COPY.txt'), acquirerEdiFile(sales, '2026-11-26', 1, { malformed: new Set([3]) }));
    const wrongCount = acquirerEdiFile(sales, '2026-11-26', 2)
      .toString('latin1')
      .replace(/\r\n9000000006/, '\r\n9000000009');
    writeFileSync(join(root, 'outbound/EDI_20261126_002.txt'), Buffer.from(wrongCount, 'latin1'));
    writeFileSync(join(root, 'outbound/EDI_20261126_003.txt'), acquirerEdiFile(sales, '2026-11-26', 3, { truncate: true }));
    // Dropped ten minutes ago: past any settle window, so a file without its trailer is truncated, not still being
    // written (how long the test took to get here must not decide it).
    const dropped = new Date(Date.now() - 600_000);
    for (const f of ['001', '001_COPY', '002', '003']) utimesSync(join(root, `outbound/EDI_20261126_${f}.txt`), dropped, dropped);
    const dir = projectFor(settings());
    const { report, bronze, quarantine } = await ingest(dir);
    assert.deepEqual(report.files, {
      seen: 4,
      ingested: 1,
      appended: 0,
      duplicate: 1,
      changed: 0,
      quarantined: 2,
      incomplete: 0,
      refused: 0,
      failed: 0,
    });
    assert.deepEqual(report.rows, { accepted: 5, rejected: 1 });
    assert.equal(bronze.length, 5);
    assert.equal(bronze[0]?.merchant_name, 'Padaria São João Ção', 'ISO-8859-1 decoded to UTF-8');
    assert.equal(bronze[0]?._line, 2);
    const reasons = quarantine.map((q) => `${q.kind} ${q.reason}`).join('\n');
    assert.match(
      reasons,
      /row .*EDI_20261126_001\.txt: line 5: detail record, field settlement_date \(positions 2-9\): expected a date yyyyMMdd, found "2026X131"/,
    );
    assert.match(reasons, /file .*EDI_20261126_002\.txt: trailer \(line 8\) record_count says 9 detail records, the file has 6/);
    assert.match(reasons, /file .*EDI_20261126_003\.txt: no trailer record: the file is truncated/);
    const again = await ingest(dir);
    assert.equal(
      again.report.files.ingested + again.report.files.duplicate + again.report.files.quarantined,
      0,
      'a second run ingests nothing new',
    );
    assert.equal(again.bronze.length, 5);
  });

  it('takes a file only once it is complete', async () => {
    writeFileSync(join(root, 'outbound/EDI_20261127_009.txt'), acquirerEdiFile(sales, '2026-11-27', 9));
    const dir = projectFor({ ...settings(), pattern: 'EDI_20261127_*.txt', stableMs: 60_000 });
    const { report } = await ingest(dir);
    assert.equal(report.files.incomplete, 1, 'too recent to be sure it is complete');
    writeFileSync(join(root, 'outbound/EDI_20261127_009.txt.done'), '');
    const { report: withMarker } = await ingest(dir);
    assert.equal(withMarker.files.ingested, 1, 'a done-marker makes it complete');
  });
});

const sshd = skipUnless(SSHD_BIN !== undefined, 'OpenSSH sshd', 'Debian: apt-get install openssh-server');

describe('SFTP ingestion against OpenSSH sshd', sshd, () => {
  let server: (Launched & { user: string; clientKey: string; fingerprint: string; home: string }) | undefined;
  before(async () => {
    server = await startSshd();
  });
  after(async () => {
    await server?.stop();
  });

  it('downloads, verifies and loads with key authentication and a pinned host key, then archives the file', async () => {
    const s = server as NonNullable<typeof server>;
    mkdirSync(join(s.home, 'outbound'), { recursive: true });
    writeFileSync(join(s.home, 'outbound/EDI_20261126_001.txt'), acquirerEdiFile(sales, '2026-11-26', 1));
    const dropped = new Date(Date.now() - 600_000); // long since written: complete by the stable rule
    utimesSync(join(s.home, 'outbound/EDI_20261126_001.txt'), dropped, dropped);
    const dir = projectFor({
      port: s.port,
      username: s.user,
      privateKey: `file:${s.clientKey}`,
      hostKeyFingerprint: s.fingerprint,
      path: join(s.home, 'outbound'),
      afterCommit: 'move',
    });
    const { report, bronze } = await ingest(dir);
    assert.equal(report.files.ingested, 1, JSON.stringify(report.details));
    assert.equal(bronze.length, 6);
    const { report: again } = await ingest(dir);
    assert.equal(again.files.seen, 0, 'the file was moved to the archive folder after commit');
  });
});
