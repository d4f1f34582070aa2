// npm run bench [-- --rows N]: finmesh's figures beside a reference measured in the same run, with ratios.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MemoryBus } from '../src/bus/memory/memory-bus.js';
import { loadProject } from '../src/config/load-project.js';
import { uuidv7 } from '../src/core/ids.js';
import { duckDbDialect } from '../src/engine/duckdb/duckdb-dialect.js';
import { DuckDbEngine } from '../src/engine/duckdb/duckdb-engine.js';
import { benchCliStart, startMeetsBar } from './cli-start.js';
import { benchConsolePages } from './console-pages.js';

const quoteLiteral = (v: string) => duckDbDialect.quoteLiteral(v);

import { FintechSimulator } from '../src/demo/simulator/fintech-simulator.js';
import { SqliteApp } from '../src/demo/simulator/sqlite-app.js';
import { openContext } from '../src/jobs/context.js';
import { StreamJob } from '../src/jobs/stream.js';
import { writeBronzeBatch } from '../src/lake/bronze-writer.js';
import { prepareSession } from '../src/lake/session.js';
import { LatencyTracker } from '../src/observability/latency.js';
import { csvOptionsSchema } from '../src/sources/formats/csv.js';
import { type FileFormat, readFileRows } from '../src/sources/formats/read-file.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '3' },
    sftpMib: { type: 'string', default: '256' },
    /** Run only the benchmarks whose name contains one of these words: cli, ingest, stream, sftp, csv, console. */
    only: { type: 'string', multiple: true },
  },
});
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const work = resolve('bench/.work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

interface Row {
  benchmark: string;
  finmesh: string;
  reference: string;
  ratio: number;
  bar: string;
}
const table: Row[] = [];

async function generate(file: string, n: number): Promise<void> {
  const sim = new FintechSimulator({
    seed: 1,
    customers: 5000,
    merchants: 500,
    transactionsPerSecond: 10_000,
    start: new Date('2026-11-27T00:00:00Z'),
  });
  const out = createWriteStream(file);
  let written = 0;
  while (written < n) {
    for (const e of sim.advance(1000)) {
      if (e.entity !== 'transactions' || written >= n) continue;
      if (!out.write(`${JSON.stringify(e.doc)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
      written++;
    }
  }
  await new Promise<void>((r) => out.end(() => r()));
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function benchIngestion(): Promise<void> {
  const file = join(work, 'transactions.ndjson');
  process.stderr.write(`generating ${rows.toLocaleString('en-US')} transactions as NDJSON… `);
  await generate(file, rows);
  process.stderr.write(`${(statSync(file).size / 2 ** 20).toFixed(0)} MiB\n`);

  const project = loadProject('examples/fintech');
  project.config.lake = { ...project.config.lake, kind: 'local', path: join(work, 'lake') };
  project.config.metadata = { kind: 'sqlite', path: join(work, 'metadata.db') };
  const ctx = await openContext(project);
  await prepareSession(ctx);
  const source = project.sources.find((s) => s.name === 'core-transactions');
  if (!source) throw new Error('example has no core-transactions source');
  const reference = await DuckDbEngine.create();

  let best = { finmesh: Number.POSITIVE_INFINITY, reference: Number.POSITIVE_INFINITY };
  for (let i = 0; i < repeat; i++) {
    const refOut = join(work, `ref-${i}.parquet`);
    const r = await time(() =>
      reference.exec(`COPY (SELECT * FROM read_json(${quoteLiteral(file)})) TO ${quoteLiteral(refOut)} (FORMAT parquet)`),
    );
    const f = await time(async () => {
      const res = await writeBronzeBatch(ctx, {
        source,
        runId: uuidv7(),
        firstOffset: i * rows + 1,
        lastOffset: (i + 1) * rows,
        input: { ndjsonFile: file },
      });
      if (res.rows !== rows) throw new Error(`finmesh committed ${res.rows} rows, expected ${rows}`);
    });
    best = { finmesh: Math.min(best.finmesh, f), reference: Math.min(best.reference, r) };
    process.stderr.write(`  run ${i + 1}/${repeat}: finmesh ${f.toFixed(2)} s, DuckDB COPY ${r.toFixed(2)} s\n`);
  }
  await reference.close();
  await ctx.close();
  const fr = rows / best.finmesh;
  const rr = rows / best.reference;
  table.push({
    benchmark: 'NDJSON → bronze Parquet (rows/s)',
    finmesh: Math.round(fr).toLocaleString('en-US'),
    reference: `${Math.round(rr).toLocaleString('en-US')} (DuckDB COPY read_json → parquet)`,
    ratio: fr / rr,
    bar: '≥ 0.8',
  });
}

async function benchStreaming(): Promise<void> {
  const events = Math.min(rows, 1_000_000);
  const dir = join(work, 'stream');
  mkdirSync(dir, { recursive: true });
  const project = loadProject('examples/fintech');
  project.config.lake = { ...project.config.lake, kind: 'local', path: join(dir, 'lake') };
  project.config.metadata = { kind: 'sqlite', path: join(dir, 'metadata.db') };
  project.config.stream.batchMaxRecords = 100_000;
  project.config.stream.batchMaxMs = 500;
  for (const s of project.sources) if (s.config.kind === 'sqlite-outbox') s.config.database = join(dir, 'app.db');
  const sources = project.sources.filter((s) => s.name === 'core-transactions');
  project.sources = sources;
  const app = new SqliteApp(join(dir, 'app.db'));
  process.stderr.write(`writing ${events.toLocaleString('en-US')} changes to the app's outbox… `);
  const sim = new FintechSimulator({
    seed: 2,
    customers: 5000,
    merchants: 500,
    transactionsPerSecond: 20_000,
    start: new Date('2026-11-27T00:00:00Z'),
  });
  let written = 0;
  const ndjson = join(dir, 'same-rows.ndjson');
  const out = createWriteStream(ndjson);
  while (written < events) {
    const batch = sim
      .advance(1000)
      .filter((e) => e.entity === 'transactions')
      .slice(0, events - written);
    app.apply(batch, 5000);
    for (const e of batch) out.write(`${JSON.stringify(e.doc)}\n`);
    written += batch.length;
  }
  await new Promise<void>((r) => out.end(() => r()));
  app.close();
  process.stderr.write('done\n');

  const ctx = await openContext(project);
  await prepareSession(ctx);
  const job = new StreamJob(ctx, { bus: new MemoryBus(), untilCaughtUp: true });
  const t = await time(async () => {
    await job.start();
    await job.wait();
  });
  await job.close();
  const committed = Object.values(job.stats.committed).reduce((a, b) => a + b, 0);
  if (committed !== events) throw new Error(`stream committed ${committed} of ${events}`);

  // Latency under a steady load: the app writes 10k changes/s for 5 s while the stream runs.
  const latency = new LatencyTracker();
  const live = new StreamJob(ctx, { bus: new MemoryBus(), onCommit: (c) => latency.onBronzeCommit(c.committedAt, c.eventTimes, c.domain) });
  await live.start();
  const writer = new SqliteApp(join(dir, 'app.db'));
  const paced = new FintechSimulator({ seed: 3, customers: 5000, merchants: 500, transactionsPerSecond: 10_000, start: new Date() });
  let last = Date.now();
  const until = last + 5000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    const now = Date.now();
    writer.apply(
      paced.advance(now - last).filter((e) => e.entity === 'transactions'),
      1000,
    );
    last = now;
  }
  await new Promise((r) => setTimeout(r, 1500));
  await live.stop();
  await live.close();
  writer.close();
  const lat = latency.summary().toBronze;
  table.push({
    benchmark: 'event → bronze latency at 10k changes/s, p50 / p99 (s)',
    finmesh: `${lat.p50} / ${lat.p99}`,
    reference: '-',
    ratio: Number.NaN,
    bar: 'p99 < 2 s',
  });

  // The same backlog through NATS JetStream, when a nats-server is at hand.
  const { NATS_BIN, startNats } = await import('../test/launchers.js');
  if (NATS_BIN) {
    const nats = await startNats();
    try {
      const { NatsBus } = await import('../src/bus/nats/nats-bus.js');
      const bus = await NatsBus.create({ servers: nats.url });
      project.config.lake = { ...project.config.lake, kind: 'local', path: join(dir, 'lake-nats') };
      project.config.metadata = { kind: 'sqlite', path: join(dir, 'metadata-nats.db') };
      const nctx = await openContext(project);
      await prepareSession(nctx);
      const njob = new StreamJob(nctx, { bus, untilCaughtUp: true });
      const nt = await time(async () => {
        await njob.start();
        await njob.wait();
      });
      await njob.close();
      await bus.close();
      await nctx.close();
      const nCommitted = Object.values(njob.stats.committed).reduce((a, b) => a + b, 0);
      table.push({
        benchmark: 'outbox change feed → bronze over NATS JetStream (events/s)',
        finmesh: Math.round(nCommitted / nt).toLocaleString('en-US'),
        reference: 'the embedded row above',
        ratio: nCommitted / nt / (events / t),
        bar: '-',
      });
    } finally {
      await nats.stop();
    }
  } else process.stderr.write('skipping the NATS streaming benchmark: nats-server not found\n');
  await ctx.close();
  const reference = await DuckDbEngine.create();
  const source = sources[0];
  if (!source) throw new Error('no core-transactions source');
  const columns = source.config.schema.map((c) => `"${c.name}": '${c.type}'`).join(', ');
  const r = await time(() =>
    reference.exec(
      `COPY (SELECT * FROM read_json(${quoteLiteral(ndjson)}, format = 'newline_delimited', columns = {${columns}})) TO ${quoteLiteral(join(dir, 'ref.parquet'))} (FORMAT parquet)`,
    ),
  );
  await reference.close();
  const f = events / t;
  const ref = events / r;
  table.push({
    benchmark: 'outbox change feed → bronze, embedded (events/s)',
    finmesh: Math.round(f).toLocaleString('en-US'),
    reference: `${Math.round(ref).toLocaleString('en-US')} (DuckDB appending the same rows directly)`,
    ratio: f / ref,
    bar: '≥ 200k events/s',
  });
}

/** SFTP transfer: finmesh's downloader against OpenSSH's own `sftp` client, the same files from the same sshd. */
async function benchSftp(): Promise<void> {
  const { SSHD_BIN, startSshd } = await import('../test/launchers.js');
  const { SftpConnection } = await import('../src/sources/files/sftp/sftp-client.js');
  if (!SSHD_BIN) {
    process.stderr.write('skipping the SFTP benchmark: OpenSSH sshd not found (Debian: apt-get install openssh-server)\n');
    return;
  }
  const server = await startSshd();
  try {
    const files = 4;
    const size = Math.max(1, Math.round(Number(values.sftpMib ?? '256'))) * 2 ** 20;
    const remote = join(server.home, 'bench');
    mkdirSync(remote, { recursive: true });
    process.stderr.write(`writing ${files} × ${size / 2 ** 20} MiB for the SFTP benchmark… `);
    for (let i = 0; i < files; i++) {
      const out = createWriteStream(join(remote, `f${i}.bin`));
      const chunk = randomBytes(2 ** 20);
      for (let w = 0; w < size; w += chunk.length) if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      await new Promise<void>((r) => out.end(() => r()));
    }
    process.stderr.write('done\n');
    const local = join(work, 'sftp');
    mkdirSync(local, { recursive: true });
    const batch = join(work, 'sftp-batch');
    writeFileSync(
      batch,
      Array.from({ length: files }, (_, i) => `get ${join(remote, `f${i}.bin`)} ${join(local, `ref${i}.bin`)}`).join('\n'),
    );
    const ref = await time(async () => {
      execFileSync(
        'sftp',
        [
          '-q',
          '-b',
          batch,
          '-i',
          server.clientKey,
          '-P',
          String(server.port),
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          `${server.user}@127.0.0.1`,
        ],
        { stdio: 'pipe' },
      );
    });
    const conn = await SftpConnection.connect({
      host: '127.0.0.1',
      port: server.port,
      username: server.user,
      privateKey: readFileSync(server.clientKey, 'utf8'),
      hostKeyFingerprint: server.fingerprint,
    });
    const fin = await time(async () => {
      for (let i = 0; i < files; i++) await conn.download(join(remote, `f${i}.bin`), join(local, `fm${i}.bin`), size);
    });
    conn.close();
    const mib = (files * size) / 2 ** 20;
    table.push({
      benchmark: `SFTP transfer, ${mib} MiB over loopback (MiB/s)`,
      finmesh: (mib / fin).toFixed(0),
      reference: `${(mib / ref).toFixed(0)} (OpenSSH sftp)`,
      ratio: ref / fin,
      bar: '≥ 0.8',
    });
  } finally {
    await server.stop();
  }
}

/** Partner CSV parsing: finmesh's reader (latin-1 decode, CSV scan, typed conversion, JSON rows) vs DuckDB read_csv. */
async function benchCsvParse(): Promise<void> {
  const n = Math.min(rows, 1_000_000);
  const file = join(work, 'chargebacks.csv');
  const header = 'ID Disputa;Data Abertura;NSU;Estabelecimento;Nome Fantasia;Bandeira;Valor Contestado;Motivo;Parcelas';
  const out = createWriteStream(file);
  out.write(Buffer.from(`${header}\r\n`, 'latin1'));
  for (let i = 0; i < n; i += 10_000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++) {
      const day = String(1 + (j % 28)).padStart(2, '0');
      lines.push(
        `CB${String(j).padStart(10, '0')};${day}/11/2026;${200000000000 + j};mer_${String(j % 5000).padStart(6, '0')};${j % 3 ? 'Padaria Açaí' : '"Loja ""Conceição"""'};VISA;${j % 999},${String(j % 100).padStart(2, '0')};${j % 7 ? 'Mercadoria não recebida' : '"Fraude; não reconhecida"'};${1 + (j % 12)}`,
      );
    }
    if (!out.write(Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  const fmt: FileFormat = {
    format: 'csv',
    encoding: 'latin1',
    csv: csvOptionsSchema.parse({
      delimiter: ';',
      decimalSeparator: ',',
      dateFormat: 'dd/MM/yyyy',
      columns: {
        case_id: 'ID Disputa',
        opened_on: 'Data Abertura',
        nsu: 'NSU',
        merchant_id: 'Estabelecimento',
        merchant_name: 'Nome Fantasia',
        brand: 'Bandeira',
        amount: 'Valor Contestado',
        reason: 'Motivo',
        installments: 'Parcelas',
      },
    }),
    schema: [
      { name: 'case_id', type: 'VARCHAR' },
      { name: 'opened_on', type: 'DATE' },
      { name: 'nsu', type: 'VARCHAR' },
      { name: 'merchant_id', type: 'VARCHAR' },
      { name: 'merchant_name', type: 'VARCHAR' },
      { name: 'brand', type: 'VARCHAR' },
      { name: 'amount', type: 'DECIMAL(18,2)' },
      { name: 'reason', type: 'VARCHAR' },
      { name: 'installments', type: 'INTEGER' },
    ],
    limits: { maxBytes: 2 ** 40, maxRatio: 1000, maxEntries: 1 },
  };
  const reference = await DuckDbEngine.create();
  let best = { finmesh: Number.POSITIVE_INFINITY, reference: Number.POSITIVE_INFINITY };
  for (let i = 0; i < repeat; i++) {
    let count = 0;
    let bytes = 0;
    const f = await time(async () => {
      const result = await readFileRows(file, 'chargebacks.csv', fmt, work, () => ({
        row: (line, values) => {
          bytes += JSON.stringify({ _source_file: 'chargebacks.csv', _line: line, ...values }).length;
          count++;
        },
        reject: (_line, reason) => {
          throw new Error(reason);
        },
      }));
      if (result.integrityError || count !== n) throw new Error(`finmesh read ${count} rows of ${n}: ${result.integrityError}`);
    });
    const r = await time(() =>
      reference.exec(
        `CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv(${quoteLiteral(file)}, delim = ';', header = true, encoding = 'latin-1', decimal_separator = ',', dateformat = '%d/%m/%Y', columns = {case_id: 'VARCHAR', opened_on: 'DATE', nsu: 'VARCHAR', merchant_id: 'VARCHAR', merchant_name: 'VARCHAR', brand: 'VARCHAR', amount: 'DECIMAL(18,2)', reason: 'VARCHAR', installments: 'INTEGER'})`,
      ),
    );
    best = { finmesh: Math.min(best.finmesh, f), reference: Math.min(best.reference, r) };
    process.stderr.write(
      `  csv ${i + 1}/${repeat}: finmesh ${f.toFixed(2)} s (${(bytes / 2 ** 20).toFixed(0)} MiB of rows), DuckDB read_csv ${r.toFixed(2)} s\n`,
    );
  }
  await reference.close();
  const fr = n / best.finmesh;
  const rr = n / best.reference;
  table.push({
    benchmark: `partner CSV parse, ${n.toLocaleString('en-US')} rows, ISO-8859-1 (rows/s)`,
    finmesh: Math.round(fr).toLocaleString('en-US'),
    reference: `${Math.round(rr).toLocaleString('en-US')} (DuckDB read_csv, all columns)`,
    ratio: fr / rr,
    bar: '-',
  });
}

const benches: [string, () => Promise<void>][] = [
  [
    'cli',
    async () => {
      table.push(...(await benchCliStart(work)));
    },
  ],
  ['ingest', benchIngestion],
  ['stream', benchStreaming],
  ['sftp', benchSftp],
  ['csv', benchCsvParse],
  [
    'console',
    async () => {
      table.push(...(await benchConsolePages(work)));
    },
  ],
];
const only = values.only?.flatMap((o) => o.split(','));
for (const [name, run] of benches) if (!only || only.some((o) => name.includes(o))) await run();
rmSync(work, { recursive: true, force: true });

const cols = ['benchmark', 'finmesh', 'reference', 'ratio', 'bar'] as const;
const meets = (r: Row) => {
  if (r.benchmark.startsWith('console page')) return r.bar === '-' || startMeetsBar(r);
  if (r.benchmark.startsWith('CLI start')) return startMeetsBar(r);
  if (r.bar.includes('events/s')) return Number(r.finmesh.replace(/,/g, '')) >= 200_000;
  if (r.bar.startsWith('p99')) return Number(r.finmesh.split('/')[1]) < 2;
  return r.bar === '-' || r.ratio >= Number(r.bar.replace(/[^0-9.]/g, ''));
};
const cells = table.map((r) => ({
  ...r,
  ratio: `${Number.isNaN(r.ratio) ? '-' : `${r.ratio.toFixed(2)}×`}${meets(r) ? '' : '  BELOW BAR'}`,
}));
const widths = cols.map((c) => Math.max(c.length, ...cells.map((r) => String(r[c]).length)));
const line = (v: string[]) => v.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ');
console.log(`\nfinmesh bench — ${rows.toLocaleString('en-US')} rows, best of ${repeat}, Node ${process.version}`);
console.log(line([...cols]));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of cells) console.log(line(cols.map((c) => String(r[c]))));
