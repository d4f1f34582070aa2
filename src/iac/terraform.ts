import { LAKE_WRITER_GROUP } from '../bus/bus.js';
import { deadLetterNames, safeName } from '../bus/pubsub/pubsub-bus.js';
import type { Product, Project } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import { bronzeTables } from './bronze.js';
import { type Attrs, attrs, type Block, block, labels, oneLine, raw, render, str, tfName, type Value, variable } from './hcl.js';
import { monitoringTerraform, monitoringVariables } from './monitoring.js';
import { serviceAccountsTerraform } from './service-accounts.js';
import { tfvarsExample } from './tfvars.js';

/** A file of the Terraform configuration: path relative to the output folder, and its text. */
export interface TerraformFile {
  path: string;
  text: string;
}

/** Source kinds whose changes travel over the bus (`finmesh stream`), and so have a topic. */
const CHANGE_FEEDS = new Set(['sqlite-outbox', 'postgres', 'cosmos']);

/**
 * Terraform for what a project needs on Google Cloud: the lake's bucket with lifecycle rules per zone, a BigQuery
 * dataset per domain and zone, a table per silver and gold product (schema, descriptions, partitioning, clustering
 * and labels from its contract), a Pub/Sub topic per change feed with the lake writer's subscription and its dead
 * letters (with the Pub/Sub service agent's right to forward them). The job types' service accounts and every IAM
 * grant on data are `finmesh access terraform`'s (src/governance/terraform.ts), a module meant to sit beside this
 * one (`service_accounts.tf` names them by e-mail). Also a bronze table per source (`bronze.ts`), alert policies from
 * the SLOs and log-based metrics (`monitoring.ts`), and `terraform.tfvars.example`. Deterministic: the same project
 * gives the same bytes (sorted, no time stamps), formatted as `terraform fmt` formats.
 */
export function terraformFiles(project: Project): TerraformFile[] {
  const lake = project.config.lake;
  const bucket = lake.kind === 'gcs' ? lake.bucket : undefined;
  const prefix = lake.kind === 'gcs' ? lake.prefix : '';
  const location = lake.kind === 'gcs' ? lake.location : 'US';
  const projectId =
    (project.config.engine.kind === 'bigquery' ? project.config.engine.projectId : undefined) ??
    (lake.kind === 'gcs' ? lake.projectId : undefined) ??
    (project.config.bus.kind === 'pubsub' ? project.config.bus.projectId : undefined);

  const files: TerraformFile[] = [];
  const main: Block[] = [
    block(
      'terraform',
      [],
      [
        attrs([['required_version', str('>= 1.5')]]),
        block('required_providers', [], [attrs([['google', raw('{\n    source  = "hashicorp/google"\n    version = ">= 5.0"\n  }')]])]),
      ],
    ),
    block('provider', ['google'], [attrs([['project', raw('var.project_id')]])]),
    block('data', ['google_project', 'this'], [attrs([['project_id', raw('var.project_id')]])]),
  ];
  /** The Pub/Sub service agent, which moves a message to its dead-letter topic. */
  const pubsubAgent = JSON.stringify(`serviceAccount:service-\${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com`);
  files.push({
    path: 'variables.tf',
    text: render([
      variable('project_id', 'The Google Cloud project everything is created in.', projectId),
      variable('location', 'Where the bucket and the BigQuery datasets live (a region or multi-region).', location),
      variable('lake_bucket', `The lake's bucket (one per environment; the target's lake.bucket).`, bucket),
      variable('quarantine_days', 'Days a quarantined file is kept before the bucket deletes it.', 90, 'number'),
      variable(
        'landing_nearline_days',
        'Days after which landing files move to the Nearline storage class (kept unchanged).',
        30,
        'number',
      ),
      variable('dead_letter_retention', 'How long a dead-lettered change is kept for inspection.', '604800s'),
      ...monitoringVariables(),
    ]),
  });

  // ------------------------------------------------------------------ the lake's bucket
  const domains = [...new Set([...project.sources.map((s) => s.domain), ...project.products.map((p) => p.domain)])].sort();
  const lifecycle: Block[] = [];
  for (const d of domains) {
    lifecycle.push(
      block(
        'lifecycle_rule',
        [],
        [
          block(
            'condition',
            [],
            [
              attrs([
                ['age', raw('var.quarantine_days')],
                ['matches_prefix', raw(`[${JSON.stringify(`${prefix}${d}/quarantine/`)}]`)],
              ]),
            ],
          ),
          block('action', [], [attrs([['type', str('Delete')]])]),
        ],
      ),
      block(
        'lifecycle_rule',
        [],
        [
          block(
            'condition',
            [],
            [
              attrs([
                ['age', raw('var.landing_nearline_days')],
                ['matches_prefix', raw(`[${JSON.stringify(`${prefix}${d}/landing/`)}]`)],
              ]),
            ],
          ),
          block(
            'action',
            [],
            [
              attrs([
                ['type', str('SetStorageClass')],
                ['storage_class', str('NEARLINE')],
              ]),
            ],
          ),
        ],
      ),
    );
  }
  const storage: Block[] = [
    block(
      'resource',
      ['google_storage_bucket', 'lake'],
      [
        attrs([
          ['name', raw('var.lake_bucket')],
          ['location', raw('var.location')],
          ['uniform_bucket_level_access', raw('true')],
          ['public_access_prevention', str('enforced')],
        ]),
        block('versioning', [], [attrs([['enabled', raw('false')]])]),
        ...lifecycle,
      ],
    ),
  ];

  // ------------------------------------------------------------------ BigQuery datasets and tables
  const datasets = new Map<string, { domain: string; zone: string }>();
  for (const s of project.sources) datasets.set(`${s.domain}_bronze`, { domain: s.domain, zone: 'bronze' });
  for (const p of project.products) datasets.set(`${p.domain}_${p.dataset.zone}`, { domain: p.domain, zone: p.dataset.zone });
  const bigquery: Block[] = [];
  for (const [id, d] of [...datasets].sort(([a], [b]) => a.localeCompare(b))) {
    bigquery.push(
      block(
        'resource',
        ['google_bigquery_dataset', id],
        [
          attrs([
            ['dataset_id', str(id)],
            ['location', raw('var.location')],
            ['description', str(`${d.zone} zone of the ${d.domain} domain (finmesh)`)],
          ]),
          labels({ domain: d.domain, zone: d.zone }),
        ],
      ),
    );
  }
  for (const p of [...project.products].sort((a, b) => a.dataset.domain.localeCompare(b.dataset.domain) || a.name.localeCompare(b.name))) {
    const ds = `${p.domain}_${p.dataset.zone}`;
    const schemaFile = `schemas/${ds}.${p.name}.json`;
    files.push({ path: schemaFile, text: `${JSON.stringify(tableSchema(p), null, 2)}\n` });
    const body: (Attrs | Block)[] = [
      attrs([
        ['dataset_id', raw(`google_bigquery_dataset.${ds}.dataset_id`)],
        ['table_id', str(p.name)],
        ...(p.contract.description?.purpose || p.contract.schema[0]?.description
          ? ([['description', str(oneLine(p.contract.schema[0]?.description ?? p.contract.description?.purpose ?? ''))]] as [
              string,
              Value,
            ][])
          : []),
        ['schema', raw(`file("\${path.module}/${schemaFile}")`)],
        ['deletion_protection', raw('true')],
      ]),
      labels({ domain: p.domain, product: p.name, owner: p.owner, cost_centre: p.settings.costCenter }),
    ];
    const partitionBy = p.settings.partitionBy;
    if (partitionBy)
      body.push(
        block(
          'time_partitioning',
          [],
          [
            attrs([
              ['type', str('DAY')],
              ['field', str(partitionBy)],
            ]),
          ],
        ),
      );
    const clustering = (p.settings.uniqueKey ?? []).filter((c) => c !== partitionBy).slice(0, 4);
    if (clustering.length > 0) body.splice(1, 0, attrs([['clustering', raw(`[${clustering.map((c) => JSON.stringify(c)).join(', ')}]`)]]));
    bigquery.push(block('resource', ['google_bigquery_table', `${ds}__${p.name}`], body));
  }

  // ------------------------------------------------------------------ Pub/Sub
  const pubsub: Block[] = [];
  for (const s of [...project.sources].filter((x) => CHANGE_FEEDS.has(x.config.kind)).sort((a, b) => a.name.localeCompare(b.name))) {
    const topic = `changes.${s.name}`;
    const id = tfName(s.name);
    const dead = deadLetterNames(topic, LAKE_WRITER_GROUP);
    pubsub.push(
      block(
        'resource',
        ['google_pubsub_topic', `changes_${id}`],
        [attrs([['name', str(safeName(topic))]]), labels({ domain: s.domain, source: s.name })],
      ),
      block(
        'resource',
        ['google_pubsub_topic', `changes_${id}_dead_letter`],
        [attrs([['name', str(dead.topic)]]), labels({ domain: s.domain, source: s.name })],
      ),
      block(
        'resource',
        ['google_pubsub_subscription', `changes_${id}_lake_writer`],
        [
          attrs([
            ['name', str(safeName(`${topic}.${LAKE_WRITER_GROUP}`))],
            ['topic', raw(`google_pubsub_topic.changes_${id}.id`)],
            ['enable_message_ordering', raw('true')],
            ['ack_deadline_seconds', raw('30')],
          ]),
          block(
            'dead_letter_policy',
            [],
            [
              attrs([
                ['dead_letter_topic', raw(`google_pubsub_topic.changes_${id}_dead_letter.id`)],
                ['max_delivery_attempts', raw(String(project.config.bus.kind === 'pubsub' ? project.config.bus.maxDeliveryAttempts : 10))],
              ]),
            ],
          ),
        ],
      ),
      // Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to ack on the subscription.
      block(
        'resource',
        ['google_pubsub_topic_iam_member', `changes_${id}_dead_letter_publisher`],
        [
          attrs([
            ['topic', raw(`google_pubsub_topic.changes_${id}_dead_letter.id`)],
            ['role', str('roles/pubsub.publisher')],
            ['member', raw(pubsubAgent)],
          ]),
        ],
      ),
      block(
        'resource',
        ['google_pubsub_subscription_iam_member', `changes_${id}_lake_writer_dead_letter_subscriber`],
        [
          attrs([
            ['subscription', raw(`google_pubsub_subscription.changes_${id}_lake_writer.id`)],
            ['role', str('roles/pubsub.subscriber')],
            ['member', raw(pubsubAgent)],
          ]),
        ],
      ),
      block(
        'resource',
        ['google_pubsub_subscription', `changes_${id}_dead_letter`],
        [
          attrs([
            ['name', str(dead.subscription)],
            ['topic', raw(`google_pubsub_topic.changes_${id}_dead_letter.id`)],
            ['message_retention_duration', raw('var.dead_letter_retention')],
          ]),
        ],
      ),
    );
  }

  files.push({ path: 'main.tf', text: render(main) });
  files.push({ path: 'storage.tf', text: render(storage) });
  files.push({ path: 'bigquery.tf', text: render(bigquery) });
  files.push({ path: 'pubsub.tf', text: render(pubsub) });

  // ------------------------------------------------------------------ bronze, monitoring, service accounts (iac/*.ts)
  const bronze = bronzeTables(project.sources);
  files.push({ path: 'bronze.tf', text: render(bronze.blocks) }, ...bronze.files);
  files.push({ path: 'monitoring.tf', text: monitoringTerraform(project) });
  files.push({
    path: 'service_accounts.tf',
    text: serviceAccountsTerraform(project.sources.filter((x) => CHANGE_FEEDS.has(x.config.kind))),
  });
  files.push({ path: 'terraform.tfvars.example', text: tfvarsExample(files.find((f) => f.path === 'variables.tf')?.text ?? '') });
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

// ---------------------------------------------------------------------------- BigQuery schema from a contract

interface BqField {
  name: string;
  type: string;
  mode: 'REQUIRED' | 'NULLABLE';
  description?: string;
}

function tableSchema(p: Product): BqField[] {
  return (p.contract.schema[0]?.properties ?? []).map((c) => {
    const type = bigQueryType(c.physicalType ?? c.logicalType ?? 'VARCHAR');
    if (!type)
      throw new FinmeshError(
        'CONFIG_INVALID',
        `${p.contractFile}: column ${c.name}: no BigQuery type for ${JSON.stringify(c.physicalType ?? c.logicalType)} (expected VARCHAR, BIGINT, INTEGER, DOUBLE, DECIMAL(p,s), BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, JSON or BLOB)`,
      );
    return { name: c.name, type, mode: c.required ? 'REQUIRED' : 'NULLABLE', ...(c.description ? { description: c.description } : {}) };
  });
}

/** The BigQuery type of a contract's column type (finmesh's physical types are DuckDB's); undefined when none fits. */
export function bigQueryType(t: string): string | undefined {
  const u = t.trim().toUpperCase();
  const dec = /^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(u);
  if (dec) {
    const [p, s] = [Number(dec[1]), Number(dec[2])];
    return s <= 9 && p - s <= 29 ? 'NUMERIC' : s <= 38 && p <= 76 ? 'BIGNUMERIC' : undefined;
  }
  const simple: Record<string, string> = {
    VARCHAR: 'STRING',
    STRING: 'STRING',
    TEXT: 'STRING',
    UUID: 'STRING',
    BIGINT: 'INT64',
    INTEGER: 'INT64',
    INT: 'INT64',
    SMALLINT: 'INT64',
    TINYINT: 'INT64',
    DOUBLE: 'FLOAT64',
    FLOAT: 'FLOAT64',
    REAL: 'FLOAT64',
    BOOLEAN: 'BOOL',
    DATE: 'DATE',
    TIMESTAMPTZ: 'TIMESTAMP',
    'TIMESTAMP WITH TIME ZONE': 'TIMESTAMP',
    TIMESTAMP: 'DATETIME',
    TIME: 'TIME',
    JSON: 'JSON',
    BLOB: 'BYTES',
    // ODCS logical types, when a column gives no physical type.
    NUMBER: 'NUMERIC',
    BOOL: 'BOOL',
  };
  return simple[u];
}
