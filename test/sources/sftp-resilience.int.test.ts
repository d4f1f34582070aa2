import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import {
  acquirerEdiFile,
  chargebackReport,
  generatePgpKeys,
  type SettledSale,
  sealForFintech,
  zipOne,
} from '../../src/demo/simulator/partner-files.js';
import { openContext } from '../../src/jobs/context.js';
import { type IngestReport, ingestFileSource, watchFileSources } from '../../src/jobs/ingest.js';
import { prepareSession } from '../../src/lake/session.js';
import type { RunEvent } from '../../src/lineage/openlineage.js';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { SftpConnection } from '../../src/sources/files/sftp/sftp-client.js';
import { copyExample, TEST_KEY, tempDir, waitFor } from '../helpers.js';
import { openLineageValidator } from '../lineage/openlineage-schema.js';
import { startTcpProxy } from '../tcp-proxy.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;
process.env.RESILIENCE_SFTP_PASSWORD = 'pw-resilience';

const sales = (n: number, day = '2026-11-26'): SettledSale[] =>
  Array.from({ length: n }, (_, i) => ({
    transactionDate: day,
    merchantId: `mer_${String(i % 500).padStart(6, '0')}`,
    nsu: String(200000000000 + i),
    authCode: String(300000 + (i % 600000)),
    brand: i % 2 ? 'VISA' : 'MASTERCARD',
    amount: 10 + (i % 1000) / 10,
    merchantName: i % 3 ? 'Loja Conceição' : 'Padaria Açaí',
  }));

async function serve(o: { dropConnectionAfterBytes?: number } = {}) {
  const root = tempDir('sftp-resilience-');
  mkdirSync(join(root, 'outbound/settlements'), { recursive: true });
  mkdirSync(join(root, 'outbound/chargebacks'), { recursive: true });
  const server = await EmbeddedSftpServer.start({
    root,
    username: 'fintech',
    password: 'pw-resilience',
    hostKeyFile: join(tempDir(), 'host_key'),
    ...o,
  });
  return { root, server };
}

/** An embedded server for the tests of one suite: started before them, closed after. */
function serveDuringSuite(): { server: EmbeddedSftpServer; root: string } {
  const state = {} as { server: EmbeddedSftpServer; root: string };
  before(async () => Object.assign(state, await serve()));
  after(async () => {
    await state.server?.close();
  });
  return state;
}

/** A copy of the example whose source `name` points at `server`, with `settings` on top. */
function projectFor(server: EmbeddedSftpServer, name: string, settings: Record<string, unknown> = {}): string {
  const dir = copyExample();
  const file = join(dir, `domains/partners/sources/${name}.yaml`);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const all = {
    host: '127.0.0.1',
    port: server.port,
    password: 'env:RESILIENCE_SFTP_PASSWORD',
    hostKeyFingerprint: server.fingerprint,
    stableMs: 0,
    ...settings,
  };
  for (const [k, v] of Object.entries(all)) doc.set(k, v);
  writeFileSync(file, doc.toString());
  return dir;
}

async function withSource<T>(
  dir: string,
  name: string,
  fn: (ctx: Awaited<ReturnType<typeof openContext>>, source: ReturnType<typeof loadProject>['sources'][number]) => Promise<T>,
): Promise<T> {
  const project = loadProject(dir);
  const ctx = await openContext(project, { secrets: true });
  try {
    await prepareSession(ctx);
    const source = project.sources.find((s) => s.name === name);
    assert.ok(source);
    return await fn(ctx, source);
  } finally {
    await ctx.close();
  }
}

describe('SFTP downloads that are cut short resume where they stopped', () => {
  it('fails to connect, with a reason, when the connection is closed cleanly mid-handshake (it never settled before)', {
    timeout: 60_000,
  }, async () => {
    const { server } = await serve();
    const proxy = await startTcpProxy(server.port);
    try {
      // The server's banner and key exchange pass through; the connection is then ended cleanly, mid-handshake.
      proxy.cutAfter(64);
      await assert.rejects(
        SftpConnection.connect({
          host: '127.0.0.1',
          port: proxy.port,
          username: 'fintech',
          password: 'pw-resilience',
          hostKeyFingerprint: server.fingerprint,
        }),
        (e: Error) => /closed during the SSH handshake|Connection lost|ECONNRESET/.test(e.message),
      );
      assert.ok(proxy.cut);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it('keeps an exact prefix after a dropped connection and fetches only the rest on the next attempt', async () => {
    const big = acquirerEdiFile(sales(20_000), '2026-11-26', 1);
    const { root, server } = await serve({ dropConnectionAfterBytes: Math.floor(big.length / 2) });
    try {
      writeFileSync(join(root, 'outbound/settlements/EDI_BIG.txt'), big);
      const connect = () =>
        SftpConnection.connect({
          host: '127.0.0.1',
          port: server.port,
          username: 'fintech',
          password: 'pw-resilience',
          hostKeyFingerprint: server.fingerprint,
        });
      const local = join(tempDir(), 'partial');
      const first = await connect();
      await assert.rejects(first.download('/outbound/settlements/EDI_BIG.txt', local, big.length, { concurrency: 4 }), (e: Error) =>
        new RegExp(`stopped at \\d+ of ${big.length} bytes \\(resumes from there\\)`).test(e.message),
      );
      first.close();
      const have = statSync(local).size;
      assert.ok(have > 0 && have < big.length, `a partial prefix was kept (${have} of ${big.length})`);
      assert.ok(readFileSync(local).equals(big.subarray(0, have)), 'the partial file is exactly the start of the remote file');
      const servedBefore = server.bytesServed;
      const second = await connect();
      const moved = await second.download('/outbound/settlements/EDI_BIG.txt', local, big.length);
      second.close();
      assert.equal(moved, big.length - have);
      assert.equal(server.bytesServed - servedBefore, big.length - have, 'only the missing bytes crossed the wire');
      assert.ok(readFileSync(local).equals(big));
    } finally {
      await server.close();
    }
  });

  it('an ingestion cycle retries a dropped transfer and loads the file whole, once', async () => {
    const many = sales(8_000);
    const file = acquirerEdiFile(many, '2026-11-26', 1);
    const { root, server } = await serve({ dropConnectionAfterBytes: Math.floor(file.length / 3) });
    try {
      writeFileSync(join(root, 'outbound/settlements/EDI_20261126_001.txt'), file);
      const dir = projectFor(server, 'acquirer-settlements', { maxConnections: 1 });
      const report = await withSource(dir, 'acquirer-settlements', (ctx, s) => ingestFileSource(ctx, s));
      assert.deepEqual([report.files.ingested, report.files.failed], [1, 0], JSON.stringify(report.details));
      assert.equal(report.rows.accepted, many.length);
    } finally {
      await server.close();
    }
  });
});

describe('PGP-encrypted, zipped CSV reports over SFTP (the example’s acquirer-chargebacks)', () => {
  let keys: { fintech: { privateKey: string; publicKey: string }; acquirer: { privateKey: string; publicKey: string } };
  let secrets: string;
  before(async () => {
    keys = {
      fintech: await generatePgpKeys('Fintech', 'data@fintech.example', 'pgp-pass'),
      acquirer: await generatePgpKeys('Acquirer', 'edi@acquirer.example'),
    };
    secrets = tempDir('pgp-secrets-');
    writeFileSync(join(secrets, 'fintech.key'), keys.fintech.privateKey);
    writeFileSync(join(secrets, 'acquirer.pub'), keys.acquirer.publicKey);
    process.env.FINMESH_TEST_PGP_PASSPHRASE = 'pgp-pass';
  });
  const served = serveDuringSuite();

  it('decrypts, checks the signature, unzips and loads typed rows with their file and line; a forged report is quarantined whole', async () => {
    const day = '2026-11-27';
    const { csv, rows } = chargebackReport(sales(300, day), { seed: 1, fileDate: day });
    const sealed = await sealForFintech(await zipOne('CHARGEBACKS_20261127_001.csv', csv), {
      fintechPublicKey: keys.fintech.publicKey,
      signingKey: keys.acquirer.privateKey,
    });
    writeFileSync(join(served.root, 'outbound/chargebacks/CHARGEBACKS_20261127_001.zip.pgp'), sealed);
    const stranger = await generatePgpKeys('Mallory', 'm@example.com');
    const forged = await sealForFintech(await zipOne('CHARGEBACKS_20261127_002.csv', csv), {
      fintechPublicKey: keys.fintech.publicKey,
      signingKey: stranger.privateKey,
    });
    writeFileSync(join(served.root, 'outbound/chargebacks/CHARGEBACKS_20261127_002.zip.pgp'), forged);
    const dir = projectFor(served.server, 'acquirer-chargebacks', {
      pgp: {
        privateKey: `file:${join(secrets, 'fintech.key')}`,
        passphrase: 'env:FINMESH_TEST_PGP_PASSPHRASE',
        verifyWith: `file:${join(secrets, 'acquirer.pub')}`,
      },
    });
    const { report, bronze, quarantine, events } = await withSource(dir, 'acquirer-chargebacks', async (ctx, s) => ({
      report: await ingestFileSource(ctx, s),
      bronze: (
        await ctx.engine.query(
          'SELECT case_id, opened_on::VARCHAR d, amount::VARCHAR amount, reason, merchant_name, _source_file, _line FROM partners_bronze.chargebacks ORDER BY _line',
        )
      ).rows,
      quarantine: (
        await ctx.engine.query('SELECT kind, _source_file, _line, reason FROM partners_quarantine.chargebacks ORDER BY kind, _line')
      ).rows,
      events: await ctx.lineage.flush().then(async () => (await ctx.meta.lineage.list()).map((e) => e.event as RunEvent)),
    }));
    assert.deepEqual([report.files.ingested, report.files.quarantined], [1, 1], JSON.stringify(report.details));
    const ok = report.details.find((d) => d.outcome === 'ingested');
    assert.deepEqual(ok?.members, ['/outbound/chargebacks/CHARGEBACKS_20261127_001.zip.pgp!CHARGEBACKS_20261127_001.csv']);
    assert.match(ok?.signedBy ?? '', /^[0-9A-F]{16}$/);
    assert.equal(bronze.length + report.rows.rejected, rows, 'every row of the report is in bronze or quarantine');
    assert.equal(report.rows.rejected, 1);
    const first = bronze[0] as Record<string, unknown>;
    assert.equal(first._line, 2, 'the header is line 1');
    assert.equal(first._source_file, '/outbound/chargebacks/CHARGEBACKS_20261127_001.zip.pgp!CHARGEBACKS_20261127_001.csv');
    assert.equal(first.d, day);
    assert.match(String(first.amount), /^\d+\.\d{2}$/);
    assert.ok(
      bronze.some((r) => r.merchant_name === 'Padaria Açaí'),
      'ISO-8859-1 text lands as UTF-8',
    );
    assert.ok(
      bronze.some((r) => r.reason === 'Fraude; transação não reconhecida'),
      'a quoted field holding the delimiter',
    );
    assert.match(
      String(quarantine.find((q) => q.kind === 'row')?.reason),
      /line 3: column opened_on \("Data Abertura"\): expected a date dd\/MM\/yyyy, found "31\/02\/2026"/,
    );
    assert.match(
      String(quarantine.find((q) => q.kind === 'file')?.reason),
      /CHARGEBACKS_20261127_002\.zip\.pgp: PGP signature check failed/,
    );
    // Lineage: each file read → landing, bronze (column for column) and quarantine, valid OpenLineage.
    const validate = openLineageValidator();
    const run = events.filter((e) => e.job.name === 'ingest:acquirer-chargebacks');
    assert.deepEqual(
      run.map((e) => e.eventType),
      ['START', 'COMPLETE'],
    );
    for (const e of run) assert.deepEqual(validate(e), [], JSON.stringify(e));
    const end = run[1] as RunEvent;
    assert.deepEqual(
      end.inputs?.map((i) => [i.namespace, i.name]),
      [
        [`sftp://127.0.0.1:${served.server.port}`, '/outbound/chargebacks/CHARGEBACKS_20261127_001.zip.pgp'],
        [`sftp://127.0.0.1:${served.server.port}`, '/outbound/chargebacks/CHARGEBACKS_20261127_002.zip.pgp'],
      ],
    );
    assert.equal((end.inputs?.[0]?.inputFacets?.finmesh as { sha256: string } | undefined)?.sha256, ok?.sha256);
    assert.deepEqual(
      end.outputs?.map((o) => o.name.split('/').slice(-3).join('/')),
      ['partners/landing/chargebacks', 'partners/bronze/chargebacks', 'partners/quarantine/chargebacks'],
    );
    const amount = (end.outputs?.[1]?.facets?.columnLineage as { fields: Record<string, { inputFields: { name: string }[] }> } | undefined)
      ?.fields.amount;
    assert.ok(amount?.inputFields.some((f) => f.name.endsWith('CHARGEBACKS_20261127_001.zip.pgp')));
  });
});

describe('polling', () => {
  const served = serveDuringSuite();

  it('fails the run, naming the secret, when the password reference cannot be resolved', async () => {
    delete process.env.FINMESH_TEST_MISSING_PASSWORD;
    const dir = projectFor(served.server, 'acquirer-settlements', { password: 'env:FINMESH_TEST_MISSING_PASSWORD' });
    const runs = await withSource(dir, 'acquirer-settlements', async (ctx, source) => {
      await assert.rejects(ingestFileSource(ctx, source), /acquirer-settlements\.yaml: password.*FINMESH_TEST_MISSING_PASSWORD/);
      return ctx.meta.runs.list({ job: 'ingest:acquirer-settlements', limit: 10 });
    });
    assert.deepEqual(
      runs.map((r) => r.status),
      ['failed'],
      'the run ends failed, not left running',
    );
  });

  it('keeps a committed file committed when the after-commit move is refused, with a warning', async () => {
    writeFileSync(
      join(served.root, 'outbound/settlements/EDI_20261125_BLOCK.txt'),
      acquirerEdiFile(sales(12, '2026-11-25'), '2026-11-25', 7),
    );
    writeFileSync(join(served.root, 'outbound/settlements/blocked'), 'a file where the archive folder should be');
    const dir = projectFor(served.server, 'acquirer-settlements', {
      pattern: 'EDI_*_BLOCK.txt',
      afterCommit: 'move',
      archivePath: '/outbound/settlements/blocked',
    });
    const [first, again] = await withSource(dir, 'acquirer-settlements', async (ctx, source) => [
      await ingestFileSource(ctx, source),
      await ingestFileSource(ctx, source),
    ]);
    assert.deepEqual([first?.files.ingested, first?.rows.accepted], [1, 12]);
    assert.match(
      first?.details[0]?.warning ?? '',
      /afterCommit move failed \(SFTP: cannot move \/outbound\/settlements\/EDI_20261125_BLOCK\.txt: .*\); the file stays/,
    );
    assert.equal(again?.files.ingested, 0, 'the ledger keeps the file that stayed from loading twice');
  });

  it('takes new files on the next poll, matches the regex as well as the glob, and stops when asked', async () => {
    const dir = projectFor(served.server, 'acquirer-settlements', { pollEvery: '300ms', regex: '_00[0-9]\\.txt$', maxConnections: 2 });
    writeFileSync(join(served.root, 'outbound/settlements/EDI_20261126_001.txt'), acquirerEdiFile(sales(50), '2026-11-26', 1));
    writeFileSync(join(served.root, 'outbound/settlements/EDI_20261126_002.txt'), acquirerEdiFile(sales(60), '2026-11-26', 2));
    writeFileSync(join(served.root, 'outbound/settlements/EDI_20261126_TEST.txt'), acquirerEdiFile(sales(5), '2026-11-26', 9));
    const reports: IngestReport[] = [];
    await withSource(dir, 'acquirer-settlements', async (ctx, source) => {
      const abort = new AbortController();
      const watching = watchFileSources(ctx, [source], {
        signal: abort.signal,
        onReport: (r) => reports.push(r),
        onError: (_s, e) => assert.fail(e as Error),
      });
      await waitFor(() => (reports.some((r) => r.files.ingested === 2) ? true : undefined), 20_000, 'the first two files');
      writeFileSync(
        join(served.root, 'outbound/settlements/EDI_20261127_003.txt'),
        acquirerEdiFile(sales(70, '2026-11-27'), '2026-11-27', 3),
      );
      await waitFor(
        () => (reports.some((r) => r.details.some((d) => d.path.endsWith('_003.txt') && d.outcome === 'ingested')) ? true : undefined),
        20_000,
        'the file dropped later',
      );
      abort.abort();
      await watching;
      // Scheduled runs say when they were due: OpenLineage's nominalTime, one poll interval apart.
      const validate = openLineageValidator();
      await ctx.lineage.flush();
      const starts = (await ctx.meta.lineage.list())
        .map((e) => e.event as RunEvent)
        .filter((e) => e.job.name === 'ingest:acquirer-settlements' && e.eventType === 'START');
      const nominal = starts.map((e) =>
        Date.parse((e.run.facets?.nominalTime as { nominalStartTime: string } | undefined)?.nominalStartTime ?? ''),
      );
      assert.ok(nominal.length >= 2);
      assert.ok(
        nominal.slice(1).every((t, i) => t - (nominal[i] as number) >= 300),
        'at least one interval apart',
      );
      for (const e of starts) assert.deepEqual(validate(e), []);
    });
    const ingested = reports.flatMap((r) => r.details.filter((d) => d.outcome === 'ingested').map((d) => d.path.split('/').pop()));
    assert.deepEqual(
      ingested.sort(),
      ['EDI_20261126_001.txt', 'EDI_20261126_002.txt', 'EDI_20261127_003.txt'],
      'each file once; TEST does not match the regex',
    );
    assert.ok(reports.length >= 2);
  });
});
