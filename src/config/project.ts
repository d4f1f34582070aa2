import { FinmeshError } from '../core/errors.js';
import type { AccessModel } from './access-schema.js';
import type { Contract, DomainConfig, Materialization, ProductSettings, ProjectConfig, SourceConfig, Zone } from './schema.js';

/** A dataset in the lake: `<domain>_<zone>.<name>` in SQL, `<domain>/<zone>/<name>/` in storage. */
export interface DatasetRef {
  domain: string;
  zone: Zone;
  name: string;
}

export function sqlName(d: DatasetRef): string {
  return `${d.domain}_${d.zone}.${d.name}`;
}

export function datasetKey(d: DatasetRef): string {
  return `${d.domain}/${d.zone}/${d.name}`;
}

export function parseSqlName(name: string): DatasetRef | undefined {
  const m = /^([a-z][a-z0-9_]*?)_(landing|bronze|silver|gold|quarantine)\.([a-z][a-z0-9_]*)$/.exec(name);
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  return { domain: m[1], zone: m[2] as Zone, name: m[3] };
}

export interface Source {
  name: string;
  domain: string;
  /** File path relative to the project root. */
  file: string;
  config: SourceConfig;
  dataset: DatasetRef;
}

export interface Product {
  name: string;
  domain: string;
  dir: string;
  contractFile: string;
  modelFile: string | undefined;
  contract: Contract;
  settings: ProductSettings;
  materialized: Materialization;
  dataset: DatasetRef;
  /** Owner from the contract's team (role owner), else the domain's owner team. */
  owner: string | undefined;
  /** The owner the contract itself names (team member with role owner); what the ownership policy checks. */
  contractOwner: string | undefined;
}

export interface Domain {
  name: string;
  dir: string;
  file: string;
  config: DomainConfig;
}

/** A loaded and validated finmesh project. */
export interface Project {
  root: string;
  /** The configuration of the target this project runs on (`targets.<name>` applied over the top level). */
  config: ProjectConfig;
  /** The target's name: `local` unless `--target`, FINMESH_TARGET or finmesh.yaml's `target` says otherwise. */
  target: string;
  domains: Domain[];
  sources: Source[];
  products: Product[];
  /** Product folders that exist but did not load (their problems are reported on their own). */
  unloadedProducts: string[];
  /** `governance/access.yaml`: personas, grants, masking, principals; undefined when the project has none. */
  access?: AccessModel | undefined;
  /** `policies/*.yaml`: rules the project's users wrote (CEL), checked by `policy check`, `validate` and before runs. */
  userPolicies?: UserPolicyFile[] | undefined;
}

/** One `policies/*.yaml` file as written (validated by `src/mesh/user-policies.ts`, which needs the whole project). */
export interface UserPolicyFile {
  /** Relative to the project root. */
  file: string;
  doc: unknown;
}

/** A product's name across finmesh: `domain.name`. */
export function productId(p: Product): string {
  return `${p.domain}.${p.name}`;
}

/** A product by `domain.name` or its dataset's SQL name; `NOT_FOUND` naming the products there are. */
export function findProduct(project: Project, id: string): Product {
  const p = project.products.find((x) => productId(x) === id || sqlName(x.dataset) === id);
  if (!p) throw new FinmeshError('NOT_FOUND', `no product "${id}" (products: ${project.products.map(productId).join(', ')})`);
  return p;
}
