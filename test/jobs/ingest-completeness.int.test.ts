// When is a partner file complete? A writer that stalls mid-upload must not get half a file loaded twice, a file that
// grows after it was taken loads only what it added, and partners that mark (`.done`) or list (a sha256sum manifest)
// their files get them taken exactly then. Over finmesh's embedded SFTP server (the real protocol) on a local folder,
// so the test plays the partner's writer, and its pauses are modification times set in the past, not sleeps.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { acquirerEdiFile } from '../../src/demo/simulator/partner-files.js';
import { openContext } from '../../src/jobs/context.js';
import { type IngestReport, ingestFileSource } from '../../src/jobs/ingest.js';
import { prepareSession } from '../../src/lake/session.js';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { copyExample, TEST_KEY, tempDir } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;
process.env.COMPLETENESS_SFTP_PASSWORD = 'pw-complete';

let server: EmbeddedSftpServer;
let root: string;
before(async () => {
  root = tempDir('sftp-complete-');
  mkdirSync(join(root, 'drop'), { recursive: true });
  server = await EmbeddedSftpServer.start({ root, username: 'partner', password: 'pw-complete', hostKeyFile: join(tempDir(), 'hk') });
});
after(async () => {
  await server?.close();
});

/** A project with one NDJSON partner source reading `/drop/<folder>` on the embedded server. */
function ndjsonProject(folder: string, settings: Record<string, unknown> = {}): string {
  const dir = copyExample();
  mkdirSync(join(root, 'drop', folder), { recursive: true });
  writeFileSync(
    join(dir, 'domains/partners/sources/acquirer-settlements.yaml'),
    stringify({
      name: 'acquirer-settlements',
      kind: 'sftp',
      host: '127.0.0.1',
      port: server.port,
      username: 'partner',
      password: 'env:COMPLETENESS_SFTP_PASSWORD',
      hostKeyFingerprint: server.fingerprint,
      path: `/drop/${folder}`,
      pattern: '*.ndjson',
      format: 'ndjson',
      dataset: 'settlements',
      key: ['id'],
      schema: [
        { name: 'id', type: 'BIGINT' },
        { name: 'amount', type: 'DECIMAL(18,2)' },
        { name: 'merchant', type: 'VARCHAR' },
        { name: '_source_file', type: 'VARCHAR' },
        { name: '_line', type: 'BIGINT' },
      ],
      ...settings,
    }),
  );
  return dir;
}

const line = (i: number) => `${JSON.stringify({ id: i, amount: (i * 1.25).toFixed(2), merchant: `Loja ${i}` })}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => line(from + k)).join('');

/** Sets a file's modification time `ago` ms in the past: its writer has been quiet that long. */
function quietFor(path: string, ago: number): void {
  const t = new Date(Date.now() - ago);
  utimesSync(path, t, t);
}

async function ingest(dir: string): Promise<{ report: IngestReport; bronze: { n: number; d: number }; quarantined: number }> {
  const project = loadProject(dir);
  const ctx = await openContext(project, { secrets: true });
  try {
    await prepareSession(ctx);
    const source = project.sources.find((s) => s.name === 'acquirer-settlements');
    assert.ok(source);
    const report = await ingestFileSource(ctx, source);
    const rows = async (dataset: string) => (await ctx.meta.manifest.liveFiles(dataset)).reduce((a, f) => a + f.rows, 0);
    const n = await rows('partners/bronze/settlements');
    // Distinct by where each row comes from: a line loaded twice would count once here and twice in n.
    const [b] =
      n > 0
        ? (await ctx.engine.query('SELECT count(DISTINCT (_source_file, _line))::INTEGER d FROM partners_bronze.settlements')).rows
        : [{ d: 0 }];
    return { report, bronze: { n, d: Number(b?.d) }, quarantined: await rows('partners/quarantine/settlements') };
  } finally {
    await ctx.close();
  }
}

describe('complete-file detection that holds for slow writers', () => {
  it('a writer that stalls mid-upload (default stableMs): whole lines load as they come, each once; no half line ever reaches quarantine', async () => {
    const dir = ndjsonProject('stall');
    const file = join(root, 'drop/stall/SETTLE_001.ndjson');
    // The writer sends 20 lines and half of the 21st, then stalls longer than stableMs.
    const full = lines(1, 60);
    const cut1 = full.indexOf(line(21)) + 17;
    writeFileSync(file, full.slice(0, cut1));
    quietFor(file, 3000);
    const a = await ingest(dir);
    assert.deepEqual([a.report.files.ingested, a.bronze.n, a.quarantined], [1, 20, 0], JSON.stringify(a.report.details));
    assert.match(a.report.details[0]?.warning ?? '', /last line is still being written: lines 1-20 loaded/);
    // It resumes, sends up to half of the 41st line, and stalls again.
    const cut2 = full.indexOf(line(41)) + 9;
    appendFileSync(file, full.slice(cut1, cut2));
    // Its writer was seen pausing: the quiet it needs grows with the pause (twice it).
    quietFor(file, 10_000);
    const b = await ingest(dir);
    assert.deepEqual([b.report.files.appended, b.report.details[0]?.outcome], [1, 'appended'], JSON.stringify(b.report.details));
    assert.deepEqual([b.bronze.n, b.quarantined], [40, 0]);
    // And finishes.
    appendFileSync(file, full.slice(cut2));
    quietFor(file, 10_000);
    const c = await ingest(dir);
    assert.match(c.report.details[0]?.reason ?? '', /grew since it was taken: lines 41-60 loaded, the first 40 were already/);
    assert.deepEqual([c.bronze.n, c.bronze.d, c.quarantined], [60, 60, 0], 'a 60-line file is 60 rows in bronze, each once');
    const d = await ingest(dir);
    assert.equal(d.report.details.length, 0, 'nothing more to take');
    assert.equal(d.bronze.n, 60);
  });

  it('a last line without a line end loads once the file has settled', async () => {
    const dir = ndjsonProject('settle', { complete: { settle: '30s' } });
    const file = join(root, 'drop/settle/NO_EOL.ndjson');
    writeFileSync(file, lines(1, 5).trimEnd());
    quietFor(file, 3000);
    const a = await ingest(dir);
    assert.equal(a.bronze.n, 4, 'the last line may still be being written');
    quietFor(file, 31_000);
    const b = await ingest(dir);
    assert.deepEqual([b.report.details[0]?.outcome, b.bronze.n], ['appended', 5]);
  });

  it('a file rewritten under the same name (not grown) is a new version, loaded whole and flagged', async () => {
    const dir = ndjsonProject('rewrite');
    const file = join(root, 'drop/rewrite/DAY.ndjson');
    writeFileSync(file, lines(1, 3));
    quietFor(file, 3000);
    await ingest(dir);
    writeFileSync(file, lines(101, 104));
    quietFor(file, 10_000);
    const b = await ingest(dir);
    assert.deepEqual([b.report.details[0]?.outcome, b.bronze.n], ['changed', 7]);
  });

  it('scales the quiet period to the pace the file was written at: a writer seen pausing 10 s must be quiet 20 s', async () => {
    const dir = ndjsonProject('pace');
    const file = join(root, 'drop/pace/PAUSED.ndjson');
    // Whole seconds: SFTP keeps modification times to the second.
    const first = Math.floor((Date.now() - 14_000) / 1000) * 1000;
    writeFileSync(file, lines(1, 2));
    utimesSync(file, new Date(first), new Date(first));
    const a = await ingest(dir);
    assert.equal(a.report.files.ingested, 1, 'quiet for 14 s, twice the default stableMs: taken');
    // Seen next with more lines, written 10 s after the first ones: its writer pauses, so it must be quiet longer.
    appendFileSync(file, lines(3, 4));
    utimesSync(file, new Date(first + 10_000), new Date(first + 10_000));
    const b = await ingest(dir);
    assert.equal(b.report.details[0]?.outcome, 'incomplete', JSON.stringify(b.report.details));
    assert.match(b.report.details[0]?.reason ?? '', /quiet for less than 20000 ms \(twice the longest pause its writer took\)/);
    quietFor(file, 21_000);
    const c = await ingest(dir);
    assert.deepEqual([c.report.details[0]?.outcome, c.bronze.n], ['appended', 4]);
  });

  it('complete.by marker: only a done-marker takes a file, however long it held still', async () => {
    const dir = ndjsonProject('marker', { complete: { by: 'marker', marker: '.ok' } });
    const file = join(root, 'drop/marker/BATCH.ndjson');
    writeFileSync(file, lines(1, 10));
    quietFor(file, 3_600_000);
    const a = await ingest(dir);
    assert.deepEqual([a.report.details[0]?.outcome, a.report.details[0]?.reason], ['incomplete', 'no .ok marker yet']);
    writeFileSync(`${file}.ok`, '');
    const b = await ingest(dir);
    assert.deepEqual([b.report.files.ingested, b.bronze.n], [1, 10]);
  });

  it('complete.by manifest: a file is taken once a manifest lists it, and only if its SHA-256 matches', async () => {
    const dir = ndjsonProject('manifest', { complete: { by: 'manifest', manifest: 'MANIFEST*.sha256' } });
    const a = join(root, 'drop/manifest/A.ndjson');
    const b = join(root, 'drop/manifest/B.ndjson');
    const whole = lines(1, 8);
    writeFileSync(a, whole.slice(0, 100));
    writeFileSync(b, lines(20, 22));
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    writeFileSync(join(root, 'drop/manifest/MANIFEST_1.sha256'), `${sha(whole)}  A.ndjson\n${sha('other')}  ../escape.ndjson\n`);
    const first = await ingest(dir);
    const by = Object.fromEntries(first.report.details.map((d) => [d.path.split('/').pop(), d]));
    assert.equal(by['A.ndjson']?.outcome, 'incomplete');
    assert.match(by['A.ndjson']?.reason ?? '', /the manifest says/);
    assert.deepEqual([by['B.ndjson']?.outcome, by['B.ndjson']?.reason], ['incomplete', 'no manifest lists it yet']);
    assert.equal(first.bronze.n, 0);
    writeFileSync(a, whole);
    const second = await ingest(dir);
    assert.deepEqual([second.report.files.ingested, second.bronze.n], [1, 8]);
  });

  it('a fixed-width file without its trailer waits while it is young and is quarantined as truncated once it settled', async () => {
    const dir = ndjsonProject('trailer', {
      format: 'fixed-width',
      layout: 'layouts/acquirer-edi.yaml',
      pattern: 'EDI_*.txt',
      key: ['nsu'],
      schema: loadProject(copyExample()).sources.find((s) => s.name === 'acquirer-settlements')?.config.schema,
      complete: { settle: '20s' },
    });
    const sale = {
      transactionDate: '2026-11-26',
      merchantId: 'mer_1',
      nsu: '1',
      authCode: '1',
      brand: 'ELO',
      amount: 1,
      merchantName: 'x',
    };
    const text = acquirerEdiFile([sale, { ...sale, nsu: '2' }], '2026-11-26', 1);
    const file = join(root, 'drop/trailer/EDI_001.txt');
    writeFileSync(file, text.slice(0, text.lastIndexOf('\n9')));
    quietFor(file, 3000);
    const young = await ingest(dir);
    assert.equal(young.report.details[0]?.outcome, 'incomplete');
    assert.match(young.report.details[0]?.reason ?? '', /no trailer record.*waiting while it is still young/);
    assert.equal(young.quarantined, 0);
    quietFor(file, 25_000);
    const old = await ingest(dir);
    assert.equal(old.report.details[0]?.outcome, 'quarantined');
  });
});
