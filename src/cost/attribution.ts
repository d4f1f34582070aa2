import type { Project } from '../config/project.js';

/** Who a usage row is for: the domain, product or source, and the cost centre that pays. */
export interface Attribution {
  domain?: string | undefined;
  product?: string | undefined;
  source?: string | undefined;
  costCenter?: string | undefined;
}

/** What a lake dataset (`<domain>/<zone>/<name>`) belongs to: a product (silver, gold) or a source (landing, bronze, quarantine). */
export interface DatasetOwner {
  dataset: string;
  domain: string;
  zone: string;
  product?: string | undefined;
  source?: string | undefined;
}

/**
 * Resolves attribution from the project: a product's cost centre is its contract's `costCenter`, else its domain's; a
 * source's is its domain's. Datasets map to the product that builds them or the source that lands in them.
 */
export class Attributor {
  private readonly datasets = new Map<string, DatasetOwner>();

  constructor(private readonly project: Project) {
    for (const p of project.products) {
      const key = `${p.dataset.domain}/${p.dataset.zone}/${p.dataset.name}`;
      this.datasets.set(key, { dataset: key, domain: p.domain, zone: p.dataset.zone, product: p.name });
    }
    for (const s of project.sources) {
      for (const zone of ['landing', 'bronze', 'quarantine']) {
        const key = `${s.domain}/${zone}/${s.dataset.name}`;
        if (!this.datasets.has(key)) this.datasets.set(key, { dataset: key, domain: s.domain, zone, source: s.name });
      }
    }
  }

  /** The product or source a dataset key belongs to; an unknown one keeps its domain and zone from the key. */
  owner(dataset: string): DatasetOwner {
    const known = this.datasets.get(dataset);
    if (known) return known;
    const [domain = '', zone = ''] = dataset.split('/');
    return { dataset, domain, zone };
  }

  /** Completes an attribution: the domain of a product or source, and the cost centre. */
  complete(a: Attribution): Attribution {
    const product = a.product ? this.project.products.find((p) => p.name === a.product) : undefined;
    const source = a.source ? this.project.sources.find((s) => s.name === a.source) : undefined;
    const domainName = a.domain ?? product?.domain ?? source?.domain;
    const domain = domainName ? this.project.domains.find((d) => d.name === domainName) : undefined;
    return {
      domain: domainName,
      product: a.product,
      source: a.source,
      costCenter: a.costCenter ?? product?.settings.costCenter ?? domain?.config.costCenter,
    };
  }
}

/** The component a metric family reports on, for the monitoring bill (`finmesh_model_runs_total` → `transform`). */
export function familyComponent(family: string): string {
  const name = family.replace(/^finmesh_/, '');
  const rules: [RegExp, string][] = [
    [/^(source|stream|event_to_bronze)_/, 'stream'],
    [/^bus_/, 'bus'],
    [/^(sftp|file_rows|quarantine|ingest)_/, 'ingest'],
    [/^(model|dataset|event_to_gold)_/, 'transform'],
    [/^check_/, 'check'],
    [/^lake_/, 'lake'],
    [/^job_/, 'runs'],
    [/^http_/, 'server'],
    [/^(cost|budget|metrics_series)_/, 'cost'],
    [/^simulator_/, 'demo'],
    [/^(process|nodejs)_/, 'process'],
  ];
  return rules.find(([r]) => r.test(name))?.[1] ?? 'process';
}
