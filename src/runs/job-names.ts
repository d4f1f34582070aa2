/**
 * Job names, one spelling for every store: the runs table, OpenLineage events, logs and `finmesh runs --job`. A model
 * or check job is qualified by its domain (`model:payments.transactions`), as lineage has always named it; older
 * runs recorded the bare product name (`model:transactions`), which `jobSpellings` still finds.
 */
export const jobName = {
  model: (product: { domain: string; name: string }) => `model:${product.domain}.${product.name}`,
  check: (product: { domain: string; name: string }) => `check:${product.domain}.${product.name}`,
  ingest: (source: { name: string }) => `ingest:${source.name}`,
  stream: (source: { name: string }) => `stream:${source.name}`,
} as const;

/**
 * Every spelling under which the runs of `job` may be recorded: `model:transactions` and `model:payments.transactions`
 * name the same job when `transactions` is a product of `payments` (product names are unique in a project). The
 * canonical spelling comes first; undefined when `job` names a model or check of no product.
 */
export function jobSpellings(products: { domain: string; name: string }[], job: string): string[] | undefined {
  const m = /^(model|check):(?:([^.]+)\.)?(.+)$/.exec(job);
  if (!m) return [job];
  const [, kind = '', domain, name] = m;
  const product = products.find((p) => p.name === name && (domain === undefined || p.domain === domain));
  if (!product) return undefined;
  return [`${kind}:${product.domain}.${product.name}`, `${kind}:${product.name}`];
}
