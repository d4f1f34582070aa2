// Ingestion memory: `finmesh ingest` as a user runs it (its own process) takes a partner CSV over SFTP from OpenSSH's
// sshd into bronze; the figure is the process's peak RSS. A large file against a small one, alternately: flat in
// input size means the ratio stays near 1.
import { execFile } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { SSHD_BIN, startSshd } from '../../test/launchers.js';
import { CHARGEBACK_COLUMNS, CHARGEBACK_SCHEMA, chargebacksCsv, exampleCopy } from '../fixtures.js';
import { type BenchEnv, type BenchRow, ratioBar, type Side, units } from '../harness.js';

const BIN = fileURLToPath(new URL('../../bin/finmesh.js', import.meta.url));
const PROBE = new URL('../load/peak-rss.mjs', import.meta.url).href;
const run = promisify(execFile);

/** A project whose one partner source takes `<name>.csv` files from `remote` on the sshd. */
async function ingestSide(env: BenchEnv, server: Awaited<ReturnType<typeof startSshd>>, n: number, label: string): Promise<Side> {
  const csv = await chargebacksCsv(env.fixtures, n, env.log);
  const remote = join(server.home, `rows-${n}`);
  mkdirSync(remote, { recursive: true });
  // A link, not a symlink: SFTP lists a symlink as one, and a file source takes regular files only.
  try {
    linkSync(csv, join(remote, 'chargebacks.csv'));
  } catch {
    copyFileSync(csv, join(remote, 'chargebacks.csv'));
  }
  const project = exampleCopy(join(env.work, `project-${n}`));
  const source = {
    name: 'bench-chargebacks',
    kind: 'sftp',
    description: 'A partner chargeback report, plain CSV.',
    host: '127.0.0.1',
    port: server.port,
    username: server.user,
    privateKey: `file:${server.clientKey}`,
    hostKeyFingerprint: server.fingerprint,
    path: remote,
    pattern: '*.csv',
    stableMs: 0,
    format: 'csv',
    encoding: 'latin1',
    csv: { delimiter: ';', decimalSeparator: ',', dateFormat: 'dd/MM/yyyy', columns: CHARGEBACK_COLUMNS },
    dataset: 'bench_chargebacks',
    key: ['case_id'],
    schema: [
      ...CHARGEBACK_SCHEMA.map((c) => ({ ...c, classification: 'internal' })),
      { name: '_source_file', type: 'VARCHAR', classification: 'internal' },
      { name: '_line', type: 'BIGINT', classification: 'internal' },
    ],
  };
  writeFileSync(join(project, 'domains/partners/sources/bench-chargebacks.yaml'), stringify(source));
  const rss = join(env.work, `rss-${n}`);
  return {
    label,
    async sample() {
      // A first ingestion each time: no lake, no ledger.
      rmSync(join(project, '.finmesh/lake'), { recursive: true, force: true });
      rmSync(join(project, '.finmesh/metadata.db'), { force: true });
      rmSync(join(project, '.finmesh/downloads'), { recursive: true, force: true });
      const { stdout } = await run(
        process.execPath,
        ['--import', PROBE, BIN, 'ingest', 'bench-chargebacks', '--project', project, '--json'],
        { env: { ...process.env, FINMESH_BENCH_RSS_FILE: rss }, maxBuffer: 64 * 2 ** 20 },
      );
      const report = JSON.parse(stdout) as { rows: { accepted: number; rejected: number } };
      if (report.rows.accepted !== n) throw new Error(`ingested ${report.rows.accepted} of ${n} rows (${report.rows.rejected} rejected)`);
      return Number(readFileSync(rss, 'utf8')) / 1024;
    },
  };
}

function memoryRow(id: string, large: number, small: number): BenchRow {
  const name = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
  return {
    id,
    title: `ingest peak RSS, ${name(large)} vs ${name(small)} CSV rows over SFTP`,
    unit: units.mib,
    bar: ratioBar('≤', 1.25, '(flat in input size)'),
    async open(env) {
      if (!SSHD_BIN) return { skip: 'OpenSSH sshd not found (Debian: apt-get install openssh-server)' };
      const server = await startSshd();
      try {
        return {
          finmesh: await ingestSide(env, server, large, `finmesh ingest, ${name(large)} rows`),
          reference: await ingestSide(env, server, small, `finmesh ingest, ${name(small)} rows`),
          close: () => server.stop(),
        };
      } catch (e) {
        await server.stop();
        throw e;
      }
    },
  };
}

export const ingestMemory1M = memoryRow('rss-1m', 1_000_000, 100_000);
export const ingestMemory5M = memoryRow('rss-5m', 5_000_000, 100_000);
