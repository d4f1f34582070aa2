import { z } from 'zod';
import { type Product, type Project, sqlName } from '../config/project.js';
import { buildDag } from '../engine/dag.js';

/**
 * The Open Data Product Standard (Bitol ODPS) v1.0.0 document shape finmesh writes: the required keys and the
 * closed objects (no unknown keys), so an export that drifts from the standard fails here, in the tests.
 */
const customProperty = z.object({ property: z.string(), value: z.unknown(), description: z.string().optional() }).strict();
export const odpsSchema = z
  .object({
    apiVersion: z.enum(['v0.9.0', 'v1.0.0']),
    kind: z.literal('DataProduct'),
    id: z.string().min(1),
    name: z.string().optional(),
    version: z.string().optional(),
    status: z.string(),
    domain: z.string().optional(),
    tenant: z.string().optional(),
    description: z
      .object({ purpose: z.string().optional(), limitations: z.string().optional(), usage: z.string().optional() })
      .strict()
      .optional(),
    customProperties: z.array(customProperty).optional(),
    tags: z.array(z.string()).optional(),
    inputPorts: z.array(z.object({ name: z.string(), version: z.string(), contractId: z.string() }).strict()).optional(),
    outputPorts: z
      .array(
        z
          .object({
            name: z.string(),
            description: z.string().optional(),
            type: z.string().optional(),
            version: z.string(),
            contractId: z.string().optional(),
            inputContracts: z.array(z.object({ id: z.string(), version: z.string() }).strict()).optional(),
          })
          .strict(),
      )
      .optional(),
    managementPorts: z
      .array(
        z
          .object({
            name: z.string(),
            content: z.string(),
            type: z.string().optional(),
            url: z.url().optional(),
            description: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    support: z
      .array(
        z
          .object({
            channel: z.string(),
            url: z.url(),
            description: z.string().optional(),
            tool: z.string().optional(),
            scope: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    team: z
      .array(z.object({ username: z.string().optional(), name: z.string().optional(), role: z.string().optional() }).strict())
      .optional(),
  })
  .strict();
export type OdpsDocument = z.infer<typeof odpsSchema>;

/**
 * A product as an ODPS v1.0.0 data product: its contract is the output port's promise (`contractId`), the
 * products it reads are input ports with their contracts, sources (which carry no ODCS contract) are listed as a
 * custom property, the owner team and on-call become team and support, and the HTTP API's catalog and lineage
 * endpoints are management ports.
 */
export function productToOdps(project: Project, product: Product, o: { apiUrl?: string } = {}): OdpsDocument {
  const { dag } = buildDag(project);
  const node = dag.byName.get(product.name);
  const domain = project.domains.find((d) => d.name === product.domain);
  const c = product.contract;
  const inputs = node?.refs ?? [];
  const api = o.apiUrl ?? `http://${project.config.server.host}:${project.config.server.port}`;
  const id = `${product.domain}.${product.name}`;
  const doc: OdpsDocument = {
    apiVersion: 'v1.0.0',
    kind: 'DataProduct',
    // The contract already uses `<project>.<domain>.<product>`; the product's id says it is the product.
    id: `${project.config.name}.${id}.product`,
    name: product.name,
    version: c.version,
    status: c.status,
    domain: product.domain,
    tenant: project.config.name,
    description: {
      ...(c.description?.purpose ? { purpose: c.description.purpose } : {}),
      ...(c.description?.usage ? { usage: c.description.usage } : {}),
    },
    tags: [product.dataset.zone, ...classificationsOf(product)],
    ...(inputs.length > 0
      ? { inputPorts: inputs.map((p) => ({ name: `${p.domain}.${p.name}`, version: p.contract.version, contractId: p.contract.id })) }
      : {}),
    outputPorts: [
      {
        name: sqlName(product.dataset),
        description: `${product.dataset.zone} ${product.materialized}, Parquet in the lake and a SQL view`,
        type: 'tables',
        version: c.version,
        contractId: c.id,
        ...(inputs.length > 0 ? { inputContracts: inputs.map((p) => ({ id: p.contract.id, version: p.contract.version })) } : {}),
      },
    ],
    managementPorts: [
      {
        name: 'catalog',
        content: 'discoverability',
        type: 'rest',
        url: `${api}/api/v1/catalog`,
        description: 'owner, schema, freshness, quality, lineage',
      },
      {
        name: 'lineage',
        content: 'observability',
        type: 'rest',
        url: `${api}/api/v1/lineage`,
        description: 'OpenLineage: POST RunEvents, GET the lineage graph',
      },
      { name: 'metrics', content: 'observability', type: 'rest', url: `${api}/metrics`, description: 'Prometheus metrics' },
    ],
    team: (c.team?.members ?? []).map((m) => ({ username: m.username, ...(m.role ? { role: m.role } : {}) })),
    customProperties: [
      { property: 'ownerTeam', value: domain?.config.owner.team ?? product.domain },
      ...(product.owner ? [{ property: 'owner', value: product.owner }] : []),
      ...(node && node.sources.length > 0
        ? [{ property: 'sources', value: node.sources.map((s) => s.name), description: 'finmesh sources read (bronze)' }]
        : []),
      { property: 'materialized', value: product.materialized },
      ...(product.settings.consumers.length > 0 ? [{ property: 'consumers', value: product.settings.consumers }] : []),
      ...((product.settings.costCenter ?? domain?.config.costCenter)
        ? [{ property: 'costCenter', value: product.settings.costCenter ?? domain?.config.costCenter }]
        : []),
      { property: 'contractFile', value: product.contractFile },
    ],
  };
  const email = domain?.config.owner.email;
  if (email) doc.support = [{ channel: domain.config.owner.team, url: `mailto:${email}`, tool: 'email', scope: 'issues' }];
  if (domain?.config.onCall) doc.customProperties?.push({ property: 'onCall', value: domain.config.onCall });
  return doc;
}

function classificationsOf(product: Product): string[] {
  const set = new Set<string>();
  for (const p of product.contract.schema[0]?.properties ?? [])
    if (p.classification && p.classification !== 'public' && p.classification !== 'internal') set.add(p.classification);
  return [...set].sort();
}
