import type { Project } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import type { LineageGraph } from './graph.js';

/**
 * A lineage question and its answer, shared by `finmesh lineage --json` and `GET /api/v1/lineage/explore`: a dataset
 * or column, upstream (what it derives from) or downstream (what derives from it, with the products and consumers a
 * change reaches).
 */
export function exploreLineage(
  graph: LineageGraph,
  project: Project,
  target: string,
  direction: 'upstream' | 'downstream',
  depth: number,
): LineageResult {
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
  const result = column ? columnResult(graph, datasetKey, column, direction, depth) : datasetResult(graph, datasetKey, direction, depth);
  if (direction === 'downstream') result.impact = impact(project, graph.label(datasetKey), result.nodes);
  return result;
}

export interface LineageResult {
  target: string;
  direction: string;
  nodes: string[];
  edges: { from: string; to: string; via?: string; transformations?: unknown }[];
  impact?: Impact;
}

export interface Impact {
  products: { product: string; dataset: string; owner: string | undefined; consumers: string[] }[];
  consumers: string[];
}

function columnResult(
  graph: LineageGraph,
  dataset: string,
  column: string,
  direction: 'upstream' | 'downstream',
  depth: number,
): LineageResult & { columns: unknown[] } {
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

function datasetResult(graph: LineageGraph, dataset: string, direction: 'upstream' | 'downstream', depth: number): LineageResult {
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
