import { useMemo } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { useApi } from '../api';
import { TimeChart } from '../components/chart';
import { ProductCost } from '../components/cost-benefit';
import { Page, Stat, Status } from '../components/page';
import { age, count, duration, lineagePath, percent, productPath, runPath, time } from '../format';

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
      <ContractVersions product={c.product} />
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

interface ContractHistoryData {
  product: string;
  current: { version: string; hash: string };
  versions: { version: string; hash: string; firstSeenAt: string; current: boolean }[];
  changes: {
    from: { version: string; hash: string };
    to: { version: string; hash: string };
    breaking: boolean;
    version: { ok: boolean; required: string; bump: string; suggested?: string };
    changes: { kind: string; object: string; column: string; breaking: boolean; detail: string }[];
  }[];
}

/** The contract's versions as finmesh met them, and what each changed for consumers (`finmesh contract history`). */
function ContractVersions({ product }: { product: string }) {
  const h = useApi<ContractHistoryData>(`/products/${encodeURIComponent(product)}/contract-history`);
  const d = h.data;
  return (
    <section aria-labelledby="versions" data-testid="contract-history">
      <h2 id="versions">Contract versions</h2>
      {h.error && (
        <p class="note warn" role="alert">
          {h.error.message}
        </p>
      )}
      {d && d.versions.length === 0 && (
        <p class="muted">No version recorded yet: finmesh records the contract when the project runs, serves or validates.</p>
      )}
      {d && d.versions.length > 0 && (
        <div class="table-wrap">
          <table data-testid="contract-versions">
            <thead>
              <tr>
                <th scope="col">version</th>
                <th scope="col">first seen (UTC)</th>
                <th scope="col">content hash</th>
              </tr>
            </thead>
            <tbody>
              {d.versions.map((v) => (
                <tr key={`${v.hash}|${v.firstSeenAt}`} data-version={v.version}>
                  <th scope="row">
                    {v.version} {v.current && <span class="badge info">current</span>}
                  </th>
                  <td>{time(v.firstSeenAt)}</td>
                  <td>
                    <code title={v.hash}>{v.hash.slice(0, 12)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {d &&
        [...d.changes].reverse().map((step) => (
          <div
            key={`${step.from.hash}|${step.to.hash}|${step.to.version}`}
            class="card"
            data-step={`${step.from.version}>${step.to.version}`}
          >
            <h3>
              {step.from.version} → {step.to.version}{' '}
              {step.breaking ? <span class="badge bad">breaking</span> : <span class="badge good">compatible</span>}
            </h3>
            {step.changes.length === 0 ? (
              <p class="muted">No schema change.</p>
            ) : (
              <ul class="plain">
                {step.changes.map((c) => (
                  <li key={`${c.kind}|${c.object}|${c.column}`} data-breaking={String(c.breaking)}>
                    <span class={`badge ${c.breaking ? 'bad' : 'good'}`}>{c.breaking ? 'breaking' : 'ok'}</span> <code>{c.kind}</code>{' '}
                    {c.detail}
                  </li>
                ))}
              </ul>
            )}
            {!step.version.ok && (
              <p class="note warn">
                The version does not say so:{' '}
                {step.version.required === 'major'
                  ? 'a breaking change needs a new major version'
                  : 'a change needs at least a new minor version'}
                {step.version.suggested ? ` (${step.version.suggested})` : ''}.
              </p>
            )}
          </div>
        ))}
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
