import { useMemo } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { ApiError, useApi } from '../api';
import { TimeChart } from '../components/chart';
import { Page, Stat, Status } from '../components/page';
import { age, count, duration, lineagePath, money, percent, productPath, runPath, time } from '../format';

interface ProductData {
  catalog: {
    product: string;
    domain: string;
    zone: string;
    owner?: string;
    onCall?: string;
    costCenter?: string;
    description?: string;
    contract: { id: string; version: string; status: string; file: string };
    outputPorts: { type: string; name: string; format?: string }[];
    schema: { name: string; type?: string; classification?: string; description?: string; access?: string }[];
    slos: { property: string; value: unknown; unit?: string }[];
    freshness: { lastUpdated: string | null; ageSeconds: number | null; slo: string | null; withinSlo: boolean | null };
    quality: { checks: number; runLast7Days: number; passedLast7Days: number; score: number | null };
    lineage: { upstream: string[]; downstream: string[] };
    consumers: string[];
  };
  dataset: string;
  rows: number | null;
  contract: { apiVersion?: string; tags: string[] };
  slos: {
    name: string;
    sli: string;
    objective: number;
    window: string;
    sliValue: number | null;
    errorBudgetRemaining: number | null;
    burnRates: Record<string, number | null>;
    exhausted: boolean;
    note?: string;
  }[];
  budgetHistory: { slo: string; points: { at: string; errorBudgetRemaining: number | null }[] }[];
  quality: {
    runId: string;
    at: string;
    passed: number;
    failed: number;
    errors: number;
    results: { checkId: string; column?: string; status: string; severity: string; message: string }[];
  }[];
  freshnessHistory: { at: string; gapSeconds: number | null }[];
  runs: {
    runId: string;
    status: string;
    startedAt: string;
    durationMs: number | null;
    rowsIn: number;
    rowsOut: number;
    rowsRejected: number;
    error?: string;
  }[];
}

const secs = (iso: string) => Date.parse(iso) / 1000;

/** A data product: owner, contract and schema, quality and freshness over time, SLOs with their error budget, lineage. */
export function Product() {
  const { params } = useRoute();
  const id = params.id ?? '';
  const state = useApi<ProductData>(`/products/${encodeURIComponent(id)}`);
  return (
    <Page title={`Product ${id}`} state={state}>
      {(d) => <ProductBody d={d} />}
    </Page>
  );
}

function ProductBody({ d }: { d: ProductData }) {
  const c = d.catalog;
  const quality = useMemo(
    () => ({
      x: d.quality.map((q) => secs(q.at)),
      series: [
        { label: 'passed', values: d.quality.map((q) => q.passed), color: '#16a34a', bars: true },
        { label: 'failed', values: d.quality.map((q) => q.failed + q.errors), color: '#dc2626', bars: true },
      ],
    }),
    [d],
  );
  const freshness = useMemo(
    () => ({
      x: d.freshnessHistory.map((f) => secs(f.at)),
      series: [{ label: 'seconds since the previous update', values: d.freshnessHistory.map((f) => f.gapSeconds), color: '#2563eb' }],
    }),
    [d],
  );
  const latest = d.quality.at(-1);
  return (
    <>
      <p class="lede">{c.description ?? <span class="muted">No description in the contract.</span>}</p>
      <section class="stats" aria-label="Summary">
        <Stat label="rows" value={count(d.rows)} testId="product-rows" />
        <Stat label="last updated" value={age(c.freshness.ageSeconds)} />
        <Stat label="quality score (7 d)" value={percent(c.quality.score)} />
        <Stat label="checks declared" value={count(c.quality.checks)} />
      </section>
      <div class="grid2">
        <section aria-labelledby="about">
          <h2 id="about">About</h2>
          <dl class="facts">
            <dt>domain</dt>
            <dd>{c.domain}</dd>
            <dt>zone</dt>
            <dd>
              <span class={`zone ${c.zone}`}>{c.zone}</span>
            </dd>
            <dt>owner</dt>
            <dd>{c.owner ?? '–'}</dd>
            <dt>on call</dt>
            <dd>{c.onCall ?? '–'}</dd>
            <dt>cost center</dt>
            <dd>{c.costCenter ?? '–'}</dd>
            <dt>SQL</dt>
            <dd>
              <code>{d.dataset}</code>
            </dd>
            <dt>contract</dt>
            <dd>
              {c.contract.id} v{c.contract.version} <Status value={c.contract.status} /> <span class="muted small">{c.contract.file}</span>
            </dd>
            <dt>consumers</dt>
            <dd>{c.consumers.length > 0 ? c.consumers.join(', ') : '–'}</dd>
          </dl>
        </section>
        <section aria-labelledby="lineage">
          <h2 id="lineage">Lineage</h2>
          <p>
            <a href={lineagePath(d.dataset)}>Open {d.dataset} in the lineage explorer</a>
          </p>
          <h3>Upstream</h3>
          <LinkList items={c.lineage.upstream} />
          <h3>Downstream</h3>
          <LinkList items={c.lineage.downstream} />
        </section>
      </div>
      <section aria-labelledby="schema">
        <h2 id="schema">Schema</h2>
        <div class="table-wrap">
          <table data-testid="schema">
            <thead>
              <tr>
                <th scope="col">column</th>
                <th scope="col">type</th>
                <th scope="col">classification</th>
                {c.schema.some((s) => s.access) && <th scope="col">your access</th>}
                <th scope="col">description</th>
                <th scope="col">lineage</th>
              </tr>
            </thead>
            <tbody>
              {c.schema.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    <code>{s.name}</code>
                  </th>
                  <td>{s.type ?? '–'}</td>
                  <td>{s.classification ? <span class={`class ${s.classification}`}>{s.classification}</span> : '–'}</td>
                  {c.schema.some((x) => x.access) && <td>{s.access ?? 'denied'}</td>}
                  <td>{s.description ?? ''}</td>
                  <td>
                    <a href={lineagePath(d.dataset, s.name)}>
                      origin<span class="sr-only"> of {s.name}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="slos">
        <h2 id="slos">SLOs</h2>
        {d.slos.length === 0 && <p class="muted">No SLO is declared for this product.</p>}
        {d.slos.map((s) => {
          const h = d.budgetHistory.find((b) => b.slo === s.name);
          return (
            <div key={s.name} class="card">
              <h3>
                {s.name} <Status value={s.sliValue === null ? 'no data' : s.exhausted ? 'exhausted' : 'ok'} />
              </h3>
              <p>
                {s.sli}: objective {percent(s.objective, 2)} over {s.window}; SLI {percent(s.sliValue, 2)}; error budget left{' '}
                <strong data-testid={`budget-${s.name}`}>{percent(s.errorBudgetRemaining)}</strong>; burn 1 h {s.burnRates['1h'] ?? '–'}×, 1
                d {s.burnRates['1d'] ?? '–'}×
              </p>
              {s.note && <p class="muted small">{s.note}</p>}
              {h && <BudgetChart title={`${s.name}: error budget left`} points={h.points} />}
            </div>
          );
        })}
      </section>
      <div class="grid2">
        <section aria-labelledby="quality">
          <h2 id="quality">Quality over time</h2>
          <TimeChart title="checks per run" x={quality.x} series={quality.series} yLabel="checks" />
          {latest && (
            <>
              <h3>Latest run's checks</h3>
              <ul class="plain">
                {latest.results.map((r) => (
                  <li key={r.checkId}>
                    <Status value={r.status} /> <code>{r.checkId}</code> <span class="muted small">{r.message}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
        <section aria-labelledby="freshness">
          <h2 id="freshness">Freshness</h2>
          <p>
            Last updated {time(c.freshness.lastUpdated)} ({age(c.freshness.ageSeconds)}){c.freshness.slo ? `; SLO ${c.freshness.slo}` : ''}
          </p>
          <TimeChart title="time between updates" x={freshness.x} series={freshness.series} yLabel="s" />
        </section>
      </div>
      <ProductCost product={c.product} />
      <section aria-labelledby="runs">
        <h2 id="runs">Recent runs</h2>
        <RunsTable runs={d.runs.slice(0, 10)} />
      </section>
    </>
  );
}

interface Benefit {
  month: string;
  currency: string;
  products: {
    rank: number;
    product: string;
    verdict: string;
    cost: { monthToDate: number; forecast: number };
    use: { reads: number; readers: string[]; downstream: string[]; consumers: string[] };
    why: string;
  }[];
}

/** What the product costs this month and whether it is worth it: its row of `finmesh cost benefit`, once metered. */
function ProductCost({ product }: { product: string }) {
  const benefit = useApi<Benefit>('/costs/benefit');
  const b = benefit.data;
  const mine = b?.products.find((p) => p.product === product);
  const metered = mine !== undefined && (mine.cost.monthToDate > 0 || mine.cost.forecast > 0);
  return (
    <section aria-labelledby="cost" data-testid="product-cost">
      <h2 id="cost">Cost and cost-benefit</h2>
      {benefit.error && (
        <p class="note warn" role="alert">
          {benefit.error instanceof ApiError && benefit.error.status === 403 ? 'Your persona may not see costs: ' : ''}
          {benefit.error.message}
        </p>
      )}
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

function BudgetChart({ title, points }: { title: string; points: { at: string; errorBudgetRemaining: number | null }[] }) {
  const data = useMemo(
    () => ({
      x: points.map((p) => secs(p.at)),
      series: [
        {
          label: 'budget left (%)',
          values: points.map((p) => (p.errorBudgetRemaining === null ? null : Math.round(p.errorBudgetRemaining * 1000) / 10)),
          color: '#7c3aed',
        },
      ],
    }),
    [points],
  );
  return <TimeChart title={title} x={data.x} series={data.series} yLabel="%" />;
}

function LinkList({ items }: { items: string[] }) {
  if (items.length === 0) return <p class="muted">None.</p>;
  return (
    <ul class="plain">
      {items.map((i) => (
        <li key={i}>
          <a href={lineagePath(i)}>{i}</a>
        </li>
      ))}
    </ul>
  );
}

export function RunsTable({ runs, job }: { runs: ProductData['runs']; job?: string }) {
  if (runs.length === 0) return <p class="muted">No run yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">run</th>
            <th scope="col">status</th>
            <th scope="col">started (UTC)</th>
            <th scope="col" class="num">
              duration
            </th>
            <th scope="col" class="num">
              rows in
            </th>
            <th scope="col" class="num">
              rows out
            </th>
            <th scope="col" class="num">
              rejected
            </th>
            <th scope="col">error</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.runId} data-run={r.runId}>
              <th scope="row">
                <a href={runPath(r.runId)} aria-label={`run ${r.runId}${job ? ` of ${job}` : ''}`}>
                  <code>{r.runId.slice(0, 8)}</code>
                </a>
              </th>
              <td>
                <Status value={r.status} />
              </td>
              <td>{time(r.startedAt)}</td>
              <td class="num">{duration(r.durationMs)}</td>
              <td class="num">{count(r.rowsIn)}</td>
              <td class="num">{count(r.rowsOut)}</td>
              <td class="num">{count(r.rowsRejected)}</td>
              <td class="error-text">{r.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export { productPath };
