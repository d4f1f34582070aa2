import { useApi } from '../api';
import { Page, Status } from '../components/page';
import { percent, time } from '../format';

interface SloData {
  slos: {
    name: string;
    service: string;
    sli: string;
    objective: number;
    window: string;
    sliValue: number | null;
    errorBudgetRemaining: number | null;
    burnRates: Record<'1h' | '6h' | '1d' | '3d', number | null>;
    exhausted: boolean;
    owner: string;
    source: string;
    note?: string;
  }[];
}

interface Alerts {
  alerts: { name: string; severity: string; subject: string; summary: string; since: string | null }[];
}

const burn = (v: number | null) => (v === null ? '–' : `${v}×`);

/** SLOs with their error budget and burn rates (Pyrra's view), and the alerts open now. */
export function Slos() {
  const slos = useApi<SloData>('/slos', 5000);
  const alerts = useApi<Alerts>('/alerts', 5000);
  return (
    <Page title="SLOs & alerts" state={slos}>
      {(d) => (
        <>
          <div class="table-wrap">
            <table data-testid="slos">
              <thead>
                <tr>
                  <th scope="col">SLO</th>
                  <th scope="col">SLI</th>
                  <th scope="col" class="num">
                    objective
                  </th>
                  <th scope="col" class="num">
                    SLI value
                  </th>
                  <th scope="col" class="num">
                    budget left
                  </th>
                  <th scope="col" class="num">
                    burn 1 h
                  </th>
                  <th scope="col" class="num">
                    burn 6 h
                  </th>
                  <th scope="col" class="num">
                    burn 1 d
                  </th>
                  <th scope="col">status</th>
                  <th scope="col">owner</th>
                </tr>
              </thead>
              <tbody>
                {d.slos.map((s) => (
                  <tr key={s.name} data-slo={s.name}>
                    <th scope="row">
                      {s.name}
                      <div class="muted small">
                        {s.window} · {s.source}
                      </div>
                    </th>
                    <td>{s.sli}</td>
                    <td class="num">{percent(s.objective, 2)}</td>
                    <td class="num">{percent(s.sliValue, 2)}</td>
                    <td class="num" data-testid="budget">
                      <Budget value={s.errorBudgetRemaining} />
                    </td>
                    <td class="num">{burn(s.burnRates['1h'])}</td>
                    <td class="num">{burn(s.burnRates['6h'])}</td>
                    <td class="num">{burn(s.burnRates['1d'])}</td>
                    <td>
                      <Status value={s.sliValue === null ? 'no data' : s.exhausted ? 'exhausted' : 'ok'} />
                      {s.note && <div class="muted small">{s.note}</div>}
                    </td>
                    <td>{s.owner}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Open alerts</h2>
          {alerts.data === undefined ? (
            <p class="muted">Loading…</p>
          ) : alerts.data.alerts.length === 0 ? (
            <p class="muted">No alert is open.</p>
          ) : (
            <ul class="alerts" data-testid="alerts">
              {alerts.data.alerts.map((a) => (
                <li key={`${a.name}|${a.subject}`}>
                  <Status value={a.severity} /> <code>{a.name}</code> {a.summary}{' '}
                  {a.since && <span class="muted small">since {time(a.since)}</span>}
                </li>
              ))}
            </ul>
          )}
          <p class="muted small">
            Prometheus evaluates the same SLOs continuously from <code>finmesh alerts</code>' rules; this page computes them from stored
            history.
          </p>
        </>
      )}
    </Page>
  );
}

function Budget({ value }: { value: number | null }) {
  if (value === null) return <>–</>;
  const pct = Math.max(0, Math.min(1, value));
  return (
    <span class="budget">
      <span class="bar" aria-hidden="true">
        <span style={{ width: `${pct * 100}%` }} class={value <= 0 ? 'bad' : value < 0.25 ? 'warn' : 'good'} />
      </span>
      {percent(value)}
    </span>
  );
}
