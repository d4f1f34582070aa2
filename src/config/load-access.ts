import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ValidationIssue } from '../core/errors.js';
import { ACCESS_FILE, type AccessModel, accessModelSchema } from './access-schema.js';
import { formatPath, zodIssues } from './issues.js';
import { type Product, type Source, sqlName } from './project.js';

/**
 * Reads `governance/access.yaml` when the project has one, and checks what its schema cannot: every persona a token,
 * an OIDC mapping, a break-glass grant or `cli` names exists; every domain and dataset a grant or row filter names
 * exists. Issues name the file and the YAML path.
 */
export function loadAccessModel(
  root: string,
  known: { domains: string[]; sources: Source[]; products: Product[] },
  issues: ValidationIssue[],
): AccessModel | undefined {
  const file = join(root, ACCESS_FILE);
  if (!existsSync(file)) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    if (!(e instanceof YAMLParseError)) throw e;
    const at = e.linePos?.[0];
    issues.push({
      file: ACCESS_FILE,
      path: '',
      expected: 'valid YAML',
      found: `${e.code} at line ${at?.line ?? '?'}, column ${at?.col ?? '?'}`,
    });
    return undefined;
  }
  const parsed = accessModelSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    issues.push(...zodIssues(ACCESS_FILE, doc, parsed.error));
    return undefined;
  }
  const model = parsed.data;
  const before = issues.length;
  const issue = (path: PropertyKey[], expected: string, found: string) =>
    issues.push({ file: ACCESS_FILE, path: formatPath(path), expected, found });
  const personas = Object.keys(model.personas);
  const persona = (name: string | undefined, path: PropertyKey[]) => {
    if (name !== undefined && !personas.includes(name))
      issue(path, `a persona of this file (${personas.join(', ')})`, JSON.stringify(name));
  };
  const datasets = new Set([
    ...known.sources.map((s) => sqlName(s.dataset)),
    ...known.sources.map((s) => `${s.domain}_quarantine.${s.dataset.name}`),
    ...known.products.map((p) => sqlName(p.dataset)),
  ]);
  const schemas = new Set([...datasets].map((d) => d.split('.')[0]));
  const grants = (list: AccessModel['personas'][string]['grants'], at: PropertyKey[]) =>
    list.forEach((g, i) => {
      g.domains.forEach((d, j) => {
        if (d !== '*' && !known.domains.includes(d))
          issue([...at, i, 'domains', j], `a domain of the project (${known.domains.join(', ')}) or *`, JSON.stringify(d));
      });
      (g.datasets ?? []).forEach((d, j) => {
        const [schema, table] = d.split('.');
        const exists = table === '*' ? schemas.has(schema) : datasets.has(d);
        if (!exists) issue([...at, i, 'datasets', j], 'a dataset of the project (<domain>_<zone>.<name>)', JSON.stringify(d));
      });
    });
  for (const [name, p] of Object.entries(model.personas)) {
    grants(p.grants, ['personas', name, 'grants']);
    p.rowFilters.forEach((f, i) => {
      if (!datasets.has(f.dataset))
        issue(['personas', name, 'rowFilters', i, 'dataset'], 'a dataset of the project', JSON.stringify(f.dataset));
    });
  }
  const tokenNames = new Map<string, number>();
  model.tokens.forEach((t, i) => {
    persona(t.persona, ['tokens', i, 'persona']);
    const first = tokenNames.get(t.name);
    if (first !== undefined) issue(['tokens', i, 'name'], 'a token name unique in the file', `"${t.name}", also tokens[${first}]`);
    else tokenNames.set(t.name, i);
  });
  for (const [claim, p] of Object.entries(model.oidc?.personas ?? {})) persona(p, ['oidc', 'personas', claim]);
  model.breakGlass.forEach((b, i) => {
    persona(b.persona, ['breakGlass', i, 'persona']);
    grants(b.grants, ['breakGlass', i, 'grants']);
    if (b.from && Date.parse(b.from) >= Date.parse(b.until))
      issue(['breakGlass', i, 'until'], `an instant after from (${b.from})`, JSON.stringify(b.until));
  });
  persona(model.cli.persona, ['cli', 'persona']);
  return issues.length === before ? model : undefined;
}
