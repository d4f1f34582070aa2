// Pieces of the BigQuery target that need no server: a job resource's statistics as the run keeps them, the contract's
// checks compiled to GoogleSQL, and how a BigQuery column type is compared with the contract's type.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobStats } from '../../src/engine/bigquery/bigquery-warehouse.js';
import { googleSqlDialect } from '../../src/engine/bigquery/googlesql-dialect.js';
import { fieldType, sameBigQueryType } from '../../src/jobs/bigquery-checks.js';
import { type CheckRule, checkAggregate } from '../../src/mesh/checks.js';

describe('BigQuery job statistics', () => {
  it('reads a query job resource as jobs.get returns it (int64 counters as strings)', () => {
    const resource = {
      kind: 'bigquery#job',
      id: 'fintech-prod:southamerica-east1.job_Qx7',
      jobReference: { projectId: 'fintech-prod', jobId: 'job_Qx7', location: 'southamerica-east1' },
      status: { state: 'DONE' },
      statistics: {
        creationTime: '1764331200000',
        totalBytesProcessed: '10485760',
        totalSlotMs: '2345',
        query: { totalBytesProcessed: '10485760', totalBytesBilled: '10485760', totalSlotMs: '2345', statementType: 'MERGE' },
      },
    };
    assert.deepEqual(jobStats(resource, 'asked'), {
      jobId: 'job_Qx7',
      bytesProcessed: 10485760,
      bytesBilled: 10485760,
      slotMs: 2345,
      ran: true,
    });
  });

  it('reads a load job: bytes read from its files, nothing billed', () => {
    const resource = {
      jobReference: { jobId: 'finmesh_load_transactions_ab12' },
      statistics: { totalSlotMs: '120', load: { inputFiles: '1', inputFileBytes: '52344', outputRows: '600' } },
    };
    assert.deepEqual(jobStats(resource, 'x'), {
      jobId: 'finmesh_load_transactions_ab12',
      bytesProcessed: 52344,
      bytesBilled: 0,
      slotMs: 120,
      ran: true,
    });
  });
});

describe('checks in GoogleSQL', () => {
  const rule = (measure: CheckRule['measure']): CheckRule => ({
    id: 'p.c.r',
    product: 'd.p',
    column: 'c',
    rule: 'r',
    severity: 'error',
    expect: { op: 'mustBe', value: 0 },
    description: '',
    measure,
  });

  it('counts with COUNTIF, matches a pattern against the whole value, quotes with backticks', () => {
    assert.equal(checkAggregate(rule({ kind: 'nullValues', column: 'nsu' }), googleSqlDialect), 'COUNTIF(`nsu` IS NULL)');
    assert.equal(
      checkAggregate(rule({ kind: 'invalidValues', column: 'mcc', validValues: undefined, pattern: '^[0-9]{4}$' }), googleSqlDialect),
      "COUNTIF(`mcc` IS NOT NULL AND (NOT REGEXP_CONTAINS(CAST(`mcc` AS STRING), '^(?:^[0-9]{4}$)$')))",
    );
    assert.equal(checkAggregate(rule({ kind: 'duplicateValues', column: 'id' }), googleSqlDialect), 'count(`id`) - count(DISTINCT `id`)');
  });

  it('scans text for card numbers with the networks and Luhn test of the DuckDB macros', () => {
    const sql = googleSqlDialect.cardNumbersIn('`note`');
    assert.match(sql, /REGEXP_EXTRACT_ALL\(`note`, '\\\\b\[0-9\]\{13,19\}\\\\b'\)/);
    assert.match(sql, /LENGTH\(pan\) = 15 AND REGEXP_CONTAINS\(pan, r'\^\(\?:3\[47\]\[0-9\]\*\)\$'\)/);
    assert.match(sql, /MOD\(\(SELECT SUM\(IF\(MOD\(i, 2\) = 1/);
  });
});

describe('BigQuery column types against the contract', () => {
  it('compares in GoogleSQL, precision only when the table keeps it', () => {
    assert.equal(fieldType({ name: 'a', type: 'NUMERIC', precision: '18', scale: '2' }), 'NUMERIC(18, 2)');
    assert.equal(fieldType({ name: 'a', type: 'INTEGER', mode: 'REPEATED' }), 'ARRAY<INT64>');
    assert.equal(sameBigQueryType('DECIMAL(18,2)', 'NUMERIC(18, 2)'), true);
    assert.equal(sameBigQueryType('DECIMAL(18,2)', 'NUMERIC(18, 4)'), false);
    assert.equal(sameBigQueryType('DECIMAL(18,2)', 'NUMERIC'), true);
    assert.equal(sameBigQueryType('BIGINT', 'INT64'), true);
    assert.equal(sameBigQueryType('BIGINT', 'NUMERIC'), false);
    assert.equal(sameBigQueryType('TIMESTAMPTZ', 'TIMESTAMP'), true);
    assert.equal(sameBigQueryType('VARCHAR', 'STRING'), true);
  });
});

describe('masks in GoogleSQL', () => {
  it('default: a value of the column’s own BigQuery type, as the DuckDB dialect gives', () => {
    const masked = (t: string) => googleSqlDialect.mask('x', t, 'default');
    assert.equal(masked('VARCHAR'), "CAST('' AS STRING)");
    assert.equal(masked('DATE'), "CAST('1970-01-01' AS DATE)");
    assert.equal(masked('BOOLEAN'), 'CAST(FALSE AS BOOL)');
    assert.equal(masked('INTEGER'), 'CAST(0 AS INT64)');
    assert.equal(masked('DECIMAL(18,2)'), 'CAST(0 AS NUMERIC(18, 2))');
    assert.equal(masked('INTEGER[]'), 'CAST(NULL AS ARRAY<INT64>)');
  });
});
