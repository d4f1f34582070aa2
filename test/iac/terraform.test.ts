import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { AccessPolicy } from '../../src/governance/access.js';
import { gcpAccessTerraform } from '../../src/governance/terraform.js';
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

  it('names a bronze table per source with the source’s columns and ingest columns, and every service account the jobs run as', () => {
    const project = loadProject(gcpProject(), { target: 'gcp' });
    const files = new Map(terraformFiles(project).map((f) => [f.path, f.text]));
    const all = [...files.values()].join('\n');
    const bronze = files.get('bronze.tf') ?? '';
    for (const s of project.sources) {
      const ds = `${s.domain}_bronze`;
      assert.match(all, new RegExp(`resource "google_bigquery_dataset" "${ds}"`), ds);
      const table = new RegExp(`resource "google_bigquery_table" "${ds}__${s.dataset.name}" \\{\\n([\\s\\S]*?)\\n\\}`).exec(bronze)?.[1];
      assert.ok(table, `a bronze table for ${s.name}`);
      assert.match(table, new RegExp(`table_id += "${s.dataset.name}"`));
      assert.match(table, /time_partitioning \{\s+type\s+= "DAY"\s+field = "_ingested_at"/);
      assert.match(table, new RegExp(`source = "${s.name}"`));
      const schema = JSON.parse(files.get(`schemas/${ds}.${s.dataset.name}.json`) ?? 'null') as { name: string; type: string }[];
      assert.deepEqual(
        schema.map((c) => c.name),
        [...s.config.schema.map((c) => c.name), '_offset', '_op', '_ingested_at', '_run_id', 'dt'],
        `${s.name}: the source's columns, then what finmesh adds to each bronze row`,
      );
    }
    // A nested column of the app's documents is a RECORD with its fields.
    const tx = JSON.parse(files.get('schemas/payments_bronze.transactions.json') ?? '[]') as {
      name: string;
      type: string;
      fields?: { name: string; type: string }[];
    }[];
    assert.deepEqual(
      tx.find((c) => c.name === 'payer'),
      {
        name: 'payer',
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: [
          { name: 'cpf', type: 'STRING', mode: 'NULLABLE' },
          { name: 'name', type: 'STRING', mode: 'NULLABLE' },
        ],
        description: 'raw CPF and name; tokenised or dropped in silver',
      },
    );
    // The accounts finmesh access terraform creates are the ones this module names (and grants metrics, logs, Pub/Sub).
    const access = gcpAccessTerraform(new AccessPolicy(project, project.access as NonNullable<typeof project.access>), {
      projectId: 'p',
      location: 'l',
      lakeBucket: 'b',
    });
    const accounts = [
      ...Object.values(access)
        .join('\n')
        .matchAll(/account_id += "([^"]+)"/g),
    ].map((m) => m[1]);
    assert.ok(accounts.length >= 3, accounts.join(' '));
    for (const a of accounts) {
      assert.match(all, new RegExp(`"${a}@\\$\\{var\\.project_id\\}\\.iam\\.gserviceaccount\\.com"`), a);
      const id = a?.replace(/^finmesh-/, '');
      assert.match(
        all,
        new RegExp(`roles/monitoring\\.metricWriter"\\n +member += "serviceAccount:\\$\\{local\\.service_accounts\\.${id}\\}"`),
        a,
      );
    }
    for (const s of project.sources.filter((x) => x.config.kind !== 'sftp'))
      assert.match(all, new RegExp(`"google_pubsub_topic_iam_member" "changes_${s.name.replace(/-/g, '_')}_ingest_publisher"`), s.name);
    // Every variable is documented, and listed in terraform.tfvars.example with its description.
    const variables = [...(files.get('variables.tf') ?? '').matchAll(/variable "([^"]+)" \{\n +description = "[^"]+"/g)].map((m) => m[1]);
    assert.equal(variables.length, (files.get('variables.tf')?.match(/^variable /gm) ?? []).length, 'every variable has a description');
    for (const v of variables)
      assert.match(files.get('terraform.tfvars.example') ?? '', new RegExp(`# .+\\n# ${v} = `), `${v} in the example`);
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
