import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { unitMs } from '../core/duration.js';
import { ConfigError, FinmeshError, type ValidationIssue } from '../core/errors.js';
import { budgetIssues } from '../cost/budgets.js';
import { describeValue, formatPath, zodIssues } from './issues.js';
import { loadAccessModel } from './load-access.js';
import { validateOdcs } from './odcs-validator.js';
import type { Domain, Product, Project, Source, UserPolicyFile } from './project.js';
import {
  type Contract,
  contractSchema,
  domainConfigSchema,
  type ProductSettings,
  type ProjectConfig,
  productSettingsSchema,
  projectConfigSchema,
  type SourceConfig,
  sourceConfigSchema,
  TIME_SLA_PROPERTIES,
} from './schema.js';

export const PROJECT_FILE = 'finmesh.yaml';

/** The outcome of reading a project: the project when valid, and every issue found either way. */
export interface LoadResult {
  project: Project | undefined;
  issues: ValidationIssue[];
}

export interface LoadOptions {
  /** The target to run on; else the environment variable FINMESH_TARGET, else finmesh.yaml's `target` (`local`). */
  target?: string | undefined;
}

/** Loads a project and throws a `ConfigError` carrying every issue when it is not valid. */
export function loadProject(dir: string, options: LoadOptions = {}): Project {
  const { project, issues } = inspectProject(dir, options);
  if (!project || issues.length > 0) throw new ConfigError(issues);
  return project;
}

/** Reads and validates the whole project, collecting every issue rather than stopping at the first. */
export function inspectProject(dir: string, options: LoadOptions = {}): LoadResult {
  const root = resolve(dir);
  const issues: ValidationIssue[] = [];
  if (!existsSync(join(root, PROJECT_FILE))) {
    throw new FinmeshError('NOT_FOUND', `no ${PROJECT_FILE} in ${dir}: is this a finmesh project? (finmesh init <dir> creates one)`);
  }
  const rel = (p: string) => relative(root, p) || '.';
  const readYaml = (file: string): unknown => {
    const bytes = readFileSync(file);
    const binary = binaryAt(bytes);
    if (binary !== undefined) {
      issues.push({
        file: rel(file),
        path: '',
        expected: 'a YAML text file (UTF-8)',
        found: `binary data (${binary}); is this the right file?`,
      });
      return undefined;
    }
    try {
      // A document may alias at most as many nodes as it holds a hundred times over: an alias bomb is refused.
      return parseYaml(bytes.toString('utf8'), { maxAliasCount: 100 });
    } catch (e) {
      if (e instanceof YAMLParseError) {
        const at = e.linePos?.[0];
        issues.push({
          file: rel(file),
          path: '',
          expected: 'valid YAML',
          found: `${e.code} at line ${at?.line ?? '?'}, column ${at?.col ?? '?'}`,
        });
        return undefined;
      }
      if (e instanceof ReferenceError && /alias/i.test(e.message)) {
        issues.push({
          file: rel(file),
          path: '',
          expected: 'YAML whose aliases expand to a reasonable size',
          found: 'aliases that expand without bound (an alias bomb, "billion laughs"); refused',
        });
        return undefined;
      }
      issues.push({ file: rel(file), path: '', expected: 'valid YAML', found: describeValue(e instanceof Error ? e.message : String(e)) });
      return undefined;
    }
  };

  const projectDoc = readYaml(join(root, PROJECT_FILE));
  const parsedProject = projectConfigSchema.safeParse(projectDoc ?? {});
  if (!parsedProject.success && projectDoc !== undefined) issues.push(...zodIssues(PROJECT_FILE, projectDoc, parsedProject.error));

  const domains: Domain[] = [];
  const sources: Source[] = [];
  const products: Product[] = [];
  const unloadedProducts: string[] = [];
  const domainsDir = join(root, 'domains');
  for (const name of listDirs(domainsDir)) {
    const ddir = join(domainsDir, name);
    const dfile = join(ddir, 'domain.yaml');
    if (!existsSync(dfile)) {
      issues.push({ file: rel(ddir), path: '', expected: 'a domain.yaml in every domain folder', found: 'no domain.yaml' });
      continue;
    }
    const doc = readYaml(dfile);
    const parsed = domainConfigSchema.safeParse(doc ?? {});
    // A file that could not be read as YAML is reported once, not again field by field.
    if (!parsed.success) {
      if (doc !== undefined) issues.push(...zodIssues(rel(dfile), doc, parsed.error));
    } else if (parsed.data.name !== name) {
      issues.push({ file: rel(dfile), path: 'name', expected: `"${name}" (the folder's name)`, found: JSON.stringify(parsed.data.name) });
    }
    const domainOwnerTeam = parsed.success ? parsed.data.owner.team : undefined;
    if (parsed.success) domains.push({ name, dir: rel(ddir), file: rel(dfile), config: parsed.data });

    for (const sfile of listFiles(join(ddir, 'sources'), /\.ya?ml$/)) {
      const sdoc = readYaml(sfile);
      if (sdoc === undefined) continue;
      const sp = sourceConfigSchema.safeParse(sdoc ?? {});
      if (!sp.success) {
        issues.push(...zodIssues(rel(sfile), sdoc, sp.error));
        continue;
      }
      issues.push(...sourceColumnIssues(rel(sfile), sp.data));
      sources.push({
        name: sp.data.name,
        domain: name,
        file: rel(sfile),
        config: sp.data,
        dataset: { domain: name, zone: 'bronze', name: sp.data.dataset },
      });
    }

    for (const pname of listDirs(join(ddir, 'products'))) {
      unloadedProducts.push(pname);
      const pdir = join(ddir, 'products', pname);
      const cfile = join(pdir, 'contract.odcs.yaml');
      if (!existsSync(cfile)) {
        issues.push({ file: rel(pdir), path: '', expected: 'a contract.odcs.yaml in every product folder', found: 'no contract' });
        continue;
      }
      const cdoc = readYaml(cfile);
      if (cdoc === undefined) continue;
      const odcsIssues = validateOdcs(rel(cfile), cdoc);
      issues.push(...odcsIssues);
      const cp = contractSchema.safeParse(cdoc);
      if (!cp.success) {
        issues.push(...zodIssues(rel(cfile), cdoc, cp.error).filter((i) => !odcsIssues.some((o) => o.path === i.path)));
        continue;
      }
      const contract = cp.data;
      issues.push(
        ...duplicates(
          (contract.schema[0]?.properties ?? []).map((p) => p.name),
          rel(cfile),
          (i) => `schema[0].properties[${i}].name`,
          'property',
        ),
      );
      const settings = readSettings(rel(cfile), contract, issues);
      if (!settings) continue;
      const schemaName = contract.schema[0]?.name;
      if (schemaName !== pname) {
        issues.push({
          file: rel(cfile),
          path: 'schema[0].name',
          expected: `"${pname}" (the product folder's name)`,
          found: JSON.stringify(schemaName),
        });
      }
      if (contract.domain !== undefined && contract.domain !== name) {
        issues.push({
          file: rel(cfile),
          path: 'domain',
          expected: `"${name}" (the domain folder's name)`,
          found: JSON.stringify(contract.domain),
        });
      }
      checkSlaUnits(rel(cfile), contract, issues);
      const modelFile = join(pdir, 'model.sql');
      if (!existsSync(modelFile)) {
        issues.push({ file: rel(pdir), path: '', expected: 'a model.sql that builds the product', found: 'no model.sql' });
      }
      const ownerMember = contract.team?.members?.find((m) => m.role === 'owner');
      products.push({
        name: pname,
        domain: name,
        dir: rel(pdir),
        contractFile: rel(cfile),
        modelFile: existsSync(modelFile) ? rel(modelFile) : undefined,
        contract,
        settings,
        materialized: settings.materialized,
        dataset: { domain: name, zone: settings.zone, name: pname },
        owner: ownerMember?.username ?? contract.team?.name ?? domainOwnerTeam,
        contractOwner: ownerMember?.username,
      });
      unloadedProducts.pop();
    }
  }
  if (domains.length === 0 && issues.length === 0) {
    issues.push({ file: 'domains', path: '', expected: 'at least one domain folder with a domain.yaml', found: 'none' });
  }
  checkUnique(
    sources.map((s) => ({ key: s.name, file: s.file, path: 'name' })),
    'source name',
    issues,
  );
  checkUnique(
    products.map((p) => ({ key: p.name, file: p.contractFile, path: 'schema[0].name' })),
    'product name',
    issues,
  );
  checkUnique(
    [...sources.map((s) => ({ key: `${s.dataset.domain}_bronze.${s.dataset.name}`, file: s.file, path: 'dataset' }))],
    'bronze dataset',
    issues,
  );
  const access = loadAccessModel(root, { domains: domains.map((d) => d.name), sources, products }, issues);
  const userPolicies: UserPolicyFile[] = [];
  for (const file of listFiles(join(root, 'policies'), /\.ya?ml$/)) {
    const doc = readYaml(file);
    if (doc !== undefined) userPolicies.push({ file: rel(file), doc });
  }
  if (!parsedProject.success) return { project: undefined, issues };
  const target = options.target ?? process.env.FINMESH_TARGET ?? parsedProject.data.target;
  const config = applyTarget(parsedProject.data, target, issues);
  if (!config) return { project: undefined, issues };
  const project = { root, config, target, domains, sources, products, unloadedProducts, access, userPolicies };
  if (unloadedProducts.length === 0) issues.push(...budgetIssues(project));
  return { project, issues };
}

/**
 * The configuration a target runs with: each section the target names (lake, engine, metadata, bus, lineage)
 * replaces the top-level one. The top level itself is the target `local` unless `targets.local` says otherwise.
 */
export function applyTarget(config: ProjectConfig, name: string, issues: ValidationIssue[]): ProjectConfig | undefined {
  const t = config.targets[name];
  if (!t) {
    if (name === 'local') return config;
    const known = ['local', ...Object.keys(config.targets).filter((k) => k !== 'local')];
    issues.push({
      file: PROJECT_FILE,
      path: 'targets',
      expected: `a target named ${known.map((k) => `"${k}"`).join(', ')} (--target, FINMESH_TARGET or target:)`,
      found: JSON.stringify(name),
    });
    return undefined;
  }
  const { description: _, ...sections } = t;
  const defined = Object.fromEntries(Object.entries(sections).filter(([, v]) => v !== undefined));
  return { ...config, ...defined };
}

/**
 * A source's column list must name each column once (a duplicate makes every batch fail to load), and its `key`,
 * `version` and `eventTime` must name columns of it.
 */
function sourceColumnIssues(file: string, config: SourceConfig): ValidationIssue[] {
  const names = config.schema.map((c) => c.name);
  const issues = duplicates(names, file, (i) => `schema[${i}].name`, 'column');
  const known = new Set(names);
  const listed = names.join(', ');
  // A Cosmos DB source's `key` is its account key (a secret), not columns.
  (Array.isArray(config.key) ? config.key : []).forEach((k, i) => {
    if (!known.has(k)) issues.push({ file, path: `key[${i}]`, expected: `a column of the schema (${listed})`, found: JSON.stringify(k) });
  });
  for (const field of ['version', 'eventTime'] as const) {
    const v = config[field];
    if (v !== undefined && !known.has(v))
      issues.push({ file, path: field, expected: `a column of the schema (${listed})`, found: JSON.stringify(v) });
  }
  return issues;
}

/** Each name after its first use, as an issue at its own path. */
function duplicates(names: string[], file: string, path: (i: number) => string, what: string): ValidationIssue[] {
  const first = new Map<string, number>();
  const out: ValidationIssue[] = [];
  names.forEach((n, i) => {
    const at = first.get(n);
    if (at === undefined) first.set(n, i);
    else out.push({ file, path: path(i), expected: `a ${what} name used once`, found: `"${n}", already at ${path(at)}` });
  });
  return out;
}

/** Where a file is not text: the offset of a NUL byte or of bytes that are not UTF-8; undefined for text. */
function binaryAt(bytes: Buffer): string | undefined {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return `a NUL byte at offset ${nul} of ${bytes.length}`;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    return `bytes that are not UTF-8 in its ${bytes.length}`;
  }
}

function readSettings(file: string, contract: Contract, issues: ValidationIssue[]): ProductSettings | undefined {
  const raw: Record<string, unknown> = {};
  const index = new Map<string, number>();
  (contract.customProperties ?? []).forEach((cp, i) => {
    let value = cp.value;
    if ((cp.property === 'uniqueKey' || cp.property === 'consumers') && typeof value === 'string') {
      value = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    }
    raw[cp.property] = value;
    index.set(cp.property, i);
  });
  const known = new Set(Object.keys(productSettingsSchema.shape));
  for (const key of Object.keys(raw)) if (!known.has(key)) delete raw[key];
  const parsed = productSettingsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of zodIssues(file, raw, parsed.error)) {
    const key = issue.path.split(/[.[]/)[0] ?? '';
    const i = index.get(key);
    const path = i === undefined ? `customProperties (property "${key}")` : formatPath(['customProperties', i, 'value']);
    issues.push({ ...issue, path });
  }
  return undefined;
}

/** Time SLAs (latency, frequency, retention…) need a unit finmesh knows: a guess would move an alert by 60×. */
function checkSlaUnits(file: string, contract: Contract, issues: ValidationIssue[]): void {
  (contract.slaProperties ?? []).forEach((sla, i) => {
    if (!TIME_SLA_PROPERTIES.includes(sla.property) || sla.unit === undefined) return;
    if (unitMs(sla.unit) === undefined)
      issues.push({
        file,
        path: formatPath(['slaProperties', i, 'unit']),
        expected: 'a time unit (s, m/min/minutes, h/hours, d/days, w/weeks, y/years)',
        found: JSON.stringify(sla.unit),
      });
    else if (!Number.isFinite(Number(sla.value)) || Number(sla.value) < 0)
      issues.push({
        file,
        path: formatPath(['slaProperties', i, 'value']),
        expected: 'a non-negative number',
        found: JSON.stringify(sla.value),
      });
  });
}

function checkUnique(items: { key: string; file: string; path: string }[], what: string, issues: ValidationIssue[]) {
  const seen = new Map<string, string>();
  for (const it of items) {
    const first = seen.get(it.key);
    if (first)
      issues.push({
        file: it.file,
        path: it.path,
        expected: `a ${what} unique in the project`,
        found: `"${it.key}", also used in ${first}`,
      });
    else seen.set(it.key, it.file);
  }
}

function listDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.') && !n.startsWith('_') && statSync(join(dir, n)).isDirectory())
    .sort();
}

function listFiles(dir: string, re: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n));
}
