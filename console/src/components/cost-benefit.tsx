import { ApiError, type Loaded, useApi } from '../api';
import { count, money } from '../format';
import { Stat, Status } from './page';

/** `GET /api/v1/costs/benefit` (= `finmesh cost benefit --json`): cost against use per product, least worth keeping first. */
export interface CostBenefit {
  month: string;
  currency: string;
  products: {
    rank: number;
    product: string;
    verdict: string;
    cost: { monthToDate: number; forecast: number };
    use: { reads: number; readers: string[]; downstream: string[]; consumers: string[] };
    businessValue?: number;
    why: string;
  }[];
}

export function useCostBenefit(): Loaded<CostBenefit> {
  return useApi<CostBenefit>('/costs/benefit');
}

/** Why the cost-benefit could not be read (a persona without the cost permission sees that, not an empty table). */
export function CostBenefitError({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p class="note warn" role="alert">
      {error instanceof ApiError && error.status === 403 ? 'Your persona may not see costs: ' : ''}
      {error.message}
    </p>
  );
}

/** What one product costs this month and whether it is worth it: its row of the cost-benefit, once metered. */
export function ProductCost({ product }: { product: string }) {
  const benefit = useCostBenefit();
  const b = benefit.data;
  const mine = b?.products.find((p) => p.product === product);
  const metered = mine !== undefined && (mine.cost.monthToDate > 0 || mine.cost.forecast > 0);
  return (
    <section aria-labelledby="cost" data-testid="product-cost">
      <h2 id="cost">Cost and cost-benefit</h2>
      <CostBenefitError error={benefit.error} />
      {b && !mine && <p class="muted">No cost-benefit row for this product.</p>}
      {b && mine && !metered && <p class="muted">Not metered yet in {b.month}: nothing priced for this product.</p>}
      {b && mine && metered && (
        <>
          <section class="stats" aria-label="Cost">
            <Stat label={`month to date (${b.month})`} value={money(mine.cost.monthToDate, b.currency)} testId="product-cost-mtd" />
            <Stat label="forecast to the month's end" value={money(mine.cost.forecast, b.currency)} testId="product-cost-forecast" />
            <Stat label="reads this month" value={count(mine.use.reads)} />
            <Stat label={`rank of ${b.products.length} (least worth keeping first)`} value={mine.rank} testId="product-cost-rank" />
          </section>
          <p>
            <Status value={mine.verdict} /> <span data-testid="product-cost-why">{mine.why}</span>
          </p>
          <p class="small">
            <a href="/cost">Every product's cost</a>
          </p>
        </>
      )}
    </section>
  );
}
