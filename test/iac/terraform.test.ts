import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { bigQueryType, terraformFiles } from '../../src/iac/terraform.js';
import { cli, copyExample, tempDir } from '../helpers.js';

function gcpProject(): string {
  const dir = copyExample();
  appendFileSync(
    join(dir, 'finmesh.yaml'),
    'targets:\n  gcp:\n    lake: { kind: gcs, bucket: fintech-lake-prod, projectId: fintech-prod }\n    bus: { kind: pubsub, projectId: fintech-prod }\n',
  );
  return dir;
}

/** Every file under `dir`, path → text. */
function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.set(join(e.parentPath, e.name).slice(dir.length + 1), readFileSync(join(e.parentPath, e.name), 'utf8'));
  return out;
}

const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;

describe('finmesh iac terraform', () => {
  it('writes the same bytes for the same project, and names every bucket, dataset, table, topic and subscription', () => {
    const dir = gcpProject();
    const [a, b] = [tempDir('iac-a-'), tempDir('iac-b-')];
    for (const out of [a, b]) {
      const r = cli(['iac', 'terraform', '--project', dir, '--target', 'gcp', '--out', out]);
      assert.equal(r.status, 0, r.stderr);
    }
    const [ta, tb] = [readTree(a), readTree(b)];
    assert.deepEqual(ta, tb);
    const all = [...ta.values()].join('\n');

    const project = loadProject(dir, { target: 'gcp' });
    assert.match(all, /variable "lake_bucket" \{[^}]*default\s+= "fintech-lake-prod"/);
    for (const p of project.products) {
      assert.match(all, new RegExp(`resource "google_bigquery_dataset" "${p.domain}_${p.dataset.zone}"`), `${p.domain}_${p.dataset.zone}`);
      assert.match(all, new RegExp(`dataset_id +=[^\\n]*${p.domain}_${p.dataset.zone}[^\\n]*\\n +table_id += "${p.name}"`), p.name);
      const schema = JSON.parse(ta.get(`schemas/${p.domain}_${p.dataset.zone}.${p.name}.json`) ?? 'null') as { name: string }[];
      assert.deepEqual(
        schema.map((c) => c.name),
        p.contract.schema[0]?.properties.map((c) => c.name),
        `${p.name}: the table's columns are the contract's`,
      );
    }
    for (const s of project.sources.filter((x) => x.config.kind !== 'sftp')) {
      assert.match(all, new RegExp(`name += "changes\\.${s.name}"`), s.name);
      assert.match(all, new RegExp(`name += "changes\\.${s.name}\\.lake-writer"`), s.name);
      assert.match(all, new RegExp(`name += "changes\\.${s.name}\\.dead-letter"`), s.name);
    }
    // The service accounts are finmesh access terraform's: this module must not create them a second time.
    assert.doesNotMatch(all, /"google_service_account"/);
    // The Pub/Sub service agent may forward dead letters (else Pub/Sub never moves them).
    assert.match(
      all,
      /"google_pubsub_topic_iam_member"[^\n]*\n[^\n]*dead_letter\.id\n[^\n]*roles\/pubsub\.publisher"\n[^\n]*gcp-sa-pubsub/,
    );
  });

  it('gives a product table the contract’s partitioning, clustering, descriptions and owner label', () => {
    const project = loadProject(gcpProject(), { target: 'gcp' });
    const files = new Map(terraformFiles(project).map((f) => [f.path, f.text]));
    const tx = /resource "google_bigquery_table" "payments_silver__transactions" \{\n([\s\S]*?)\n\}/.exec(
      files.get('bigquery.tf') ?? '',
    )?.[1];
    assert.ok(tx, 'a table for payments.transactions');
    assert.match(tx, /time_partitioning \{\s+type\s+= "DAY"\s+field = "dt"/);
    assert.match(tx, /clustering = \["transaction_id"\]/);
    assert.match(tx, /product = "transactions"/);
    assert.match(tx, /description\s+= "One row per transaction/);
    const schema = JSON.parse(files.get('schemas/payments_silver.transactions.json') ?? '[]') as {
      name: string;
      type: string;
      mode: string;
    }[];
    assert.deepEqual(
      schema.find((c) => c.name === 'amount'),
      { name: 'amount', type: 'NUMERIC', mode: 'REQUIRED' },
    );
  });

  it('maps contract types to BigQuery and has none for a type BigQuery cannot hold', () => {
    assert.equal(bigQueryType('DECIMAL(18,2)'), 'NUMERIC');
    assert.equal(bigQueryType('DECIMAL(38,2)'), 'BIGNUMERIC'); // 36 integer digits: more than NUMERIC's 29
    assert.equal(bigQueryType('DECIMAL(38,12)'), 'BIGNUMERIC');
    assert.equal(bigQueryType('TIMESTAMPTZ'), 'TIMESTAMP');
    assert.equal(bigQueryType('TIMESTAMP'), 'DATETIME');
    assert.equal(bigQueryType('HUGEINT'), undefined);
  });

  it('is formatted as terraform fmt formats it', { skip: terraform ? undefined : 'terraform is not on the PATH' }, () => {
    const out = tempDir('iac-fmt-');
    assert.equal(cli(['iac', 'terraform', '--project', gcpProject(), '--target', 'gcp', '--out', out]).status, 0);
    const r = spawnSync('terraform', ['fmt', '-check', '-diff', '-recursive', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });
});
