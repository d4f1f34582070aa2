import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DatasetRef, type Product, type Project, type Source, sqlName } from '../config/project.js';
import type { ValidationIssue } from '../core/errors.js';

/** `ref('product')`, `ref('domain', 'product')` or `source('name')`, optionally inside `{{ }}`. */
const CALL_RE = /(\{\{\s*)?\b(ref|source)\(\s*'([^']+)'\s*(?:,\s*'([^']+)'\s*)?\)(\s*\}\})?/g;

export interface ModelCall {
  fn: 'ref' | 'source';
  args: string[];
  /** The text matched, to replace when rendering. */
  text: string;
  line: number;
}

export function parseCalls(sql: string): ModelCall[] {
  const calls: ModelCall[] = [];
  for (const m of sql.matchAll(CALL_RE)) {
    const args = [m[3], m[4]].filter((a): a is string => a !== undefined);
    calls.push({ fn: m[2] as 'ref' | 'source', args, text: m[0], line: sql.slice(0, m.index).split('\n').length });
  }
  return calls;
}

export interface ModelNode {
  product: Product;
  sql: string;
  /** Upstream products. */
  refs: Product[];
  /** Upstream sources (bronze). */
  sources: Source[];
}

/** The models of a project, in an order where every model comes after what it reads. */
export interface ModelDag {
  nodes: ModelNode[];
  byName: Map<string, ModelNode>;
}

/** Resolves a model's ref() and source() calls into `refs` and `sources`; returns the calls that name nothing. */
function resolveCalls(project: Project, file: string, sql: string, refs: Product[], sources: Source[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const call of parseCalls(sql)) {
    const where = { file, path: `line ${call.line}: ${call.text.replace(/^\{\{\s*|\s*\}\}$/g, '')}` };
    if (call.fn === 'ref') {
      const target = resolveRef(project, call.args);
      if (target) refs.push(target);
      else if (!project.unloadedProducts.includes(call.args[call.args.length - 1] ?? ''))
        issues.push({
          ...where,
          expected: `a product of the project (${[...project.products.map((p) => p.name), ...project.unloadedProducts].join(', ')})`,
          found: `"${call.args.join('.')}"`,
        });
    } else {
      const name = call.args[call.args.length - 1];
      const src = project.sources.find((s) => s.name === name);
      if (src) sources.push(src);
      else
        issues.push({
          ...where,
          expected: `a source of the project (${project.sources.map((s) => s.name).join(', ')})`,
          found: `"${call.args.join('.')}"`,
        });
    }
  }
  return issues;
}

/** Builds the DAG; reports unknown refs, unknown sources and cycles as validation issues. */
export function buildDag(project: Project): { dag: ModelDag; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const nodes = new Map<string, ModelNode>();
  for (const product of project.products) {
    if (!product.modelFile) continue;
    const sql = readFileSync(join(project.root, product.modelFile), 'utf8');
    const refs: Product[] = [];
    const sources: Source[] = [];
    issues.push(...resolveCalls(project, product.modelFile, sql, refs, sources));
    nodes.set(product.name, { product, sql, refs: unique(refs), sources: unique(sources) });
  }
  const ordered: ModelNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (node: ModelNode, stack: string[]) => {
    const s = state.get(node.product.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(node.product.name)), node.product.name];
      issues.push({
        file: node.product.modelFile ?? node.product.dir,
        path: 'ref()',
        expected: 'models without cycles',
        found: `the cycle ${cycle.join(' → ')}`,
      });
      return;
    }
    state.set(node.product.name, 'visiting');
    for (const up of node.refs) {
      const upNode = nodes.get(up.name);
      if (upNode) visit(upNode, [...stack, node.product.name]);
    }
    state.set(node.product.name, 'done');
    ordered.push(node);
  };
  for (const node of nodes.values()) visit(node, []);
  // A product whose contract did not load still has a model: its ref()s and source()s are checked now, not after the
  // contract is fixed.
  for (const d of project.domains)
    for (const name of project.unloadedProducts) {
      const file = join(d.dir, 'products', name, 'model.sql');
      if (existsSync(join(project.root, file)))
        issues.push(...resolveCalls(project, file, readFileSync(join(project.root, file), 'utf8'), [], []));
    }
  return { dag: { nodes: ordered, byName: new Map(ordered.map((n) => [n.product.name, n])) }, issues };
}

function resolveRef(project: Project, args: string[]): Product | undefined {
  if (args.length === 2) return project.products.find((p) => p.domain === args[0] && p.name === args[1]);
  const [name] = args;
  const dotted = name?.split('.');
  if (dotted && dotted.length === 2) return project.products.find((p) => p.domain === dotted[0] && p.name === dotted[1]);
  return project.products.find((p) => p.name === name);
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/**
 * Selects models: `name`, `+name` (with everything upstream), `name+` (with everything downstream),
 * `domain:payments`, `zone:gold`; several selectors separated by spaces or commas. Empty selects all.
 */
export function selectModels(dag: ModelDag, selector: string | undefined): ModelNode[] {
  const terms = (selector ?? '').split(/[\s,]+/).filter(Boolean);
  if (terms.length === 0) return dag.nodes;
  const chosen = new Set<string>();
  for (const term of terms) {
    const up = term.startsWith('+');
    const down = term.endsWith('+');
    const core = term.replace(/^\+|\+$/g, '');
    let matched: ModelNode[];
    if (core.startsWith('domain:')) matched = dag.nodes.filter((n) => n.product.domain === core.slice(7));
    else if (core.startsWith('zone:')) matched = dag.nodes.filter((n) => n.product.dataset.zone === core.slice(5));
    else matched = dag.nodes.filter((n) => n.product.name === core || `${n.product.domain}.${n.product.name}` === core);
    if (matched.length === 0) return [];
    for (const n of matched) {
      chosen.add(n.product.name);
      if (up) for (const u of upstreamOf(dag, n)) chosen.add(u);
      if (down) for (const d of downstreamOf(dag, n)) chosen.add(d);
    }
  }
  return dag.nodes.filter((n) => chosen.has(n.product.name));
}

export function upstreamOf(dag: ModelDag, node: ModelNode): Set<string> {
  const out = new Set<string>();
  const walk = (n: ModelNode) => {
    for (const r of n.refs) {
      if (out.has(r.name)) continue;
      out.add(r.name);
      const rn = dag.byName.get(r.name);
      if (rn) walk(rn);
    }
  };
  walk(node);
  return out;
}

export function downstreamOf(dag: ModelDag, node: ModelNode): Set<string> {
  const out = new Set<string>();
  const walk = (name: string) => {
    for (const n of dag.nodes) {
      if (n.refs.some((r) => r.name === name) && !out.has(n.product.name)) {
        out.add(n.product.name);
        walk(n.product.name);
      }
    }
  };
  walk(node.product.name);
  return out;
}

/** Replaces `ref()`/`source()` with the datasets' SQL names; `override` swaps in other relations (incremental deltas). */
export function renderModel(node: ModelNode, project: Project, override: Map<string, string> = new Map()): string {
  let out = node.sql;
  for (const call of parseCalls(node.sql)) {
    let target: DatasetRef | undefined;
    if (call.fn === 'ref') target = resolveRef(project, call.args)?.dataset;
    else target = project.sources.find((s) => s.name === call.args[call.args.length - 1])?.dataset;
    if (!target) continue;
    const name = sqlName(target);
    out = out.replace(call.text, override.get(name) ?? name);
  }
  return out.replace(/;\s*$/, '');
}
