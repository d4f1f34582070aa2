import type { InputField, RunEvent } from './openlineage.js';

export interface DatasetNode {
  namespace: string;
  name: string;
  /** Other names it answers to (SQL names from symlinks). */
  aliases: string[];
  fields: string[];
}

export interface ColumnEdge {
  from: { dataset: string; field: string };
  to: { dataset: string; field: string };
  transformations: InputField['transformations'];
}

const id = (ns: string, name: string) => `${ns}:${name}`;

/**
 * The lineage graph, folded from stored OpenLineage events (finmesh's and any producer's): datasets, jobs with
 * their latest inputs and outputs, and column edges from the latest columnLineage of each output.
 */
export class LineageGraph {
  readonly datasets = new Map<string, DatasetNode>();
  readonly jobs = new Map<string, { namespace: string; name: string; inputs: Set<string>; outputs: Set<string> }>();
  /** Output column key (`dataset id|field`) → its inputs. */
  private readonly columnInputs = new Map<string, ColumnEdge[]>();
  private readonly alias = new Map<string, string>();

  static fromEvents(events: unknown[]): LineageGraph {
    const g = new LineageGraph();
    for (const e of events) g.add(e as RunEvent);
    return g;
  }

  add(e: RunEvent): void {
    const jobId = id(e.job.namespace, e.job.name);
    const job = this.jobs.get(jobId) ?? {
      namespace: e.job.namespace,
      name: e.job.name,
      inputs: new Set<string>(),
      outputs: new Set<string>(),
    };
    this.jobs.set(jobId, job);
    for (const d of e.inputs ?? []) job.inputs.add(this.dataset(d).key);
    for (const d of e.outputs ?? []) {
      const { key } = this.dataset(d);
      job.outputs.add(key);
      const cl = d.facets?.columnLineage as { fields?: Record<string, { inputFields?: InputField[] }>; dataset?: InputField[] } | undefined;
      if (!cl?.fields || e.eventType !== 'COMPLETE') continue;
      for (const [field, { inputFields = [] }] of Object.entries(cl.fields)) {
        const edges = inputFields.map((f) => ({
          from: { dataset: id(f.namespace, f.name), field: f.field },
          to: { dataset: key, field },
          transformations: f.transformations ?? [],
        }));
        // What shaped every row (filters, joins, grouping) shapes each column too.
        for (const f of cl.dataset ?? [])
          edges.push({
            from: { dataset: id(f.namespace, f.name), field: f.field },
            to: { dataset: key, field },
            transformations: f.transformations ?? [],
          });
        this.columnInputs.set(`${key}|${field}`, edges);
      }
    }
  }

  /** Finds a dataset by SQL name, `namespace:name`, or name. */
  resolve(name: string): string | undefined {
    if (this.datasets.has(name)) return name;
    const a = this.alias.get(name);
    if (a) return a;
    for (const [k, d] of this.datasets) if (d.name === name) return k;
    return undefined;
  }

  label(key: string): string {
    const d = this.datasets.get(key);
    return d?.aliases[0] ?? d?.name ?? key;
  }

  /** Column lineage walk: upstream follows inputs, downstream follows consumers, up to `depth` hops. */
  columns(dataset: string, field: string, direction: 'upstream' | 'downstream', depth: number): ColumnEdge[] {
    const out: ColumnEdge[] = [];
    const seen = new Set<string>();
    let frontier = [{ dataset, field }];
    for (let d = 0; d < depth && frontier.length > 0; d++) {
      const next: { dataset: string; field: string }[] = [];
      for (const c of frontier) {
        const edges =
          direction === 'upstream' ? (this.columnInputs.get(`${c.dataset}|${c.field}`) ?? []) : this.consumersOf(c.dataset, c.field);
        for (const e of edges) {
          const k = `${e.from.dataset}|${e.from.field}>${e.to.dataset}|${e.to.field}`;
          if (seen.has(k)) continue;
          seen.add(k);
          out.push(e);
          next.push(direction === 'upstream' ? e.from : e.to);
        }
      }
      frontier = next;
    }
    return out;
  }

  /** Dataset walk through jobs: pairs (from → to) with the job between them. */
  datasetEdges(dataset: string, direction: 'upstream' | 'downstream', depth: number): { from: string; job: string; to: string }[] {
    const out: { from: string; job: string; to: string }[] = [];
    const seen = new Set<string>();
    let frontier = [dataset];
    for (let d = 0; d < depth && frontier.length > 0; d++) {
      const next: string[] = [];
      for (const ds of frontier) {
        for (const [jobKey, job] of this.jobs) {
          const pairs =
            direction === 'upstream'
              ? job.outputs.has(ds)
                ? [...job.inputs].map((i) => ({ from: i, job: jobKey, to: ds }))
                : []
              : job.inputs.has(ds)
                ? [...job.outputs].map((o) => ({ from: ds, job: jobKey, to: o }))
                : [];
          for (const p of pairs) {
            const k = `${p.from}>${p.job}>${p.to}`;
            if (seen.has(k)) continue;
            seen.add(k);
            out.push(p);
            next.push(direction === 'upstream' ? p.from : p.to);
          }
        }
      }
      frontier = next;
    }
    return out;
  }

  private consumersOf(dataset: string, field: string): ColumnEdge[] {
    const out: ColumnEdge[] = [];
    for (const edges of this.columnInputs.values())
      for (const e of edges) if (e.from.dataset === dataset && e.from.field === field) out.push(e);
    return out;
  }

  private dataset(d: { namespace: string; name: string; facets?: Record<string, unknown> }): { key: string } {
    const key = id(d.namespace, d.name);
    const node = this.datasets.get(key) ?? { namespace: d.namespace, name: d.name, aliases: [], fields: [] };
    const symlinks = (d.facets?.symlinks as { identifiers?: { name: string }[] } | undefined)?.identifiers ?? [];
    for (const s of symlinks) {
      if (!node.aliases.includes(s.name)) node.aliases.push(s.name);
      this.alias.set(s.name, key);
    }
    const schema = (d.facets?.schema as { fields?: { name: string }[] } | undefined)?.fields;
    if (schema && schema.length > 0) node.fields = schema.map((f) => f.name);
    this.datasets.set(key, node);
    return { key };
  }
}
