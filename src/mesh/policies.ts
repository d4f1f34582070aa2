import type { Project } from '../config/project.js';
import { sqlName } from '../config/project.js';
import type { ValidationIssue } from '../core/errors.js';
import { buildDag, type ModelNode, renderModel } from '../engine/dag.js';
import type { Engine } from '../engine/engine.js';
import { BRONZE_METADATA_COLUMNS } from '../lake/layout.js';
import { columnLineage } from '../lineage/column-lineage.js';
import { freshnessSlo } from './sla.js';

export interface PolicyViolation extends ValidationIssue {
  policy: string;
  severity: 'error' | 'warning';
}

/** What a `pii-protected-before-silver` evaluation needs: per silver product, the columns fed raw from PII/PCI. */
export type UnprotectedColumns = (productName: string) => { column: string; from: string; classification: string }[];

/**
 * Evaluates the global policies of finmesh.yaml over the whole mesh. With no `policies:` list, the defaults apply:
 * every policy at `error` except naming at `warning`.
 */
export function evaluatePolicies(project: Project, unprotected: UnprotectedColumns): PolicyViolation[] {
  const configured: { id: string; severity: 'error' | 'warning'; pattern?: string | undefined }[] =
    project.config.policies.length > 0 ? project.config.policies : [...DEFAULT_POLICIES];
  const out: PolicyViolation[] = [];
  for (const policy of configured) {
    const v = (file: string, path: string, expected: string, found: string) =>
      out.push({ policy: policy.id, severity: policy.severity, file, path, expected, found });
    switch (policy.id) {
      case 'product-has-owner':
        for (const p of project.products)
          if (!p.contractOwner) v(p.contractFile, 'team.members', 'a team member with role owner', 'no owner');
        break;
      case 'product-has-freshness-slo':
        for (const p of project.products) if (!freshnessSlo(p)) v(p.contractFile, 'slaProperties', 'a latency (freshness) SLA', 'none');
        break;
      case 'columns-classified':
        for (const p of project.products) {
          (p.contract.schema[0]?.properties ?? []).forEach((prop, i) => {
            if (!prop.classification)
              v(
                p.contractFile,
                `schema[0].properties[${i}].classification`,
                'a classification (public, internal, confidential, pii, pci)',
                'none',
              );
          });
        }
        for (const s of project.sources) {
          s.config.schema.forEach((c, i) => {
            if (!c.classification) v(s.file, `schema[${i}].classification`, 'a classification', 'none');
          });
        }
        break;
      case 'pii-protected-before-silver':
        for (const p of project.products.filter((x) => x.dataset.zone === 'silver')) {
          for (const u of unprotected(p.name)) {
            v(
              p.modelFile ?? p.contractFile,
              u.column,
              `${u.classification} data tokenised or masked before ${sqlName(p.dataset)}`,
              `${u.column} copies ${u.from} unprotected`,
            );
          }
        }
        break;
      case 'naming-conventions': {
        const re = new RegExp(policy.pattern ?? '^[a-z][a-z0-9_]*$');
        for (const p of project.products)
          if (!re.test(p.name)) v(p.contractFile, 'schema[0].name', `a name matching ${re}`, JSON.stringify(p.name));
        break;
      }
      case 'source-has-alert': {
        for (const s of project.sources)
          if (s.config.kind === 'sftp' && s.config.expectedDaily === undefined)
            v(s.file, 'expectedDaily', `expectedDaily (files per day), which the missing-file alert of source ${s.name} watches`, 'none');
        // One finding per domain without on-call, naming every source whose alerts have nowhere to go.
        const unrouted = new Map<string, string[]>();
        for (const s of project.sources) {
          const domain = project.domains.find((d) => d.name === s.domain);
          if (!domain?.config.onCall) unrouted.set(domain?.file ?? s.file, [...(unrouted.get(domain?.file ?? s.file) ?? []), s.name]);
        }
        for (const [file, names] of unrouted)
          v(
            file,
            'onCall',
            `an on-call rotation to route the alerts of source${names.length === 1 ? '' : 's'} ${names.join(', ')} to`,
            'none',
          );
        break;
      }
    }
  }
  return out;
}

export const DEFAULT_POLICIES = [
  { id: 'product-has-owner', severity: 'error' },
  { id: 'product-has-freshness-slo', severity: 'error' },
  { id: 'columns-classified', severity: 'error' },
  { id: 'pii-protected-before-silver', severity: 'error' },
  { id: 'naming-conventions', severity: 'warning' },
  { id: 'source-has-alert', severity: 'error' },
] as const satisfies readonly { id: string; severity: 'error' | 'warning' }[];

/** A silver column fed raw from a PII/PCI input. */
export interface UnprotectedColumn {
  column: string;
  from: string;
  classification: string;
}

/**
 * Silver columns that copy a PII/PCI input without tokenising or masking it, found from the models' column lineage
 * (all silver models, or `only` those).
 */
export async function findUnprotectedColumns(
  project: Project,
  engine: Engine,
  only?: ModelNode[],
): Promise<Map<string, UnprotectedColumn[]>> {
  const dag = only ? { nodes: only } : buildDag(project).dag;
  const classOf = new Map<string, Map<string, string>>();
  const columnsOf = new Map<string, string[]>();
  for (const s of project.sources) {
    const name = sqlName(s.dataset);
    columnsOf.set(name, [...s.config.schema.map((c) => c.name), ...BRONZE_METADATA_COLUMNS.map((c) => c.name)]);
    classOf.set(name, new Map(s.config.schema.filter((c) => c.classification).map((c) => [c.name, c.classification as string])));
  }
  for (const p of project.products) {
    const props = p.contract.schema[0]?.properties ?? [];
    columnsOf.set(
      sqlName(p.dataset),
      props.map((x) => x.name),
    );
    classOf.set(sqlName(p.dataset), new Map(props.filter((x) => x.classification).map((x) => [x.name, x.classification as string])));
  }
  const out = new Map<string, UnprotectedColumn[]>();
  for (const node of dag.nodes.filter((n) => n.product.dataset.zone === 'silver')) {
    const sql = renderModel(node, project);
    const parsed = await engine.parse(sql);
    const statement = parsed.statements[0];
    if (parsed.error || !statement) continue;
    const lineage = columnLineage({
      node: statement.ast,
      columnsOf: (d) => columnsOf.get(d) ?? [],
      outputColumns: [],
      datasetId: (d) => ({ namespace: 'sql', name: d }),
    });
    const found: UnprotectedColumn[] = [];
    for (const [column, { inputFields }] of Object.entries(lineage.fields)) {
      for (const f of inputFields) {
        const cls = classOf.get(f.name)?.get(f.field);
        if (cls !== 'pii' && cls !== 'pci') continue;
        if (f.transformations.some((t) => t.type === 'DIRECT' && !t.masking))
          found.push({ column, from: `${f.name}.${f.field}`, classification: cls });
      }
    }
    out.set(node.product.name, found);
  }
  return out;
}

export async function checkPolicies(project: Project, engine: Engine): Promise<PolicyViolation[]> {
  const unprotected = await findUnprotectedColumns(project, engine);
  return evaluatePolicies(project, (name) => unprotected.get(name) ?? []);
}

/** Policies that judge what a model writes, enforced before it writes (`finmesh run`, the stream, the demo). */
export const RUN_TIME_POLICIES = ['pii-protected-before-silver'] as const;

/**
 * The error-level violations of the run-time policies by one model: a model that violates one must not write.
 * Empty when the project configures those policies at warning level, or not at all.
 */
export async function modelPolicyViolations(project: Project, engine: Engine, node: ModelNode): Promise<PolicyViolation[]> {
  if (node.product.dataset.zone !== 'silver') return [];
  const unprotected = await findUnprotectedColumns(project, engine, [node]);
  return evaluatePolicies(project, (name) => unprotected.get(name) ?? []).filter(
    (v) =>
      v.severity === 'error' &&
      (RUN_TIME_POLICIES as readonly string[]).includes(v.policy) &&
      v.file === (node.product.modelFile ?? node.product.contractFile),
  );
}
