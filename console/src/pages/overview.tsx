import { useLive } from '../api';
import { LiveStamp, Page, Stat, Status } from '../components/page';
import { age, count, percent, productPath, runPath } from '../format';

interface ProductHealth {
  product: string;
  domain: string;
  zone: string;
  dataset: string;
  owner?: string;
  rows: number | null;
  freshness: { lastUpdated: string | null; ageSeconds: number | null; slo: string | null; withinSlo: boolean | null };
  lastRun: { runId: string; status: string; startedAt: string; durationMs: number | null } | null;
  checks: { checks: number; runLast7Days: number; passedLast7Days: number; score: number | null };
  slo: { name: string; errorBudgetRemaining: number | null; exhausted: boolean } | null;
}

export interface OverviewData {
  project: string;
  description?: string;
  generatedAt: string;
  domains: { name: string; owner: string; products: number; sources: number }[];
  products: ProductHealth[];
  totals: { products: number; datasets: number; rows: number; runs: number; failedRuns: number; openAlerts: number };
  alerts: { name: string; severity: string; subject: string; summary: string; since: string | null }[];
}

/** The mesh at a glance, following runs as they start and end while a demo or stream runs. */
export function Overview() {
  const state = useLive<OverviewData>('/overview');
  return (
    <Page title="Overview" state={state}>
      {(d) => (
        <>
          <p class="lede">
            <strong>{d.project}</strong> {d.description}
          </p>
          <section class="stats" aria-label="Totals">
            <Stat label="products" value={count(d.totals.products)} testId="total-products" />
            <Stat label="datasets" value={count(d.totals.datasets)} testId="total-datasets" />
            <Stat label="rows in the lake" value={count(d.totals.rows)} testId="total-rows" />
            <Stat label="runs" value={count(d.totals.runs)} testId="total-runs" />
            <Stat label="failed runs" value={count(d.totals.failedRuns)} testId="total-failed" />
            <Stat label="open alerts" value={count(d.totals.openAlerts)} testId="total-alerts" />
          </section>
          <LiveStamp state={state} />
          <h2>Open alerts</h2>
          {d.alerts.length === 0 ? (
            <p class="muted">No alert is open.</p>
          ) : (
            <ul class="alerts">
              {d.alerts.map((a) => (
                <li key={`${a.name}|${a.subject}`}>
                  <Status value={a.severity} /> <code>{a.name}</code> {a.summary}
                </li>
              ))}
            </ul>
          )}
          {d.domains.map((dom) => (
            <section key={dom.name} aria-labelledby={`domain-${dom.name}`}>
              <h2 id={`domain-${dom.name}`}>
                {dom.name}{' '}
                <span class="muted small">
                  owner {dom.owner} · {dom.sources} sources
                </span>
              </h2>
              <div class="table-wrap">
                <table data-testid={`products-${dom.name}`}>
                  <thead>
                    <tr>
                      <th scope="col">product</th>
                      <th scope="col">zone</th>
                      <th scope="col" class="num">
                        rows
                      </th>
                      <th scope="col">freshness</th>
                      <th scope="col">last run</th>
                      <th scope="col">checks (7 d)</th>
                      <th scope="col">SLO budget left</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.products
                      .filter((p) => p.domain === dom.name)
                      .map((p) => (
                        <tr key={p.product} data-product={p.product}>
                          <th scope="row">
                            <a href={productPath(p.product)}>{p.product}</a>
                            <div class="muted small">{p.dataset}</div>
                          </th>
                          <td>
                            <span class={`zone ${p.zone}`}>{p.zone}</span>
                          </td>
                          <td class="num" data-testid="rows">
                            {count(p.rows)}
                          </td>
                          <td>
                            {age(p.freshness.ageSeconds)}
                            {p.freshness.slo && (
                              <div class="small">
                                SLO {p.freshness.slo}{' '}
                                {p.freshness.withinSlo === false ? (
                                  <Status value="late" />
                                ) : p.freshness.withinSlo ? (
                                  <Status value="ok" />
                                ) : null}
                              </div>
                            )}
                          </td>
                          <td>
                            {p.lastRun ? (
                              <a href={runPath(p.lastRun.runId)}>
                                <Status value={p.lastRun.status} />
                              </a>
                            ) : (
                              <span class="muted">never</span>
                            )}
                          </td>
                          <td>
                            {p.checks.runLast7Days > 0
                              ? `${count(p.checks.passedLast7Days)}/${count(p.checks.runLast7Days)} passed`
                              : `${p.checks.checks} declared`}
                          </td>
                          <td data-testid="budget">
                            {p.slo ? (
                              <>
                                {percent(p.slo.errorBudgetRemaining)} {p.slo.exhausted && <Status value="exhausted" />}
                              </>
                            ) : (
                              <span class="muted">no SLO</span>
                            )}
                          </td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              </div>
            </section>
          ))}
        </>
      )}
    </Page>
  );
}
