import type { Source } from '../config/project.js';
import { JOB_ACCOUNTS } from '../governance/terraform.js';
import { attrs, type Block, block, map, raw, render, str, tfName } from './hcl.js';

/**
 * `service_accounts.tf`: the job types' service accounts by email (`local.service_accounts`, an output too) and what
 * they need outside data: every job writes metrics (Managed Service for Prometheus) and logs; the stream job
 * (ingest) publishes changes to its topics and reads the lake writer's subscriptions. The accounts themselves and
 * every grant on data are `finmesh access terraform`'s (src/governance/terraform.ts): this module names them by
 * email and never creates them, so the two modules apply side by side.
 */
export function serviceAccountsTerraform(changeFeeds: readonly Source[]): string {
  const ids = JOB_ACCOUNTS.map((j) => j.id);
  // str() escapes `${`: the e-mail must interpolate var.project_id, so it is written as HCL.
  const blocks: Block[] = [
    block(
      'locals',
      [],
      [
        attrs([
          [
            'service_accounts',
            map(Object.fromEntries(ids.map((id) => [id, raw(`"finmesh-${id}@\${var.project_id}.iam.gserviceaccount.com"`)]))),
          ],
        ]),
      ],
    ),
  ];
  for (const id of ids) {
    for (const [role, what] of [
      ['roles/monitoring.metricWriter', 'metric_writer'],
      ['roles/logging.logWriter', 'log_writer'],
    ] as const) {
      blocks.push(
        block(
          'resource',
          ['google_project_iam_member', `finmesh_${id}_${what}`],
          [
            attrs([
              ['project', raw('var.project_id')],
              ['role', str(role)],
              ['member', raw(`"serviceAccount:\${local.service_accounts.${id}}"`)],
            ]),
          ],
        ),
      );
    }
  }
  for (const s of [...changeFeeds].sort((a, b) => a.name.localeCompare(b.name))) {
    const id = tfName(s.name);
    blocks.push(
      block(
        'resource',
        ['google_pubsub_topic_iam_member', `changes_${id}_ingest_publisher`],
        [
          attrs([
            ['topic', raw(`google_pubsub_topic.changes_${id}.id`)],
            ['role', str('roles/pubsub.publisher')],
            ['member', raw(`"serviceAccount:\${local.service_accounts.ingest}"`)],
          ]),
        ],
      ),
      block(
        'resource',
        ['google_pubsub_subscription_iam_member', `changes_${id}_lake_writer_ingest_subscriber`],
        [
          attrs([
            ['subscription', raw(`google_pubsub_subscription.changes_${id}_lake_writer.id`)],
            ['role', str('roles/pubsub.subscriber')],
            ['member', raw(`"serviceAccount:\${local.service_accounts.ingest}"`)],
          ]),
        ],
      ),
    );
  }
  blocks.push(
    block(
      'output',
      ['service_accounts'],
      [
        attrs([
          ['description', str("The job types' service accounts (created by finmesh access terraform), by job type.")],
          ['value', raw('local.service_accounts')],
        ]),
      ],
    ),
  );
  return render(blocks);
}
