// Batch ingestion: an NDJSON file of transactions → bronze Parquet, against DuckDB's own COPY of the same file.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { uuidv7 } from '../../src/core/ids.js';
import { duckDbDialect as d } from '../../src/engine/duckdb/duckdb-dialect.js';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { openContext } from '../../src/jobs/context.js';
import { writeBronzeBatch } from '../../src/lake/bronze-writer.js';
import { prepareSession } from '../../src/lake/session.js';
import { benchProject, transactionsNdjson } from '../fixtures.js';
import { type BenchRow, ratioBar, time, units } from '../harness.js';

export const ndjsonBronze: BenchRow = {
  id: 'ndjson',
  title: 'NDJSON → bronze Parquet',
  unit: units.rowsPerSecond,
  bar: ratioBar('≥', 0.8),
  async open(env) {
    const n = env.rows;
    const file = await transactionsNdjson(env.fixtures, n, env.log);
    const project = benchProject(env.work, { sources: ['core-transactions'] });
    const source = project.sources[0];
    if (!source) throw new Error('the example has no core-transactions source');
    const ctx = await openContext(project);
    await prepareSession(ctx);
    const reference = await DuckDbEngine.create();
    // Both sides type the same columns (the source's schema) and write zstd Parquet at level 1, as finmesh writes it
    // (DuckDB's own default is 3: a reference at 3 would do more work than finmesh); finmesh also adds its metadata
    // columns, partitions by day, commits the file and records it in the metadata store.
    const columns = source.config.schema.map((c) => ({ name: c.name, type: c.type }));
    const out = join(env.work, 'ref.parquet');
    let batch = 0;
    return {
      finmesh: {
        label: 'writeBronzeBatch',
        async sample() {
          batch++;
          let rows = 0;
          const s = await time(async () => {
            rows = (
              await writeBronzeBatch(ctx, {
                source,
                runId: uuidv7(),
                firstOffset: batch * n + 1,
                lastOffset: (batch + 1) * n,
                input: { ndjsonFile: file },
              })
            ).rows;
          });
          if (rows !== n) throw new Error(`finmesh committed ${rows} rows, expected ${n}`);
          return n / s;
        },
      },
      reference: {
        label: 'DuckDB COPY read_json → parquet',
        async sample() {
          rmSync(out, { force: true });
          const s = await time(() =>
            reference.exec(
              `COPY (SELECT * FROM ${d.readNdjson(file, columns)}) TO ${d.quoteLiteral(out)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`,
            ),
          );
          return n / s;
        },
      },
      async close() {
        await reference.close();
        await ctx.close();
      },
    };
  },
};
