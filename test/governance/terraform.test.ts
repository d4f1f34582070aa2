import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { AccessPolicy } from '../../src/governance/access.js';
import { gcpAccessTerraform } from '../../src/governance/terraform.js';
import { cli, EXAMPLE, tempDir } from '../helpers.js';

const project = loadProject(EXAMPLE);
const policy = new AccessPolicy(project, project.access as NonNullable<typeof project.access>);
const files = gcpAccessTerraform(policy, { projectId: 'fintech-data', location: 'southamerica-east1', lakeBucket: 'fintech-lake' });
const all = Object.values(files).join('\n');
/** Every resource block: type, name and body. */
const resources = [...all.matchAll(/^resource "([\w]+)" "([\w]+)" \{\n([\s\S]*?)^\}/gm)].map((m) => ({
  type: m[1],
  name: m[2],
  body: m[3] ?? '',
}));
const of = (type: string) => resources.filter((r) => r.type === type);

describe('finmesh access terraform: Google Cloud access from the access model', () => {
  it('grants each persona exactly its datasets: dataset-level for whole datasets, table-level for part of one', () => {
    const bindings = [...of('google_bigquery_dataset_iam_member'), ...of('google_bigquery_table_iam_member')].filter(
      (r) => !r.body.includes('google_service_account'),
    );
    const granted = (member: string) =>
      bindings
        .filter((r) => r.body.includes(`"${member}"`))
        .map((r) => {
          const ds = /dataset_id = "(\w+)"/.exec(r.body)?.[1];
          const table = /table_id += "(\w+)"/.exec(r.body)?.[1];
          return table ? `${ds}.${table}` : `${ds}.*`;
        })
        .sort();
    assert.deepEqual(granted('group:partner-ops@fintech.example'), ['partners_silver.*'], 'both tables of the dataset: the dataset');
    // Granted one table of a dataset, a persona gets that table only.
    const model = structuredClone(project.access as NonNullable<typeof project.access>);
    (model.personas['partner-operator'] as { grants: { datasets?: string[] }[] }).grants[0] = {
      ...model.personas['partner-operator']?.grants[0],
      datasets: ['partners_silver.settlements'],
    } as never;
    const narrow = gcpAccessTerraform(new AccessPolicy(project, model), { projectId: 'p', location: 'l', lakeBucket: 'b' })['iam.tf'] ?? '';
    const partner = [...narrow.matchAll(/^resource "(\w+)" "\w+" \{\n([\s\S]*?)^\}/gm)].filter((m) => m[2]?.includes('partner-ops'));
    assert.deepEqual(
      partner.filter((m) => m[1] !== 'google_project_iam_member').map((m) => `${m[1]} ${/table_id += "(\w+)"/.exec(m[2] ?? '')?.[1]}`),
      ['google_bigquery_table_iam_member settlements'],
    );
    const bi = granted('serviceAccount:powerbi@fintech-data.iam.gserviceaccount.com');
    assert.deepEqual(bi, ['customers_gold.*', 'finance_gold.*', 'payments_gold.*', 'risk_gold.*'], 'the BI service: gold datasets only');
    assert.ok(!granted('group:payments-analysts@fintech.example').some((d) => d.includes('bronze')), 'no raw zone without raw access');
  });

  it('tags classified columns, lets only clear personas read them, masks for the others by the same rules as the engine', () => {
    assert.ok(of('google_data_catalog_taxonomy')[0]?.body.includes('FINE_GRAINED_ACCESS_CONTROL'));
    assert.deepEqual(
      of('google_data_catalog_policy_tag').map((r) => r.name),
      ['confidential', 'pii', 'pci', 'pii_raw', 'pci_raw'],
    );
    const readers = (tag: string) =>
      of('google_data_catalog_policy_tag_iam_member')
        .filter((r) => r.body.includes(`policy_tag_${tag}.name`) || r.body.includes(`policy_tag.${tag}.name`))
        .map((r) => /member += "(.*)"/.exec(r.body)?.[1])
        .filter((m) => !m?.includes('google_service_account'));
    assert.deepEqual(readers('pci').sort(), ['group:data-platform@fintech.example', 'group:risk@fintech.example']);
    assert.deepEqual(readers('pii_raw'), ['group:data-platform@fintech.example'], 'raw PII in clear: the platform only');
    const pci = of('google_bigquery_datapolicy_data_policy').find((r) => r.name === 'pci_last_four_characters');
    assert.match(pci?.body ?? '', /predefined_expression = "LAST_FOUR_CHARACTERS"/);
    assert.ok(
      of('google_bigquery_datapolicy_data_policy').some((r) => r.name === 'pii_raw_sha256'),
      'tokenised PII: SHA256',
    );
    const outputs = files['outputs.tf'] ?? '';
    assert.match(outputs, /"payments_silver\.transactions" = \{[\s\S]*"card_pan_masked"\s+= google_data_catalog_policy_tag\.pci\.name/);
  });

  it('turns row filters into row access policies, TRUE for every other persona granted the table', () => {
    const jobs = of('google_bigquery_job').map((r) => /query += "(.*)"/.exec(r.body)?.[1] ?? '');
    const settlements = jobs.filter((q) => q.includes('partners_silver.settlements'));
    assert.ok(
      settlements.some((q) =>
        /GRANT TO \('group:partner-ops@fintech\.example'\) FILTER USING \(\(brand IN \('ELO', 'HIPERCARD'\)\)\)/.test(q),
      ),
    );
    assert.ok(settlements.some((q) => /GRANT TO \('group:risk@fintech\.example'\) FILTER USING \(TRUE\)/.test(q)));
    assert.ok(settlements.some((q) => q.includes('finmesh_serve')));
  });

  it('a service account per job type; every resource name unique; the CLI writes the module (terraform fmt clean)', () => {
    assert.deepEqual(
      of('google_service_account').map((r) => r.name),
      ['finmesh_ingest', 'finmesh_transform', 'finmesh_serve'],
    );
    const names = resources.map((r) => `${r.type}.${r.name}`);
    assert.equal(new Set(names).size, names.length, 'no duplicate resource');
    const out = join(tempDir(), 'access');
    const r = cli(['access', 'terraform', '--project', EXAMPLE, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'iam.tf'), 'utf8'), files['iam.tf']?.replaceAll('fintech-lake', 'fintech-lake'));
    const fmt = spawnSync('terraform', ['fmt', '-check', '-diff', out], { encoding: 'utf8' });
    if (fmt.error) return; // terraform is optional here: the check above stands on its own
    assert.equal(fmt.status, 0, fmt.stdout);
  });
});
