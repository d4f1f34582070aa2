import type { ELK as ELKApi, ElkNode } from 'elkjs/lib/elk-api';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';

export interface GraphNode {
  id: string;
  label: string;
  /** The whole name, when the label shortens it. */
  full?: string;
  /** A second line: the zone, a product name. */
  sub?: string;
  href: string;
  tone?: string;
  selected?: boolean;
  dim?: boolean;
}

export interface GraphEdge {
  id: string;
  from: string;
  to: string;
  label?: string;
  dim?: boolean;
}

interface Laid {
  width: number;
  height: number;
  nodes: (GraphNode & { x: number; y: number; w: number; h: number })[];
  edges: (GraphEdge & { points: { x: number; y: number }[]; lx?: number; ly?: number })[];
}

const CHAR = 7.2;

/**
 * A directed graph laid out by ELK (layered, left to right) and drawn as SVG: every node is a link (keyboard and
 * screen readers reach it like any other), every edge carries its label (the job, or the transformation).
 */
export function Graph({ nodes, edges, title }: { nodes: GraphNode[]; edges: GraphEdge[]; title: string }) {
  const [laid, setLaid] = useState<Laid | undefined>();
  const [error, setError] = useState<string | undefined>();
  const { route } = useLocation();
  const wrap = useRef<HTMLElement>(null);
  // The chosen node in view: a wide graph scrolls to it.
  useEffect(() => {
    const el = wrap.current?.querySelector('.node.selected');
    if (laid && el) el.scrollIntoView({ block: 'nearest', inline: 'center' });
  }, [laid]);
  useEffect(() => {
    let live = true;
    (async () => {
      const elk = await layoutEngine();
      const size = (n: GraphNode) => ({
        width: Math.max(n.label.length, n.sub?.length ?? 0) * CHAR + 24,
        height: n.sub ? 42 : 28,
      });
      const input: ElkNode = {
        id: 'root',
        layoutOptions: {
          'elk.algorithm': 'layered',
          'elk.direction': 'RIGHT',
          'elk.layered.spacing.nodeNodeBetweenLayers': '70',
          'elk.spacing.nodeNode': '16',
          'elk.spacing.edgeLabel': '4',
          'elk.edgeRouting': 'SPLINES',
        },
        children: nodes.map((n) => ({ id: n.id, ...size(n) })),
        edges: edges
          .filter((e) => nodes.some((n) => n.id === e.from) && nodes.some((n) => n.id === e.to))
          .map((e) => ({
            id: e.id,
            sources: [e.from],
            targets: [e.to],
            labels: e.label ? [{ text: e.label, width: e.label.length * 6 + 6, height: 14 }] : [],
          })),
      };
      const result = await elk.layout(input);
      if (!live) return;
      const byId = new Map(nodes.map((n) => [n.id, n]));
      const edgeById = new Map(edges.map((e) => [e.id, e]));
      setLaid({
        width: (result.width ?? 0) + 8,
        height: (result.height ?? 0) + 8,
        nodes: (result.children ?? []).map((c) => ({
          ...(byId.get(c.id) as GraphNode),
          x: c.x ?? 0,
          y: c.y ?? 0,
          w: c.width ?? 0,
          h: c.height ?? 0,
        })),
        edges: (result.edges ?? []).map((e) => {
          const s = e.sections?.[0];
          const label = e.labels?.[0];
          return {
            ...(edgeById.get(e.id) as GraphEdge),
            points: s ? [s.startPoint, ...(s.bendPoints ?? []), s.endPoint] : [],
            lx: label?.x,
            ly: label?.y,
          };
        }),
      });
    })().catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [nodes, edges]);
  if (error) return <p class="note bad">{error}</p>;
  if (!laid) return <p class="muted">Laying out {title}…</p>;
  return (
    <figure class="graph-wrap" ref={wrap}>
      <figcaption class="sr-only">{title}</figcaption>
      {/* Fits the width it has, down to 60% of its natural size; past that it scrolls. */}
      <svg
        class="graph"
        width="100%"
        viewBox={`-4 -4 ${laid.width} ${laid.height}`}
        style={{ maxWidth: `${laid.width}px`, minWidth: `${Math.round(laid.width * 0.6)}px` }}
      >
        <title>{title}</title>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <g key={e.id} class={`edge${e.dim ? ' dim' : ''}`} data-from={e.from} data-to={e.to}>
            <path d={pathOf(e.points)} marker-end="url(#arrow)" />
            {e.label && e.lx !== undefined && e.ly !== undefined && (
              <text x={e.lx} y={(e.ly ?? 0) + 11} class="edge-label">
                {e.label}
              </text>
            )}
          </g>
        ))}
        {laid.nodes.map((n) => (
          <a
            key={n.id}
            href={n.href}
            class={`node ${n.tone ?? ''}${n.selected ? ' selected' : ''}${n.dim ? ' dim' : ''}`}
            data-node={n.id}
            aria-current={n.selected ? 'true' : undefined}
            onClick={(e) => {
              e.preventDefault();
              route(n.href);
            }}
          >
            <title>{n.sub ? `${n.full ?? n.label} (${n.sub})` : (n.full ?? n.label)}</title>
            <rect x={n.x} y={n.y} width={n.w} height={n.h} rx="6" />
            <text x={n.x + 12} y={n.y + (n.sub ? 18 : 18)}>
              {n.label}
            </text>
            {n.sub && (
              <text x={n.x + 12} y={n.y + 34} class="node-sub">
                {n.sub}
              </text>
            )}
          </a>
        ))}
      </svg>
    </figure>
  );
}

let engine: Promise<ELKApi> | undefined;

/**
 * The layout engine, one per page: ELK compiled to JavaScript (the console's largest piece after Mermaid) runs in a
 * worker, so the page's tables are usable while it loads and lays out.
 */
function layoutEngine(): Promise<ELKApi> {
  engine ??= Promise.all([import('elkjs/lib/elk-api.js'), import('elkjs/lib/elk-worker.min.js?url')]).then(
    ([{ default: ELK }, { default: workerUrl }]) => new ELK({ workerUrl }),
  );
  return engine;
}

function pathOf(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' ');
}
