import { Environment } from '@marcbachmann/cel-js';
import { z } from 'zod';
import { ACCESS_FILE } from '../config/access-names.js';
import { formatPath, zodIssues } from '../config/issues.js';
import { type Project, sqlName } from '../config/project.js';
import { ConfigError, type ValidationIssue } from '../core/errors.js';
import { AccessPolicy } from '../governance/access.js';
import type { PolicyViolation } from './policies.js';

/** What a rule iterates over: one evaluation per element. */
export const POLICY_SUBJECTS = ['products', 'columns', 'sources', 'domains', 'personas', 'access'] as const;
export type PolicySubject = (typeof POLICY_SUBJECTS)[number];

/**
 * A rule users write in `policies/*.yaml`, in CEL (the Common Expression Language, github.com/google/cel-spec): for
 * every element of `for` where `when` holds, `assert` must hold. Variables: the element (`product`, `column` with its
 * `product`, `source`, `domain`, `persona`, `access` with its `persona`), and `project` (every product, source,
 * domain and persona).
 */
export const userPolicySchema = z
  .object({
    apiVersion: z.literal('finmesh/v1'),
    kind: z.literal('Policy'),
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-kebab-case policy id'),
    description: z.string().optional(),
    severity: z.enum(['error', 'warning']).default('error'),
    for: z.enum(POLICY_SUBJECTS),
    /** Only the elements where this CEL expression is true. */
    when: z.string().min(1).optional(),
    /** A CEL expression that must be true for every element. */
    assert: z.string().min(1),
    /** What a violation says was expected. */
    message: z.string().min(1),
    /** A CEL expression describing what was found instead (default: the element's name). */
    found: z.string().min(1).optional(),
  })
  .strict();
export type UserPolicy = z.infer<typeof userPolicySchema>;

interface Compiled {
  file: string;
  policy: UserPolicy;
  when: ((vars: Record<string, unknown>) => unknown) | undefined;
  assert: (vars: Record<string, unknown>) => unknown;
  found: ((vars: Record<string, unknown>) => unknown) | undefined;
}

/** An element a rule is evaluated on, where it is written, and its variables. */
interface Subject {
  name: string;
  file: string;
  path: string;
  vars: Record<string, unknown>;
}

const env = new Environment({ unlistedVariablesAreDyn: true });

/**
 * Reads and compiles the project's `policies/*.yaml`. A file that does not match the schema, or an expression that
 * does not parse, is an issue with the file and the field.
 */
export function compileUserPolicies(project: Project): { policies: Compiled[]; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const policies: Compiled[] = [];
  const ids = new Map<string, string>();
  for (const { file, doc } of project.userPolicies ?? []) {
    const parsed = userPolicySchema.safeParse(doc ?? {});
    if (!parsed.success) {
      issues.push(...zodIssues(file, doc, parsed.error));
      continue;
    }
    const policy = parsed.data;
    const first = ids.get(policy.id);
    if (first) {
      issues.push({ file, path: 'id', expected: 'a policy id unique in the project', found: `"${policy.id}", also in ${first}` });
      continue;
    }
    ids.set(policy.id, file);
    const compile = (field: 'when' | 'assert' | 'found') => {
      const text = policy[field];
      if (text === undefined) return undefined;
      try {
        const fn = env.parse(text);
        return (vars: Record<string, unknown>) => fn(vars);
      } catch (e) {
        issues.push({ file, path: field, expected: 'a CEL expression', found: firstLine(e) });
        return null;
      }
    };
    const [when, assert, found] = [compile('when'), compile('assert'), compile('found')];
    if (when === null || assert === null || found === null || assert === undefined) continue;
    policies.push({ file, policy, when, assert, found });
  }
  return { policies, issues };
}

/**
 * Evaluates the project's own policies. A violation names the element's file and YAML path (where to fix it) and the
 * policy's file; an expression that fails on an element (a missing key, a type error) is an error-level violation.
 */
export function evaluateUserPolicies(project: Project): { violations: PolicyViolation[]; issues: ValidationIssue[] } {
  const { policies, issues } = compileUserPolicies(project);
  const violations: PolicyViolation[] = [];
  if (policies.length === 0) return { violations, issues };
  const model = subjects(project);
  for (const c of policies) {
    const label = `${c.policy.id} (${c.file})`;
    for (const s of model.of(c.policy.for)) {
      const vars = { ...s.vars, project: model.project };
      try {
        if (c.when && c.when(vars) !== true) continue;
        const ok = c.assert(vars);
        if (ok === true) continue;
        const found = c.found ? String(c.found(vars)) : s.name;
        violations.push({ policy: label, severity: c.policy.severity, file: s.file, path: s.path, expected: c.policy.message, found });
      } catch (e) {
        violations.push({
          policy: label,
          severity: 'error',
          file: c.file,
          path: 'assert',
          expected: `an expression that evaluates on ${s.name}`,
          found: firstLine(e),
        });
        break;
      }
    }
  }
  return { violations, issues };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

/** The project and its access model as CEL values (plain data: names, lists and maps). */
function subjects(project: Project) {
  const products = project.products.map((p) => {
    const props = p.contract.schema[0]?.properties ?? [];
    return {
      name: p.name,
      domain: p.domain,
      zone: p.dataset.zone,
      dataset: sqlName(p.dataset),
      materialized: p.materialized,
      owners: (p.contract.team?.members ?? []).filter((m) => m.role === 'owner').map((m) => m.username),
      members: (p.contract.team?.members ?? []).map((m) => ({ username: m.username, role: m.role ?? '' })),
      team: p.contract.team?.name ?? '',
      consumers: p.settings.consumers,
      status: p.contract.status,
      version: p.contract.version,
      columns: props.map((x) => ({ name: x.name, classification: x.classification ?? '', type: x.physicalType ?? x.logicalType ?? '' })),
      sla: Object.fromEntries((p.contract.slaProperties ?? []).map((s) => [s.property, { value: s.value, unit: s.unit ?? '' }])),
    };
  });
  const sources = project.sources.map((s) => ({
    name: s.name,
    domain: s.domain,
    kind: s.config.kind,
    dataset: sqlName(s.dataset),
    columns: s.config.schema.map((c) => ({ name: c.name, classification: c.classification ?? '', type: c.type })),
  }));
  const domains = project.domains.map((d) => ({
    name: d.name,
    team: d.config.owner.team,
    email: d.config.owner.email,
    onCall: d.config.onCall ?? '',
    costCenter: d.config.costCenter ?? '',
  }));
  const policy = project.access ? new AccessPolicy(project, project.access) : undefined;
  const decisions = policy?.matrix() ?? [];
  const personas = Object.entries(project.access?.personas ?? {}).map(([name, p]) => ({
    name,
    description: p.description ?? '',
    raw: p.raw,
    api: p.api,
    grants: p.grants.map((g) => ({ domains: g.domains, zones: g.zones, datasets: g.datasets ?? [] })),
    classifications: { confidential: 'denied', pii: 'denied', pci: 'denied', ...p.classifications },
    rowFilters: p.rowFilters.map((f) => ({ dataset: f.dataset, where: f.where })),
    members: p.gcp?.members ?? [],
    readable: decisions.filter((d) => d.persona === name && d.allowed).map((d) => d.dataset),
  }));
  const byPersona = new Map(personas.map((p) => [p.name, p]));
  const project_ = { name: project.config.name, products, sources, domains, personas };
  const productsByName = new Map(products.map((p) => [p.name, p]));
  const of = (what: PolicySubject): Subject[] => {
    switch (what) {
      case 'products':
        return project.products.map((p) => ({
          name: `${p.domain}.${p.name}`,
          file: p.contractFile,
          path: 'team.members',
          vars: { product: productsByName.get(p.name) },
        }));
      case 'columns':
        return project.products.flatMap((p) =>
          (p.contract.schema[0]?.properties ?? []).map((x, i) => {
            const product = productsByName.get(p.name);
            return {
              name: `${sqlName(p.dataset)}.${x.name}`,
              file: p.contractFile,
              path: formatPath(['schema', 0, 'properties', i]),
              vars: { product, column: product?.columns[i] },
            };
          }),
        );
      case 'sources':
        return project.sources.map((s, i) => ({ name: s.name, file: s.file, path: '', vars: { source: sources[i] } }));
      case 'domains':
        return project.domains.map((d, i) => ({ name: d.name, file: d.file, path: '', vars: { domain: domains[i] } }));
      case 'personas':
        return personas.map((p) => ({ name: p.name, file: ACCESS_FILE, path: formatPath(['personas', p.name]), vars: { persona: p } }));
      case 'access':
        return decisions.map((d) => ({
          name: `${d.persona} → ${d.dataset}`,
          file: ACCESS_FILE,
          path: formatPath(['personas', d.persona]),
          vars: {
            persona: byPersona.get(d.persona),
            access: {
              persona: d.persona,
              dataset: d.dataset,
              domain: policy?.dataset(d.dataset)?.ref.domain ?? '',
              zone: policy?.dataset(d.dataset)?.ref.zone ?? '',
              allowed: d.allowed,
              columns: d.columns.map((c) => ({ name: c.name, classification: c.classification ?? '', level: c.level })),
            },
          },
        }));
    }
  };
  return { project: project_, of };
}

/**
 * What runs check before they start (`finmesh run`, `finmesh stream`, the demo): a project whose own error-level
 * policies fail, or whose policy files do not compile, does not run. Throws a `ConfigError` listing every issue.
 */
export function assertUserPolicies(project: Project): void {
  const { violations, issues } = evaluateUserPolicies(project);
  const errors = [
    ...issues,
    ...violations
      .filter((v) => v.severity === 'error')
      .map((v) => ({ file: v.file, path: v.path, expected: `${v.expected} (policy ${v.policy})`, found: v.found })),
  ];
  if (errors.length > 0) throw new ConfigError(errors);
}
