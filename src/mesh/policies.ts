import type { Project } from '../config/project.js';
import { sqlName } from '../config/project.js';
import type { ValidationIssue } from '../core/errors.js';
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
      case 'source-has-alert':
        for (const s of project.sources) {
          if (s.config.kind === 'sftp' && s.config.expectedDaily === undefined)
            v(s.file, 'expectedDaily', 'expectedDaily (files per day), which the missing-file alert watches', 'none');
          const domain = project.domains.find((d) => d.name === s.domain);
          if (!domain?.config.onCall) v(domain?.file ?? s.file, 'onCall', 'an on-call rotation to route the source’s alerts to', 'none');
        }
        break;
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
