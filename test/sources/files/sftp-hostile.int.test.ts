// Partner servers finmesh has never seen: names a filesystem allows but code forgets (255 bytes, ISO-8859-1, control
// characters), names no filesystem holds (`../x`, `a/b`), folders that loop, servers that stop answering. Against
// OpenSSH sshd (a real filesystem) and a deliberately misbehaving server (test/hostile-sftp-server.ts).
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../../../src/config/load-project.js';
import { acquirerEdiFile, type SettledSale } from '../../../src/demo/simulator/partner-files.js';
import { openContext } from '../../../src/jobs/context.js';
import { type IngestReport, ingestFileSource } from '../../../src/jobs/ingest.js';
import { prepareSession } from '../../../src/lake/session.js';
import { cliAsync, copyExample, TEST_KEY } from '../../helpers.js';
import { type HostileEntry, type HostileServer, startHostileSftp } from '../../hostile-sftp-server.js';
import { type Launched, SSHD_BIN, skipUnless, startSshd } from '../../launchers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;
process.env.HOSTILE_SFTP_PASSWORD = 'pw-hostile';

const sales = (n: number, seq: number): SettledSale[] =>
  Array.from({ length: n }, (_, i) => ({
    transactionDate: '2026-11-26',
    merchantId: `mer_${String(seq).padStart(3, '0')}${String(i).padStart(6, '0')}`,
    nsu: String(100000000000 + seq * 1000 + i),
    authCode: String(100000 + i),
    brand: 'ELO',
    amount: 100 + i,
    merchantName: 'Mercado Araújo',
  }));
const edi = (n: number, seq: number) => acquirerEdiFile(sales(n, seq), '2026-11-26', seq);

/** A copy of the example whose acquirer source reads `path` on a server, with `settings` on top. */
function projectFor(settings: Record<string, unknown>): string {
  const dir = copyExample();
  const file = join(dir, 'domains/partners/sources/acquirer-settlements.yaml');
  const schema = loadProject(dir).sources.find((s) => s.name === 'acquirer-settlements')?.config.schema;
  writeFileSync(
    file,
    stringify({
      name: 'acquirer-settlements',
      kind: 'sftp',
      host: '127.0.0.1',
      path: '/outbound',
      pattern: 'EDI_*.txt',
      format: 'fixed-width',
      layout: 'layouts/acquirer-edi.yaml',
      stableMs: 0,
      dataset: 'settlements',
      key: ['nsu', 'auth_code', 'installment'],
      schema,
      ...settings,
    }),
  );
  return dir;
}

const onHostile = (s: HostileServer) => ({
  port: s.port,
  username: s.username,
  password: 'env:HOSTILE_SFTP_PASSWORD',
  hostKeyFingerprint: s.fingerprint,
});

async function ingest(dir: string): Promise<{ report: IngestReport; bronze: number; runs: string[] }> {
  const project = loadProject(dir);
  const ctx = await openContext(project, { secrets: true });
  try {
    await prepareSession(ctx);
    const source = project.sources.find((s) => s.name === 'acquirer-settlements');
    assert.ok(source);
    const report = await ingestFileSource(ctx, source).catch((e: Error) => {
      throw e;
    });
    const [row] = (await ctx.engine.query('SELECT count(*)::INTEGER n FROM partners_bronze.settlements')).rows;
    const runs = (await ctx.meta.runs.list({ job: 'ingest:acquirer-settlements' })).map((r) => r.status);
    return { report, bronze: Number(row?.n), runs };
  } finally {
    await ctx.close();
  }
}

/** A character a terminal would act on rather than show, or the mark of a name decoded lossily. */
const unprintable = (c: string) => {
  const n = c.codePointAt(0) as number;
  return n < 0x20 || (n >= 0x7f && n <= 0x9f) || n === 0xfffd;
};

/** The outcome of each file of a report, by name. */
const outcomes = (r: IngestReport) => Object.fromEntries(r.details.map((d) => [d.path.slice(d.path.lastIndexOf('/') + 1), d.outcome]));

describe('a misbehaving SFTP server', () => {
  const servers: HostileServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  const hostile = async (o: Parameters<typeof startHostileSftp>[0]) => {
    const s = await startHostileSftp({ password: 'pw-hostile', ...o });
    servers.push(s);
    return s;
  };

  it('lists "../" and "a/b" names: refused, never opened or moved; the other files load', async () => {
    const tree: Record<string, HostileEntry[]> = {
      '/outbound': [
        { name: 'EDI_ok.txt', data: edi(3, 1) },
        { name: '../../../etc/EDI_passwd.txt', data: edi(2, 2) },
        { name: 'sub/EDI_inner.txt', data: edi(2, 3) },
      ],
      '/outbound/archive': [],
    };
    const server = await hostile({ list: (p) => tree[p] });
    const dir = projectFor({ ...onHostile(server), afterCommit: 'move' });
    const { report, bronze } = await ingest(dir);
    assert.deepEqual(outcomes(report), { 'EDI_ok.txt': 'ingested', 'EDI_passwd.txt': 'refused', 'EDI_inner.txt': 'refused' });
    assert.equal(report.files.refused, 2);
    assert.match(report.details.find((d) => d.outcome === 'refused')?.reason ?? '', /not a plain file name/);
    assert.equal(bronze, 3);
    const outside = server.touched.filter((p) => p !== '/outbound' && !p.startsWith('/outbound/'));
    const climbing = server.touched.filter((p) => p.split('/').includes('..'));
    assert.deepEqual([outside, climbing], [[], []], 'nothing outside the configured path was opened, stat’ed or renamed');
    assert.ok(server.touched.includes('/outbound/archive/EDI_ok.txt'), 'the good file was moved');
  });

  it('escapes control characters and bytes that are not UTF-8 in names, loads those files, and moves them by their exact bytes', async () => {
    const tree: Record<string, HostileEntry[]> = {
      '/outbound': [
        { name: 'EDI_\\x1B[2J\\x1B[31mred.txt', data: edi(2, 4) },
        { name: 'EDI_Relat\\xF3rio.txt', data: edi(3, 5) },
      ],
    };
    const server = await hostile({ list: (p) => tree[p] });
    const dir = projectFor({ ...onHostile(server), afterCommit: 'move' });
    const { report, bronze } = await ingest(dir);
    assert.deepEqual(outcomes(report), { 'EDI_\\x1B[2J\\x1B[31mred.txt': 'ingested', 'EDI_Relat\\xF3rio.txt': 'ingested' });
    assert.equal(bronze, 5);
    // The server saw the bytes themselves (its side turns them back into this escaped form to record them).
    assert.ok(server.touched.includes('/outbound/archive/EDI_Relat\\xF3rio.txt'));
    for (const d of report.details) assert.ok(![...d.path].some(unprintable), `no raw control character or U+FFFD in ${d.path}`);
  });

  it('stops listing a folder that loops back on itself, and one that nests forever', async () => {
    const loop = (p: string): HostileEntry[] | undefined =>
      p === '/outbound'
        ? [{ name: 'loop', folder: true }]
        : /^\/outbound(\/loop)+$/.test(p)
          ? [
              { name: 'loop', folder: true },
              { name: 'EDI_deep.txt', data: edi(2, 6) },
            ]
          : undefined;
    const resolving = await hostile({ list: loop, realpath: (p) => (p.startsWith('/outbound/loop') ? '/outbound/loop' : p) });
    const a = await ingest(projectFor({ ...onHostile(resolving), recursive: true }));
    assert.equal(a.report.files.ingested, 1, JSON.stringify(a.report.details));
    assert.match(a.report.details.find((d) => d.outcome === 'refused')?.reason ?? '', /a folder loop/);
    const lying = await hostile({ list: loop });
    const b = await ingest(projectFor({ ...onHostile(lying), recursive: true }));
    assert.equal(b.report.files.ingested, 1, 'the same content at every depth loads once');
    assert.match(b.report.details.find((d) => d.outcome === 'refused')?.reason ?? '', /deeper than 32 levels/);
  });

  it('a server that stops answering mid-read: the block times out, the download resumes on a fresh connection, the file loads once', async () => {
    const data = edi(4000, 7);
    const server = await hostile({
      list: (p) => (p === '/outbound' ? [{ name: 'EDI_stall.txt', data }] : undefined),
      stallReadsAfterBytes: Math.floor(data.length / 3),
      stallConnections: 2,
    });
    const { report, bronze } = await ingest(projectFor({ ...onHostile(server), timeout: '1s', retries: 3, maxConnections: 1 }));
    assert.deepEqual([report.files.ingested, report.files.failed], [1, 0], JSON.stringify(report.details));
    assert.equal(bronze, 4000);
    assert.ok(server.connections >= 3, `gave up the stalled connections (${server.connections} in all)`);
  });

  it('a server that never answers again: the file fails with a clear reason after its attempts, and the cycle ends', async () => {
    const data = edi(2000, 8);
    const server = await hostile({
      list: (p) => (p === '/outbound' ? [{ name: 'EDI_dead.txt', data }] : undefined),
      stallReadsAfterBytes: 1000,
    });
    const { report, runs } = await ingest(projectFor({ ...onHostile(server), timeout: '1s', retries: 2 }));
    assert.equal(report.files.failed, 1);
    assert.match(report.details[0]?.reason ?? '', /EDI_dead\.txt.*within 1000 ms; the server stalled.*after 2 attempts/);
    assert.deepEqual(runs, ['failed']);
  });

  it('a server that stops answering a listing: the cycle fails with TIMEOUT instead of hanging', async () => {
    const server = await hostile({
      list: (p) => (p === '/outbound' ? [{ name: 'EDI_x.txt', data: edi(1, 9) }] : undefined),
      stallListing: true,
    });
    const dir = projectFor({ ...onHostile(server), timeout: '1s', retries: 2 });
    await assert.rejects(ingest(dir), /readdir \/outbound within 1000 ms; the server stalled.*after 2 attempts/);
  });
});

const sshd = skipUnless(SSHD_BIN !== undefined, 'OpenSSH sshd', 'Debian: apt-get install openssh-server');

describe('names a real filesystem holds, on OpenSSH sshd', sshd, () => {
  let server: (Launched & { user: string; clientKey: string; fingerprint: string; home: string }) | undefined;
  before(async () => {
    server = await startSshd();
  });
  after(async () => {
    await server?.stop();
  });

  it('finmesh ingest loads 255-byte, ISO-8859-1 and control-character names, prints none of them raw, and archives them by their bytes', async () => {
    const s = server as NonNullable<typeof server>;
    const folder = join(s.home, 'partner');
    mkdirSync(folder, { recursive: true });
    const long1 = `EDI_${'a'.repeat(247)}.txt`;
    const long2 = `EDI_${'b'.repeat(247)}.txt`;
    assert.equal(Buffer.byteLength(long1), 255);
    writeFileSync(join(folder, long1), edi(2, 10));
    writeFileSync(join(folder, long2), edi(3, 11));
    const latin1 = Buffer.concat([Buffer.from('EDI_Relat'), Buffer.from([0xf3]), Buffer.from('rio.txt')]);
    writeFileSync(Buffer.from(`${folder}/${latin1.toString('latin1')}`, 'latin1'), edi(4, 12));
    writeFileSync(join(folder, 'EDI_\x1b]0;pwned\x07\nsecond.txt'), edi(5, 13));
    writeFileSync(join(folder, 'EDI_zz_after.txt'), edi(6, 14));
    const dir = projectFor({
      port: s.port,
      username: s.user,
      privateKey: `file:${s.clientKey}`,
      hostKeyFingerprint: s.fingerprint,
      path: folder,
      afterCommit: 'move',
    });
    const child = cliAsync(['ingest', 'acquirer-settlements', '--project', dir]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, out);
    assert.match(out, /5 files seen, 5 ingested/);
    assert.ok(!out.includes('\u001b') && !out.includes('\u0007'), 'no escape sequence reached the terminal');
    assert.doesNotMatch(out, /unexpected error/);
    const archived = readdirSync(join(folder, 'archive'), { encoding: 'buffer' });
    assert.equal(archived.length, 5);
    assert.ok(
      archived.some((n) => n.equals(latin1)),
      'the ISO-8859-1 name was moved as its own bytes',
    );
    const { bronze } = await ingest(dir);
    assert.equal(bronze, 2 + 3 + 4 + 5 + 6);
  });
});
