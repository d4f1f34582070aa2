import { useMemo } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useApi } from '../api';
import { Graph, type GraphEdge, type GraphNode } from '../components/graph';
import { Page } from '../components/page';
import { lineagePath, productPath } from '../format';

interface GraphData {
  datasets: { id: string; name: string; namespace: string; zone: string | null; product: string | null; fields: string[] }[];
  jobs: { id: string; name: string; inputs: string[]; outputs: string[] }[];
  edges: { from: string; to: string; job: string }[];
}

interface Transformation {
  type: string;
  subtype: string;
  description?: string;
  masking?: boolean;
}

interface Explored {
  target: string;
  direction: string;
  nodes: string[];
  edges: { from: string; to: string; via?: string; transformations?: Transformation[] }[];
  impact?: { products: { product: string; dataset: string; owner?: string; consumers: string[] }[]; consumers: string[] };
}

/** Dataset and column lineage: the graph, a dataset's columns and neighbours, a column's origin, and the impact of a change. */
export function Lineage() {
  const { query } = useLocation();
  const dataset = query.dataset;
  const column = query.column;
  const graph = useApi<GraphData>('/lineage/graph');
  const target = dataset ? `${dataset}${column ? `.${column}` : ''}` : null;
  const up = useApi<Explored>(target ? `/lineage/explore?target=${encodeURIComponent(target)}` : null);
  const down = useApi<Explored>(target ? `/lineage/explore?target=${encodeURIComponent(target)}&direction=downstream` : null);
  return (
    <Page title={column ? `Lineage of ${dataset}.${column}` : dataset ? `Lineage of ${dataset}` : 'Lineage'} state={graph}>
      {(g) => (
        <>
          {!dataset && (
            <p class="lede">Choose a dataset in the graph: its columns, where each comes from, and what a change to it reaches.</p>
          )}
          {!column && <DatasetGraph g={g} selected={dataset} />}
          {dataset && !column && <DatasetPanel g={g} dataset={dataset} up={up.data} down={down.data} />}
          {dataset && column && <ColumnPanel dataset={dataset} column={column} up={up.data} down={down.data} g={g} />}
          {(up.error || down.error) && (
            <p class="note bad" role="alert">
              {(up.error ?? down.error)?.message}
            </p>
          )}
        </>
      )}
    </Page>
  );
}

function DatasetGraph({ g, selected }: { g: GraphData; selected?: string | undefined }) {
  const { nodes, edges } = useMemo(() => {
    const related = new Set<string>();
    if (selected) {
      related.add(selected);
      // Everything upstream and downstream of the selection stays lit.
      for (const dir of ['up', 'down'] as const) {
        let frontier = [selected];
        while (frontier.length > 0) {
          const next: string[] = [];
          for (const n of frontier)
            for (const e of g.edges) {
              const [a, b] = dir === 'up' ? [e.to, e.from] : [e.from, e.to];
              if (a === n && !related.has(b)) {
                related.add(b);
                next.push(b);
              }
            }
          frontier = next;
        }
      }
    }
    // With a dataset chosen, the graph is its lineage: everything upstream and downstream of it.
    const shown = g.datasets.filter((d) => selected === undefined || related.has(d.name));
    const nodes: GraphNode[] = shown.map((d) => ({
      id: d.name,
      label: shortName(d.name),
      full: d.name,
      sub: d.product ? `${d.zone ?? ''} · product ${d.product}` : (d.zone ?? d.namespace),
      href: lineagePath(d.name),
      tone: d.zone ?? 'other',
      selected: d.name === selected,
    }));
    const seen = new Set<string>();
    const edges: GraphEdge[] = [];
    for (const e of g.edges) {
      const id = `${e.from}>${e.to}`;
      if (seen.has(id) || (selected !== undefined && !(related.has(e.from) && related.has(e.to)))) continue;
      seen.add(id);
      edges.push({ id, from: e.from, to: e.to, label: e.job.replace(/^\w+:/, '') });
    }
    return { nodes, edges };
  }, [g, selected]);
  return (
    <section aria-label="Dataset lineage graph">
      <p class="muted small">
        {selected ? (
          <>
            {nodes.length} of {g.datasets.length} datasets are upstream or downstream of {selected} (<a href="/lineage">all datasets</a>);{' '}
          </>
        ) : (
          <>{g.datasets.length} datasets; </>
        )}
        {edges.length} edges. Each box links to its dataset.
      </p>
      <Graph nodes={nodes} edges={edges} title="dataset lineage" />
    </section>
  );
}

function DatasetPanel({ g, dataset, up, down }: { g: GraphData; dataset: string; up?: Explored | undefined; down?: Explored | undefined }) {
  const d = g.datasets.find((x) => x.name === dataset);
  return (
    <div class="grid2">
      <section aria-labelledby="columns">
        <h2 id="columns">Columns of {dataset}</h2>
        {d?.product && (
          <p>
            Product <a href={productPath(d.product)}>{d.product}</a>
          </p>
        )}
        {d && d.fields.length > 0 ? (
          <ul class="columns" data-testid="columns">
            {d.fields.map((f) => (
              <li key={f}>
                <a href={lineagePath(dataset, f)}>{f}</a>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No schema recorded.</p>
        )}
      </section>
      <section aria-labelledby="neighbours">
        <h2 id="neighbours">Upstream</h2>
        <EdgeTable edges={up?.edges} testId="upstream-edges" />
        <h2>Downstream</h2>
        <EdgeTable edges={down?.edges} testId="downstream-edges" />
        {down?.impact && <Impact impact={down.impact} />}
      </section>
    </div>
  );
}

function ColumnPanel({
  dataset,
  column,
  up,
  down,
  g,
}: {
  dataset: string;
  column: string;
  up?: Explored | undefined;
  down?: Explored | undefined;
  g: GraphData;
}) {
  const target = `${dataset}.${column}`;
  const origins = useMemo(() => {
    if (!up) return [];
    const derived = new Set(up.edges.map((e) => e.to));
    return [...new Set(up.edges.map((e) => e.from))].filter((n) => !derived.has(n));
  }, [up]);
  const { nodes, edges } = useMemo(() => {
    const all = [...(up?.edges ?? []), ...(down?.edges ?? [])];
    const ids = new Set<string>([target, ...all.flatMap((e) => [e.from, e.to])]);
    const split = (n: string) => {
      const i = n.lastIndexOf('.');
      return { dataset: n.slice(0, i), column: n.slice(i + 1) };
    };
    const zone = (ds: string) => g.datasets.find((x) => x.name === ds)?.zone ?? 'other';
    const nodes: GraphNode[] = [...ids].map((id) => {
      const s = split(id);
      return {
        id,
        label: s.column,
        sub: s.dataset,
        href: lineagePath(s.dataset, s.column),
        tone: zone(s.dataset),
        selected: id === target,
      };
    });
    const seen = new Set<string>();
    const edges: GraphEdge[] = [];
    for (const e of all) {
      const id = `${e.from}>${e.to}`;
      if (seen.has(id)) continue;
      seen.add(id);
      edges.push({ id, from: e.from, to: e.to, label: (e.transformations ?? []).map((t) => t.subtype.toLowerCase()).join(', ') });
    }
    return { nodes, edges };
  }, [up, down, target, g]);
  return (
    <>
      <p>
        <a href={lineagePath(dataset)}>Back to {dataset}</a>
      </p>
      <section aria-labelledby="origin">
        <h2 id="origin">Origin</h2>
        {up === undefined ? (
          <p class="muted">Loading…</p>
        ) : origins.length === 0 ? (
          <p class="muted">No upstream column recorded: {target} is where it starts.</p>
        ) : (
          <ul class="plain" data-testid="origins">
            {origins.map((o) => {
              const i = o.lastIndexOf('.');
              return (
                <li key={o}>
                  <a href={lineagePath(o.slice(0, i), o.slice(i + 1))} data-name={o} title={o}>
                    {shortName(o.slice(0, i))}.{o.slice(i + 1)}
                  </a>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {up !== undefined && <Graph nodes={nodes} edges={edges} title={`column lineage of ${target}`} />}
      <div class="grid2">
        <section aria-labelledby="col-up">
          <h2 id="col-up">Derived from</h2>
          <EdgeTable edges={up?.edges} testId="column-upstream" columns />
        </section>
        <section aria-labelledby="col-down">
          <h2 id="col-down">Feeds</h2>
          <EdgeTable edges={down?.edges} testId="column-downstream" columns />
          {down?.impact && <Impact impact={down.impact} />}
        </section>
      </div>
    </>
  );
}

function EdgeTable({ edges, testId, columns }: { edges?: Explored['edges'] | undefined; testId: string; columns?: boolean }) {
  if (!edges) return <p class="muted">Loading…</p>;
  if (edges.length === 0) return <p class="muted">None recorded.</p>;
  const link = (n: string) => {
    const i = n.lastIndexOf('.');
    const href = columns ? lineagePath(n.slice(0, i), n.slice(i + 1)) : lineagePath(n);
    const text = columns ? `${shortName(n.slice(0, i))}.${n.slice(i + 1)}` : shortName(n);
    return (
      <a href={href} data-name={n} title={text === n ? undefined : n}>
        {text}
      </a>
    );
  };
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">from</th>
            <th scope="col">to</th>
            <th scope="col">{columns ? 'transformation' : 'job'}</th>
          </tr>
        </thead>
        <tbody>
          {edges.map((e) => (
            <tr key={`${e.from}>${e.to}`}>
              <td>{link(e.from)}</td>
              <td>{link(e.to)}</td>
              <td>
                {columns
                  ? (e.transformations ?? [])
                      .map((t) => `${t.type.toLowerCase()} ${t.subtype.toLowerCase()}${t.masking ? ' (masked)' : ''}`)
                      .join(', ')
                  : (e.via ?? '')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Impact({ impact }: { impact: NonNullable<Explored['impact']> }) {
  return (
    <div class="card" data-testid="impact">
      <h3>
        Impact of a change: {impact.products.length} product{impact.products.length === 1 ? '' : 's'}, {impact.consumers.length} consumer
        {impact.consumers.length === 1 ? '' : 's'}
      </h3>
      <ul class="plain">
        {impact.products.map((p) => (
          <li key={p.product}>
            <a href={productPath(p.product)}>{p.product}</a> <span class="muted small">owner {p.owner ?? '–'}</span>
            {p.consumers.length > 0 && <span class="small"> · consumers {p.consumers.join(', ')}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A file or object path (a source's table, a partner file, a lake folder) by its last two parts; SQL names whole. */
function shortName(name: string): string {
  if (!name.includes('/')) return name;
  const parts = name.split('/').filter(Boolean);
  return `…/${parts.slice(-2).join('/')}`;
}
