import type { Command } from 'commander';
import type { Project } from '../../config/project.js';
import type { LineageGraph } from '../../lineage/graph.js';
import { examples, integer, oneOf, projectOption } from '../options.js';
import { formatTable, paint, printJson } from '../output.js';

interface LineageOptions {
  project: string;
  upstream?: boolean;
  downstream?: boolean;
  depth: number;
  format: 'text' | 'json' | 'mermaid';
  json?: boolean;
}

export function registerLineage(program: Command): void {
  const cmd = program
    .command('lineage')
    .description('lineage of a dataset or column (`finmesh lineage export` prints every stored OpenLineage event as NDJSON)')
    .argument('<target>', '<dataset>[.<column>] — e.g. payments_gold.daily_volume_by_method.total_amount — or `export`');
  projectOption(cmd)
    .option('--upstream', 'what it derives from (default)')
    .option('--downstream', 'what derives from it: the impact of a change, up to products and their consumers')
    .option('--depth <n>', 'hops to follow', integer, 20)
    .option('--format <format>', 'text, json or mermaid', oneOf(['text', 'json', 'mermaid'] as const), 'text')
    .option('--json', 'same as --format json')
    .action(async (target: string, opts: LineageOptions) => {
      const [{ loadProject }, { FinmeshError }, { openContext }, { LineageGraph }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../lineage/graph.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const events = (await ctx.meta.lineage.list()).map((e) => e.event);
        if (target === 'export') {
          for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
          return;
        }
        const graph = LineageGraph.fromEvents(events);
        let datasetKey = graph.resolve(target);
        let column: string | undefined;
        if (!datasetKey) {
          const i = target.lastIndexOf('.');
          datasetKey = i > 0 ? graph.resolve(target.slice(0, i)) : undefined;
          column = i > 0 ? target.slice(i + 1) : undefined;
        }
        if (!datasetKey) {
          throw new FinmeshError(
            'NOT_FOUND',
            `no dataset "${target}" in the lineage graph (${graph.datasets.size} datasets known; has the project run?)`,
          );
        }
        const ds = graph.datasets.get(datasetKey);
        if (column && ds && ds.fields.length > 0 && !ds.fields.includes(column)) {
          throw new FinmeshError('NOT_FOUND', `${graph.label(datasetKey)} has no column "${column}" (columns: ${ds.fields.join(', ')})`);
        }
        const direction = opts.downstream ? 'downstream' : 'upstream';
        const format = opts.json ? 'json' : opts.format;
        const result = column
          ? columnResult(graph, datasetKey, column, direction, opts.depth)
          : datasetResult(graph, datasetKey, direction, opts.depth);
        if (direction === 'downstream') result.impact = impact(project, graph.label(datasetKey), result.nodes);
        if (format === 'json') printJson(result);
        else if (format === 'mermaid') process.stdout.write(mermaid(result));
        else process.stdout.write(text(result));
      } finally {
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh lineage payments_gold.daily_volume_by_method.total_amount',
    'finmesh lineage payments_silver.transactions --downstream',
    'finmesh lineage payments_silver.transactions --format mermaid',
    'finmesh lineage export > events.ndjson',
  ]);
}

interface Result {
  target: string;
  direction: string;
  nodes: string[];
  edges: { from: string; to: string; via?: string; transformations?: unknown }[];
  impact?: Impact;
}

interface Impact {
  products: { product: string; dataset: string; owner: string | undefined; consumers: string[] }[];
  consumers: string[];
}

function columnResult(
  graph: LineageGraph,
  dataset: string,
  column: string,
  direction: 'upstream' | 'downstream',
  depth: number,
): Result & { columns: unknown[] } {
  const edges = graph.columns(dataset, column, direction, depth);
  const name = (d: string, f: string) => `${graph.label(d)}.${f}`;
  const nodes = [
    ...new Set(edges.map((e) => (direction === 'upstream' ? name(e.from.dataset, e.from.field) : name(e.to.dataset, e.to.field)))),
  ];
  return {
    target: name(dataset, column),
    direction,
    nodes,
    columns: edges.map((e) => ({
      dataset: graph.label(direction === 'upstream' ? e.from.dataset : e.to.dataset),
      column: direction === 'upstream' ? e.from.field : e.to.field,
      via: direction === 'upstream' ? name(e.to.dataset, e.to.field) : name(e.from.dataset, e.from.field),
      transformations: e.transformations,
    })),
    edges: edges.map((e) => ({
      from: name(e.from.dataset, e.from.field),
      to: name(e.to.dataset, e.to.field),
      transformations: e.transformations,
    })),
  };
}

function datasetResult(graph: LineageGraph, dataset: string, direction: 'upstream' | 'downstream', depth: number): Result {
  const edges = graph.datasetEdges(dataset, direction, depth);
  const nodes = [...new Set(edges.map((e) => graph.label(direction === 'upstream' ? e.from : e.to)))];
  return {
    target: graph.label(dataset),
    direction,
    nodes,
    edges: edges.map((e) => ({ from: graph.label(e.from), to: graph.label(e.to), via: e.job.split(':').at(-1) })),
  };
}

/** Which products and consumers a change reaches (downstream): the target's own product and everything after it. */
function impact(project: Project, target: string, nodes: string[]): Impact {
  const datasets = new Set([target, ...nodes].map((n) => n.split('.').slice(0, 2).join('.')));
  const products = project.products.filter((p) => datasets.has(`${p.dataset.domain}_${p.dataset.zone}.${p.name}`));
  return {
    products: products.map((p) => ({
      product: `${p.domain}.${p.name}`,
      dataset: `${p.dataset.domain}_${p.dataset.zone}.${p.name}`,
      owner: p.owner,
      consumers: [...p.settings.consumers],
    })),
    consumers: [...new Set(products.flatMap((p) => p.settings.consumers))].sort(),
  };
}

function text(r: Result): string {
  const lines = [`${r.target} — ${r.direction}`];
  for (const e of r.edges) {
    const t = Array.isArray(e.transformations)
      ? ` [${(e.transformations as { type: string; subtype: string; masking?: boolean }[]).map((x) => `${x.type} ${x.subtype}${x.masking ? ' masked' : ''}`).join(', ')}]`
      : e.via
        ? ` (${e.via})`
        : '';
    lines.push(`  ${e.from} → ${e.to}${t}`);
  }
  if (r.edges.length === 0) lines.push('  (none recorded)');
  if (r.impact) {
    lines.push(
      '',
      paint(
        'bold',
        `impact: ${r.impact.products.length} product${r.impact.products.length === 1 ? '' : 's'}, ${r.impact.consumers.length} consumer${r.impact.consumers.length === 1 ? '' : 's'}`,
      ),
    );
    const table = formatTable(
      ['product', 'owner', 'consumers'],
      r.impact.products.map((p) => ({ product: p.product, owner: p.owner ?? '(none)', consumers: p.consumers.join(', ') || '(none)' })),
    );
    lines.push(...table.split('\n').map((l) => `  ${l}`));
    if (r.impact.consumers.length > 0) lines.push(`  tell: ${r.impact.consumers.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

function mermaid(r: Result): string {
  const ids = new Map<string, string>();
  const idOf = (n: string) => {
    let v = ids.get(n);
    if (!v) {
      v = `n${ids.size}`;
      ids.set(n, v);
    }
    return v;
  };
  const lines = ['flowchart LR'];
  idOf(r.target);
  for (const e of r.edges) {
    idOf(e.from);
    idOf(e.to);
  }
  for (const [n, v] of ids) lines.push(`  ${v}["${n.replace(/"/g, '#quot;')}"]`);
  for (const e of r.edges) {
    const t = Array.isArray(e.transformations)
      ? (e.transformations as { subtype: string }[]).map((x) => x.subtype).join(', ')
      : (e.via ?? '');
    lines.push(`  ${idOf(e.from)} -->|${t || ' '}| ${idOf(e.to)}`);
  }
  return `${lines.join('\n')}\n`;
}
