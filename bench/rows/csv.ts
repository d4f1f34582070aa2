// Partner CSV parsing: a chargeback report in ISO-8859-1 (`;`, decimal commas, dd/MM/yyyy, quoted fields) parsed and
// typed by finmesh's reader into the rows an ingestion stages for bronze, against DuckDB's read_csv of the same file
// with the same column types written the same way (COPY to Parquet: snappy, 32k-row groups, order not kept). Both
// sides are timed from the file on disk to the typed rows staged as Parquet; the bronze write that follows in an
// ingestion (ndjson row: writeBronzeBatch) is on neither side.
// finmesh reads it as `finmesh ingest` does: through DuckDB's reader with its checks (readFileWithEngine), the
// scanner for what that leaves; a file the engine path declined would fail the sample rather than time the scanner.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { duckDbDialect as d } from '../../src/engine/duckdb/duckdb-dialect.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { NdjsonWriter } from '../../src/lake/quarantine.js';
import { csvOptionsSchema } from '../../src/sources/formats/csv.js';
import { readFileWithEngine } from '../../src/sources/formats/csv-engine.js';
import type { FileFormat } from '../../src/sources/formats/read-file.js';
import { CHARGEBACK_COLUMNS, CHARGEBACK_SCHEMA, chargebacksCsv } from '../fixtures.js';
import { type BenchRow, ratioBar, time, units } from '../harness.js';

export const csv: BenchRow = {
  id: 'csv',
  title: 'partner CSV parse (ISO-8859-1)',
  unit: units.rowsPerSecond,
  bar: ratioBar('≥', 0.8),
  async open(env) {
    const n = env.rows;
    const file = await chargebacksCsv(env.fixtures, n, env.log);
    const fmt: FileFormat = {
      format: 'csv',
      encoding: 'latin1',
      csv: csvOptionsSchema.parse({ delimiter: ';', decimalSeparator: ',', dateFormat: 'dd/MM/yyyy', columns: CHARGEBACK_COLUMNS }),
      schema: CHARGEBACK_SCHEMA,
      limits: { maxBytes: 2 ** 40, maxRatio: 1000, maxEntries: 1 },
    };
    const reference = await DuckDbEngine.create();
    const engine = await DuckDbEngine.create();
    const out = join(env.work, 'reference.parquet');
    const columns = CHARGEBACK_SCHEMA.map((c) => `${c.name}: ${d.quoteLiteral(c.type)}`).join(', ');
    return {
      finmesh: {
        label: 'finmesh readFileWithEngine → staged rows',
        async sample() {
          // As an ingestion stages a file: the engine's typed rows (Parquet), the scanner's rows and rejects as NDJSON.
          const rows = new NdjsonWriter(join(env.work, 'rows.ndjson'));
          const rejects = new NdjsonWriter(join(env.work, 'rejects.ndjson'));
          let read: { select: string; count: number } | undefined;
          const s = await time(async () => {
            try {
              read = await readFileWithEngine(engine, file, 'chargebacks.csv', fmt, env.work, {
                row: (line, values) => rows.add(JSON.stringify({ _source_file: 'chargebacks.csv', _line: line, ...values })),
                reject: (line, reason, raw) => rejects.add(JSON.stringify({ file: 'chargebacks.csv', line, reason, raw })),
              });
            } finally {
              rows.close();
              rejects.close();
            }
          });
          if (!read) throw new Error('the engine path declined the file');
          if (read.count + rows.count !== n || rejects.count !== 0)
            throw new Error(`finmesh read ${read.count + rows.count} rows and ${rejects.count} rejects of ${n}`);
          return n / s;
        },
      },
      reference: {
        label: 'DuckDB COPY read_csv → parquet',
        async sample() {
          rmSync(out, { force: true });
          const s = await time(() =>
            reference.exec(
              `COPY (SELECT * FROM read_csv(${d.quoteLiteral(file)}, delim = ';', header = true, encoding = 'latin-1', decimal_separator = ',', dateformat = '%d/%m/%Y', columns = {${columns}}))
               TO ${d.quoteLiteral(out)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 32768, PRESERVE_ORDER false)`,
            ),
          );
          const c = await reference.query(`SELECT count(*) AS n FROM read_parquet(${d.quoteLiteral(out)})`);
          if (Number(c.rows[0]?.n) !== n) throw new Error(`DuckDB read ${c.rows[0]?.n} rows of ${n}`);
          return n / s;
        },
      },
      async close() {
        await reference.close();
        await engine.close();
      },
    };
  },
};
