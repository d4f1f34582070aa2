// `finmesh ingest` of a whole plain UTF-8 partner CSV, as a user runs it: the file qualifies for DuckDB's reader
// (csv-engine), so its good rows reach bronze as the engine's relation, the rows the engine leaves to the scanner
// join them, and bad rows go to quarantine with file, line and reason. A bug in this path (bronze refused the
// engine's rows: Binder Error _offset) was once found only by the bench.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../../src/config/load-project.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { openContext } from '../../src/jobs/context.js';
import { prepareSession } from '../../src/lake/session.js';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { csvOptionsSchema } from '../../src/sources/formats/csv.js';
import { readCsvWithEngine } from '../../src/sources/formats/csv-engine.js';
import { cliAsync, copyExample, TEST_KEY, tempDir } from '../helpers.js';

process.env.FINMESH_TOKENIZATION_KEY = TEST_KEY;

const GOOD = 300;
/** Line 2 + i holds row i; two bad rows and one the engine leaves to the scanner are placed among them. */
const BAD_AMOUNT_LINE = 120;
const SHORT_LINE = 251;
const BLANKS_LINE = 77;

const schema = [
  { name: 'case_id', type: 'VARCHAR', classification: 'internal' },
  { name: 'opened_on', type: 'DATE', classification: 'internal' },
  { name: 'merchant_name', type: 'VARCHAR', classification: 'public' },
  { name: 'amount', type: 'DECIMAL(18,2)', classification: 'internal' },
  { name: 'installments', type: 'INTEGER', classification: 'internal' },
  { name: 'disputed', type: 'BOOLEAN', classification: 'internal' },
  { name: '_source_file', type: 'VARCHAR', classification: 'internal' },
  { name: '_line', type: 'BIGINT', classification: 'internal' },
];

interface Expected {
  case_id: string;
  opened_on: string;
  merchant_name: string;
  amount: string;
  installments: number;
  disputed: boolean;
  _line: number;
}

/** The file's text and the bronze rows it must give. */
function partnerCsv(): { text: string; expected: Expected[] } {
  const lines = ['case_id,opened_on,merchant_name,amount,installments,disputed'];
  const expected: Expected[] = [];
  for (let line = 2; lines.length < 1 + GOOD + 2; line++) {
    const i = line - 2;
    if (line === BAD_AMOUNT_LINE) {
      lines.push('CB-bad,2026-11-20,Loja Errada,12.3x,1,true');
      continue;
    }
    if (line === SHORT_LINE) {
      lines.push('CB-short,2026-11-20,Loja Curta');
      continue;
    }
    const day = String(1 + (i % 28)).padStart(2, '0');
    const name = line === BLANKS_LINE ? 'Ótica Setenta e Sete' : i % 3 === 0 ? `Padaria São João ${i}` : `Mercado "Araújo" ${i}`;
    const field = line === BLANKS_LINE ? `  ${name}  ` : name.includes('"') ? `"${name.replaceAll('"', '""')}"` : name;
    const cents = (i * 137) % 100_000;
    const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
    lines.push(`CB-${i},2026-10-${day},${field},${amount},${1 + (i % 12)},${i % 2 === 0}`);
    expected.push({
      case_id: `CB-${i}`,
      opened_on: `2026-10-${day}`,
      merchant_name: name,
      amount,
      installments: 1 + (i % 12),
      disputed: i % 2 === 0,
      _line: line,
    });
  }
  return { text: `${lines.join('\n')}\n`, expected };
}

describe('finmesh ingest of a plain UTF-8 partner CSV through DuckDB’s reader', () => {
  let server: EmbeddedSftpServer;
  let root: string;
  let project: string;
  const { text, expected } = partnerCsv();
  const env = { FINMESH_TOKENIZATION_KEY: TEST_KEY, TEST_CSV_SFTP_PASSWORD: 'csv-secret-pw' };

  before(async () => {
    root = tempDir('sftp-csv-root-');
    mkdirSync(join(root, 'outbound'));
    writeFileSync(join(root, 'outbound/chargebacks_20261128.csv'), text);
    server = await EmbeddedSftpServer.start({
      root,
      username: 'partner',
      password: env.TEST_CSV_SFTP_PASSWORD,
      hostKeyFile: join(tempDir(), 'host_key'),
    });
    project = copyExample();
    const source = {
      name: 'plain-chargebacks',
      kind: 'sftp',
      description: 'A partner chargeback report, plain UTF-8 CSV.',
      host: '127.0.0.1',
      port: server.port,
      username: 'partner',
      password: 'env:TEST_CSV_SFTP_PASSWORD',
      hostKeyFingerprint: server.fingerprint,
      path: '/outbound',
      pattern: '*.csv',
      stableMs: 0,
      format: 'csv',
      dataset: 'plain_chargebacks',
      key: ['case_id'],
      schema,
    };
    writeFileSync(join(project, 'domains/partners/sources/plain-chargebacks.yaml'), stringify(source));
  });
  after(async () => {
    await server?.close();
  });

  it('the file is one DuckDB reads (the engine path, not the scanner)', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const file = join(root, 'outbound/chargebacks_20261128.csv');
      const read = await readCsvWithEngine(engine, {
        path: file,
        name: 'chargebacks_20261128.csv',
        options: csvOptionsSchema.parse({}),
        encoding: 'utf-8',
        schema: schema.map((c) => ({ name: c.name, type: c.type })),
        workDir: tempDir(),
      });
      assert.ok(read, 'readCsvWithEngine declined the file: the test would not cover the engine path');
      assert.deepEqual(
        read.rejects.map((r) => r.line),
        [BAD_AMOUNT_LINE, SHORT_LINE],
      );
      assert.deepEqual(
        read.rows.map((r) => r.line),
        [BLANKS_LINE],
        'the row with blanks around a value is left to the scanner',
      );
    } finally {
      await engine.close();
    }
  });

  it('lands every good row in bronze with its values and line, and quarantines the bad rows with file, line and reason', async () => {
    // In the background: the SFTP server answers from this process, which a synchronous run would block.
    const child = cliAsync(['ingest', 'plain-chargebacks', '--project', project, '--json'], { env });
    const run = { stdout: '', stderr: '', status: null as number | null };
    child.stdout?.on('data', (b: Buffer) => {
      run.stdout += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      run.stderr += b.toString();
    });
    run.status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    assert.equal(run.status, 0, `exit 0 (the file is ingested; its bad rows are quarantined): ${run.stderr}`);
    assert.ok(run.stdout.trim().startsWith('{'), `a JSON report on stdout: ${run.stdout}${run.stderr}`);
    const report = JSON.parse(run.stdout) as { rows: { accepted: number; rejected: number }; files: { ingested: number } };
    assert.deepEqual(report.rows, { accepted: GOOD, rejected: 2 });
    assert.equal(report.files.ingested, 1);

    const ctx = await openContext(loadProject(project), { secrets: true });
    try {
      await prepareSession(ctx);
      const bronze = (
        await ctx.engine.query(
          `SELECT case_id, strftime(opened_on, '%Y-%m-%d') AS opened_on, merchant_name, amount::VARCHAR AS amount, installments,
                  disputed, _source_file, _line FROM partners_bronze.plain_chargebacks ORDER BY _line`,
        )
      ).rows;
      assert.equal(bronze.length, GOOD);
      for (const [i, want] of expected.entries()) {
        const got = bronze[i] as Record<string, unknown>;
        assert.deepEqual(
          {
            case_id: got.case_id,
            opened_on: got.opened_on,
            merchant_name: got.merchant_name,
            amount: got.amount,
            installments: Number(got.installments),
            disputed: got.disputed,
            _line: Number(got._line),
          },
          want,
          `bronze row ${i}`,
        );
        assert.equal(got._source_file, '/outbound/chargebacks_20261128.csv');
      }
      const quarantine = (
        await ctx.engine.query('SELECT kind, _source_file, _line, reason FROM partners_quarantine.plain_chargebacks ORDER BY _line')
      ).rows;
      assert.deepEqual(
        quarantine.map((q) => [q.kind, q._source_file, Number(q._line)]),
        [
          ['row', '/outbound/chargebacks_20261128.csv', BAD_AMOUNT_LINE],
          ['row', '/outbound/chargebacks_20261128.csv', SHORT_LINE],
        ],
      );
      assert.match(String(quarantine[0]?.reason), new RegExp(`line ${BAD_AMOUNT_LINE}: .*amount.*`));
      assert.match(String(quarantine[1]?.reason), new RegExp(`line ${SHORT_LINE}: `));
    } finally {
      await ctx.close();
    }
  });
});
