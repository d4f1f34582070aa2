import { createHash } from 'node:crypto';
import { type Product, type Project, productId } from '../config/project.js';
import type { ContractVersionStore } from '../metadata/metadata-store.js';
import { type ContractChange, diffContracts, type OdcsContract, type VersionVerdict, versionVerdict } from './contract-diff.js';

/** sha256 of a contract as canonical JSON (keys sorted): comments, key order and layout of the YAML do not count. */
export function contractHash(contract: unknown): string {
  return createHash('sha256').update(canonicalJson(contract)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * Records the contract of every product of a loaded project in the store, when its content is new since the last one
 * recorded; returns the products whose contract was recorded.
 */
export async function recordContractVersions(project: Project, store: ContractVersionStore, at: Date): Promise<string[]> {
  const recorded: string[] = [];
  for (const p of project.products) {
    const seen = { product: productId(p), version: p.contract.version, hash: contractHash(p.contract), contract: p.contract, at };
    if (await store.record(seen)) recorded.push(seen.product);
  }
  return recorded;
}

/** A product's contract over time: each version seen, and what changed from each to the next. */
export interface ContractHistory {
  product: string;
  /** The version the loaded project holds now. */
  current: { version: string; hash: string };
  /** Oldest first. `current` marks the one the project holds now (the last seen, unless it was never recorded). */
  versions: { version: string; hash: string; firstSeenAt: string; current: boolean }[];
  /** Between consecutive versions, oldest first: the changes `finmesh contract diff` finds, and the version verdict. */
  changes: {
    from: { version: string; hash: string };
    to: { version: string; hash: string };
    breaking: boolean;
    version: VersionVerdict;
    changes: ContractChange[];
  }[];
}

/**
 * The history of a product's contract, diffed version by version with `contract diff`'s rules; no versions without a
 * store (a project that never ran).
 */
export async function contractHistory(product: Product, store: ContractVersionStore | undefined): Promise<ContractHistory> {
  const seen = (await store?.list(productId(product))) ?? [];
  const hash = contractHash(product.contract);
  const changes: ContractHistory['changes'] = [];
  for (let i = 1; i < seen.length; i++) {
    const before = seen[i - 1] as (typeof seen)[number];
    const after = seen[i] as (typeof seen)[number];
    const diff = diffContracts(before.contract as OdcsContract, after.contract as OdcsContract);
    changes.push({
      from: { version: before.version, hash: before.hash },
      to: { version: after.version, hash: after.hash },
      breaking: diff.some((c) => c.breaking),
      version: versionVerdict(before.contract as OdcsContract, after.contract as OdcsContract, diff),
      changes: diff,
    });
  }
  return {
    product: productId(product),
    current: { version: product.contract.version, hash },
    versions: seen.map((v, i) => ({
      version: v.version,
      hash: v.hash,
      firstSeenAt: v.firstSeenAt.toISOString(),
      current: i === seen.length - 1 && v.hash === hash,
    })),
    changes,
  };
}
