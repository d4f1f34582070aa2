import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DatasetRef, type Project, sqlName } from '../config/project.js';
import type { ValidationIssue } from '../core/errors.js';
import { quoteIdent, translateSelect } from '../engine/bigquery/googlesql.js';
import { buildDag, type ModelNode, renderModel } from '../engine/dag.js';
import type { Engine } from '../engine/engine.js';

/** The file beside a model that overrides its translation to GoogleSQL (DESIGN §5). */
export const BIGQUERY_OVERRIDE = 'model.bigquery.sql';

/** `` `project.domain_zone.dataset` ``: where a finmesh dataset lives in BigQuery. */
export function bigQueryTable(projectId: string, dataset: DatasetRef): string {
  return quoteIdent(`${projectId}.${sqlName(dataset)}`);
}

export type ModelSql = { sql: string; from: 'translation' | 'override'; file: string } | { issue: ValidationIssue };

/**
 * A model's GoogleSQL: its `model.bigquery.sql` with ref()/source() resolved when there is one, else its finmesh SQL
 * parsed by `parser` (a DuckDB engine) and translated. What has no translation is an issue naming the model's file,
 * the line and the construct.
 */
export async function bigQueryModelSql(
  project: Project,
  node: ModelNode,
  parser: Engine,
  options: { projectId: string; tokenizationKey?: string | undefined },
): Promise<ModelSql> {
  const names = new Map<string, string>();
  for (const d of [...node.refs.map((r) => r.dataset), ...node.sources.map((s) => s.dataset)])
    names.set(sqlName(d), bigQueryTable(options.projectId, d));
  const override = join(node.product.dir, BIGQUERY_OVERRIDE);
  if (existsSync(join(project.root, override))) {
    const sql = renderModel({ ...node, sql: readFileSync(join(project.root, override), 'utf8') }, project, names);
    return { sql, from: 'override', file: override };
  }
  const file = node.product.modelFile ?? node.product.dir;
  const sql = renderModel(node, project);
  const parsed = await parser.parse(sql);
  const where = (line: number | undefined) => (line === undefined ? 'model' : `line ${line}`);
  const hint = `SQL with a GoogleSQL translation, or the model written by hand in ${override}`;
  if (parsed.error) return { issue: { file, path: 'model', expected: 'one SELECT that parses', found: parsed.error.message } };
  if (parsed.statements.length !== 1 || parsed.statements[0]?.type !== 'SELECT')
    return { issue: { file, path: 'model', expected: 'one SELECT', found: `${parsed.statements.length} statements` } };
  const t = translateSelect(sql, parsed.statements[0].ast, {
    table: (schema, table) => names.get(`${schema}.${table}`) ?? quoteIdent(`${options.projectId}.${schema}.${table}`),
    tokenizationKey: options.tokenizationKey,
  });
  if ('construct' in t) return { issue: { file, path: where(t.line), expected: hint, found: t.construct } };
  return { sql: t.sql, from: 'translation', file };
}

/**
 * `validate` on a BigQuery target: every model whose SQL cannot be translated to GoogleSQL (and has no override), as an
 * issue with file, line and construct. The tokenisation key is not needed to judge a translation.
 */
export async function bigQueryTranslationIssues(project: Project, parser: Engine): Promise<ValidationIssue[]> {
  const engine = project.config.engine;
  if (engine.kind !== 'bigquery') return [];
  const issues: ValidationIssue[] = [];
  for (const node of buildDag(project).dag.nodes) {
    const r = await bigQueryModelSql(project, node, parser, { projectId: engine.projectId, tokenizationKey: 'validate' });
    if ('issue' in r) issues.push(r.issue);
  }
  return issues;
}
