// Models and checks at the engine's speed. `finmesh run` builds three payments models from bronze (silver
// transactions merged by key, and two gold aggregates over it) against the same SQL run directly in DuckDB; `finmesh
// test` runs the silver product's checks against the same checks written as one DuckDB query. Both sides are timed
// from nothing (opening the engine, and for finmesh its metadata store) to the results written, then closed.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { uuidv7 } from '../../src/core/ids.js';
import { macroSql } from '../../src/engine/duckdb/duckdb-macros.js';
import { prepareForChecks, runChecks } from '../../src/jobs/check.js';
import { openContext } from '../../src/jobs/context.js';
import { runModels } from '../../src/jobs/transform.js';
import { writeBronzeBatch } from '../../src/lake/bronze-writer.js';
import { prepareSession } from '../../src/lake/session.js';
import { benchProject, benchProjectAsCli, EXAMPLE, fixture, LAKE_FORMAT, transactionsNdjson } from '../fixtures.js';
import { type BenchEnv, type BenchRow, ratioBar, time, units } from '../harness.js';

export const MODELS = ['transactions', 'daily_volume_by_method', 'volume_per_minute'];
const KEY = 'bench-tokenization-key-0123456789abcdef';
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Bronze transactions (`n` changes) in a lake and metadata store, generated once; with silver built, for checks. */
export function lakeFixture(env: BenchEnv, n: number, withSilver: boolean): Promise<string> {
  return fixture(env.fixtures, `lake${LAKE_FORMAT}-${n}${withSilver ? '-silver' : ''}`, async (dir) => {
    const ndjson = await transactionsNdjson(env.fixtures, n, env.log);
    env.log(`loading ${n.toLocaleString('en-US')} changes into bronze${withSilver ? ' and building silver' : ''}…`);
    const ctx = await openContext(benchProject(dir), { secrets: true });
    try {
      await prepareSession(ctx);
      const source = ctx.project.sources.find((s) => s.name === 'core-transactions');
      if (!source) throw new Error('no core-transactions source');
      await writeBronzeBatch(ctx, { source, runId: uuidv7(), firstOffset: 1, lastOffset: n, input: { ndjsonFile: ndjson } });
      if (withSilver) {
        const [r] = await runModels(ctx, { selector: 'transactions', checks: false });
        if (r?.status !== 'succeeded') throw new Error(`building silver failed: ${r?.error}`);
      }
    } finally {
      await ctx.close();
    }
  });
}

/** A working copy of a lake fixture: files hard-linked (only read), the metadata store copied. */
export function copyLake(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  execFileSync('cp', ['-al', join(from, 'lake'), join(to, 'lake')]);
  copyFileSync(join(from, 'metadata.db'), join(to, 'metadata.db'));
}

function modelSql(name: string, domain = 'payments'): string {
  return readFileSync(join(EXAMPLE, 'domains', domain, 'products', name, 'model.sql'), 'utf8').replace(/;\s*$/, '');
}

/** A fresh in-memory DuckDB, as finmesh's engine opens it (UTC), closed after `fn`. */
async function withDuckDb(fn: (conn: DuckDBConnection) => Promise<void>): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    await fn(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

process.env.FINMESH_TOKENIZATION_KEY ??= KEY;

/**
 * Seconds of `runModels` of MODELS on the embedded DuckDB over the lake in `dir`, from opening the project to closing
 * it, checks off; throws when a model did not succeed.
 */
export async function timeModels(dir: string): Promise<number> {
  let failed: string | undefined;
  const s = await time(async () => {
    const ctx = await openContext(await benchProjectAsCli(dir), { secrets: true });
    try {
      await prepareSession(ctx);
      const rs = await runModels(ctx, { selector: MODELS.join(','), checks: false });
      failed = rs.find((r) => r.status !== 'succeeded')?.error;
      if (rs.length !== MODELS.length) failed = `ran ${rs.length} models`;
    } finally {
      await ctx.close();
    }
  });
  if (failed) throw new Error(failed);
  return s;
}

export const models: BenchRow = {
  id: 'run',
  title: '`finmesh run --no-checks`, 3 models',
  unit: units.seconds,
  bar: ratioBar('≤', 1.1, 'the time'),
  async open(env) {
    const n = Number(env.settings['model-rows'] ?? Math.round(env.rows * 2.2));
    const template = await lakeFixture(env, n, false);
    const trialDir = join(env.work, 'finmesh');
    const refDir = join(env.work, 'duckdb');
    const bronze = join(template, 'lake/payments/bronze/transactions/**/*.parquet');
    const read = (glob: string) => `read_parquet(${q(glob)}, hive_partitioning = true)`;
    const silver = join(refDir, 'transactions');
    env.log(`  over ${n.toLocaleString('en-US')} bronze changes`);
    return {
      async reset() {
        copyLake(template, trialDir);
        rmSync(refDir, { recursive: true, force: true });
        mkdirSync(refDir, { recursive: true });
      },
      finmesh: {
        label: `finmesh runModels (${MODELS.join(', ')})`,
        sample: () => timeModels(trialDir),
      },
      reference: {
        label: 'the same SQL in DuckDB (COPY … TO parquet)',
        sample: () =>
          time(() =>
            withDuckDb(async (conn) => {
              const run = (sql: string) => conn.run(sql);
              await run(macroSql(process.env.FINMESH_TOKENIZATION_KEY));
              // Silver: latest version per transaction, by day; then the two gold models over it. Written as finmesh
              // writes Parquet (zstd level 1), so both sides do the same work.
              const tx = modelSql('transactions').replace("source('core-transactions')", read(bronze));
              await run(
                `COPY (SELECT * FROM (${tx}) QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY version DESC) = 1) TO ${q(silver)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARTITION_BY (dt))`,
              );
              const ref = read(join(silver, '**/*.parquet'));
              mkdirSync(join(refDir, 'daily'), { recursive: true });
              await run(
                `COPY (${modelSql('daily_volume_by_method').replace("ref('transactions')", ref)}) TO ${q(join(refDir, 'daily/part-0.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`,
              );
              await run(
                `COPY (${modelSql('volume_per_minute').replace("ref('transactions')", ref)}) TO ${q(join(refDir, 'per-minute'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARTITION_BY (dt))`,
              );
            }),
          ),
      },
    };
  },
};

export const checks: BenchRow = {
  id: 'test',
  title: '`finmesh test transactions`',
  unit: units.seconds,
  bar: ratioBar('≤', 1.0, 'the time'),
  async open(env) {
    const n = Number(env.settings['check-rows'] ?? Math.round(env.rows * 2.5));
    const template = await lakeFixture(env, n, true);
    const trialDir = join(env.work, 'finmesh');
    const project = benchProject(template);
    const product = project.products.find((p) => p.name === 'transactions');
    if (!product) throw new Error('no transactions product');
    const properties = product.contract.schema[0]?.properties ?? [];
    const text = properties.filter((p) => p.physicalType === 'VARCHAR').map((p) => `"${p.name}"`);
    const silver = `read_parquet(${q(join(template, 'lake/payments/silver/transactions/**/*.parquet'))}, hive_partitioning = true)`;
    // The same checks a user would write by hand as one query: the contract's rules, full card numbers in text
    // columns, rows per day for the volume check, and the non-null count of every column (the quality profile).
    // (No CTE: DuckDB would materialise one read twice over; the files are simply read where needed. Each column's
    // card numbers are coalesced to 0: a NULL beside a leaked number must not hide it, as finmesh's check counts it.
    // A value shorter than 13 bytes skips the regex on both sides: finmesh's own query does, and a reference without
    // that guard measured 5–15% slower, which flattered finmesh.)
    const oneQuery = `SELECT count(*) AS row_count,
        count(*) FILTER (WHERE transaction_id IS NULL) AS id_nulls,
        count(transaction_id) - count(DISTINCT transaction_id) AS id_duplicates,
        count(*) FILTER (WHERE payment_method IS NOT NULL AND payment_method NOT IN ('pix', 'card', 'boleto')) AS bad_method,
        count(*) FILTER (WHERE currency IS NOT NULL AND currency NOT IN ('BRL')) AS bad_currency,
        coalesce(sum(${text.map((c) => `coalesce(CASE WHEN strlen(${c}) >= 13 THEN len(list_filter(regexp_extract_all(${c}, '\\b[0-9]{13,19}\\b'), x -> pan_like(x) AND luhn_valid(x))) ELSE 0 END, 0)`).join(' + ')}), 0) AS pan,
        ${properties.map((p, i) => `count("${p.name}") AS c${i}`).join(', ')},
        (SELECT list(n ORDER BY day) FROM (SELECT dt AS day, count(*) AS n FROM ${silver} WHERE dt >= current_date - INTERVAL 30 DAY GROUP BY 1)) AS per_day
      FROM ${silver}`;
    return {
      async reset() {
        copyLake(template, trialDir);
      },
      finmesh: {
        label: 'finmesh runChecks (contract rules, PAN leak, schema drift, freshness, volume, profile)',
        async sample() {
          let ran = 0;
          const s = await time(async () => {
            const ctx = await openContext(await benchProjectAsCli(trialDir));
            try {
              const p = ctx.project.products.find((x) => x.name === 'transactions');
              if (!p) throw new Error('no transactions product');
              // As `finmesh test transactions` prepares the engine.
              await prepareForChecks(ctx, [p]);
              ran = (await runChecks(ctx, p)).filter((r) => r.status !== 'skipped').length;
            } finally {
              await ctx.close();
            }
          });
          return { value: s, extra: { checks: ran } };
        },
      },
      reference: {
        label: 'the same checks as one DuckDB query',
        async sample() {
          let rows = 0;
          const s = await time(() =>
            withDuckDb(async (conn) => {
              await conn.run(macroSql(undefined));
              rows = Number((await conn.runAndReadAll(oneQuery)).getRowObjectsJson()[0]?.row_count);
            }),
          );
          return { value: s, extra: { rows } };
        },
      },
    };
  },
};
