import type { Product } from '../config/project.js';
import { durationOf } from '../core/duration.js';

/** The contract's freshness SLO: `slaProperties` latency (or frequency) with a unit (minutes when none is given). */
export function freshnessSlo(product: Product): { ms: number; text: string } | undefined {
  const sla = (product.contract.slaProperties ?? []).find(
    (p) => p.property === 'latency' || p.property === 'freshness' || p.property === 'frequency',
  );
  if (!sla) return undefined;
  const unit = String(sla.unit ?? 'm');
  const ms = durationOf(sla.value, unit, `${product.contractFile}: slaProperties ${sla.property}`);
  return { ms, text: `${sla.value}${unit}` };
}
