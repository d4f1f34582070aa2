import type { LineageGraph } from './graph.js';

export interface MarquezNode {
  id: string;
  type: 'DATASET' | 'JOB';
  data: Record<string, unknown>;
  inEdges: { origin: string; destination: string }[];
  outEdges: { origin: string; destination: string }[];
}

/** The Marquez `GET /api/v1/lineage?nodeId=...&depth=N` answer: the graph around a node, both directions. */
export function marquezLineage(graph: LineageGraph, nodeId: string, depth: number): { graph: MarquezNode[] } | undefined {
  const [kind, ...rest] = nodeId.split(':');
  const key = rest.join(':');
  const nodes = new Map<string, MarquezNode>();
  const node = (id: string): MarquezNode => {
    let n = nodes.get(id);
    if (!n) {
      const [k, ...r] = id.split(':');
      const inner = r.join(':');
      const data =
        k === 'dataset'
          ? (() => {
              const d = graph.datasets.get(inner);
              return {
                namespace: d?.namespace,
                name: d?.name,
                fields: (d?.fields ?? []).map((f) => ({ name: f })),
                symlinks: d?.aliases ?? [],
              };
            })()
          : (() => {
              const j = graph.jobs.get(inner);
              return { namespace: j?.namespace, name: j?.name, inputs: [...(j?.inputs ?? [])], outputs: [...(j?.outputs ?? [])] };
            })();
      n = { id, type: k === 'dataset' ? 'DATASET' : 'JOB', data, inEdges: [], outEdges: [] };
      nodes.set(id, n);
    }
    return n;
  };
  const link = (from: string, to: string) => {
    const a = node(from);
    const b = node(to);
    if (!a.outEdges.some((e) => e.destination === to)) a.outEdges.push({ origin: from, destination: to });
    if (!b.inEdges.some((e) => e.origin === from)) b.inEdges.push({ origin: from, destination: to });
  };
  let datasetKey: string | undefined;
  if (kind === 'dataset') datasetKey = graph.resolve(key);
  else if (kind === 'job' && graph.jobs.has(key)) {
    const j = graph.jobs.get(key);
    node(`job:${key}`);
    for (const i of j?.inputs ?? []) link(`dataset:${i}`, `job:${key}`);
    for (const o of j?.outputs ?? []) link(`job:${key}`, `dataset:${o}`);
    return { graph: [...nodes.values()] };
  }
  if (!datasetKey) return undefined;
  node(`dataset:${datasetKey}`);
  for (const dir of ['upstream', 'downstream'] as const) {
    for (const e of graph.datasetEdges(datasetKey, dir, depth)) {
      link(`dataset:${e.from}`, `job:${e.job}`);
      link(`job:${e.job}`, `dataset:${e.to}`);
    }
  }
  return { graph: [...nodes.values()] };
}
