import { useLocation } from 'preact-iso';
import { useApi } from '../api';
import { CostBenefitError, useCostBenefit } from '../components/cost-benefit';
import { Page, Stat, Status } from '../components/page';
import { money, productPath } from '../format';

interface Spend {
  monthToDate: number;
  forecast: number;
}

interface CostReport {
  month: string;
  currency: string;
  region: string;
  by: string;
  total: Spend;
  shared: Spend;
  rows: (Spend & {
    name: string;
    domain?: string;
    costCenter?: string;
    direct?: number;
    upstream?: number;
    services: Record<string, number>;
  })[];
}

const DIMENSIONS = ['product', 'domain', 'component', 'source', 'cost-center'] as const;

/** What the platform costs on the price sheet: month to date and forecast, by product, domain, component, source or cost centre; cost against use. */
export function Cost() {
  const { query } = useLocation();
  const by = (DIMENSIONS as readonly string[]).includes(query.by ?? '') ? (query.by as string) : 'product';
  const report = useApi<CostReport>(`/costs?by=${by}`, 10_000);
  const benefit = useCostBenefit();
  return (
    <Page title="Cost" state={report}>
      {(r) => (
        <>
          <section class="stats" aria-label="Totals">
            <Stat label={`month to date (${r.month})`} value={money(r.total.monthToDate, r.currency)} testId="cost-mtd" />
            <Stat label="forecast to the month's end" value={money(r.total.forecast, r.currency)} testId="cost-forecast" />
            <Stat label="shared (no product or source)" value={money(r.shared.monthToDate, r.currency)} />
          </section>
          <p class="muted small">Priced on the price sheet for {r.region}; see docs/cost.md for what is metered.</p>
          <nav aria-label="Group by">
            {DIMENSIONS.map((d) => (
              <a key={d} href={`/cost?by=${d}`} class="pill" aria-current={d === by ? 'page' : undefined}>
                by {d}
              </a>
            ))}
          </nav>
          <div class="table-wrap">
            <table data-testid="cost-rows">
              <thead>
                <tr>
                  <th scope="col">{by}</th>
                  <th scope="col" class="num">
                    month to date
                  </th>
                  <th scope="col" class="num">
                    forecast
                  </th>
                  {by === 'product' && (
                    <>
                      <th scope="col" class="num">
                        own
                      </th>
                      <th scope="col" class="num">
                        share of upstream
                      </th>
                    </>
                  )}
                  <th scope="col">services</th>
                </tr>
              </thead>
              <tbody>
                {r.rows.map((x) => (
                  <tr key={x.name} data-row={x.name}>
                    <th scope="row">{by === 'product' ? <a href={productPath(x.name)}>{x.name}</a> : x.name}</th>
                    <td class="num" data-testid="mtd">
                      {money(x.monthToDate, r.currency)}
                    </td>
                    <td class="num">{money(x.forecast, r.currency)}</td>
                    {by === 'product' && (
                      <>
                        <td class="num">{money(x.direct, r.currency)}</td>
                        <td class="num">{money(x.upstream, r.currency)}</td>
                      </>
                    )}
                    <td class="small">
                      {Object.entries(x.services)
                        .map(([k, v]) => `${k} ${money(v, r.currency)}`)
                        .join(' · ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Cost against use</h2>
          <CostBenefitError error={benefit.error} />
          {benefit.data && (
            <div class="table-wrap">
              <table data-testid="benefit">
                <thead>
                  <tr>
                    <th scope="col" class="num">
                      rank
                    </th>
                    <th scope="col">product</th>
                    <th scope="col">verdict</th>
                    <th scope="col" class="num">
                      forecast
                    </th>
                    <th scope="col" class="num">
                      reads
                    </th>
                    <th scope="col">why</th>
                  </tr>
                </thead>
                <tbody>
                  {benefit.data.products.map((p) => (
                    <tr key={p.product}>
                      <td class="num">{p.rank}</td>
                      <th scope="row">
                        <a href={productPath(p.product)}>{p.product}</a>
                      </th>
                      <td>
                        <Status value={p.verdict} />
                      </td>
                      <td class="num">{money(p.cost.forecast, benefit.data?.currency ?? r.currency)}</td>
                      <td class="num">{p.use.reads}</td>
                      <td class="small">{p.why}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </Page>
  );
}
