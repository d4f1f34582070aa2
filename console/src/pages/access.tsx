import { useState } from 'preact/hooks';
import { ApiError, useApi } from '../api';
import { Page, Status } from '../components/page';
import { lineagePath, time } from '../format';

interface Me {
  persona: string;
  principal: string;
  datasets: { dataset: string; columns: { name: string; level: string; rule?: string }[]; rowFilters?: unknown[] }[];
}

interface MatrixRow {
  persona: string;
  dataset: string;
  access: string;
  clear: number;
  masked: number;
  tokenised: number;
  denied: number;
  rowFilter: boolean;
  because: string;
}

/** Who may see what: the caller's own access, and every persona × dataset of the access model. */
export function Access() {
  const me = useApi<Me>('/access');
  const matrix = useApi<{ rows: MatrixRow[] }>('/access/matrix');
  if (me.error instanceof ApiError && me.error.status === 404)
    return (
      <Page title="Access">
        <p class="note" role="status">
          This server does not check who calls it (an embedded server, as the demo's): everyone sees everything. <code>finmesh serve</code>{' '}
          enforces the personas and grants of <code>governance/access.yaml</code>.
        </p>
      </Page>
    );
  return (
    <Page title="Access" state={me}>
      {(m) => {
        const rows = matrix.data?.rows ?? [];
        const personas = [...new Set(rows.map((r) => r.persona))];
        const datasets = [...new Set(rows.map((r) => r.dataset))];
        const cell = new Map(rows.map((r) => [`${r.persona}|${r.dataset}`, r]));
        return (
          <>
            <p class="lede">
              You are <strong data-testid="persona">{m.persona}</strong> ({m.principal}): {m.datasets.length} datasets readable.
            </p>
            <h2>Access matrix</h2>
            {matrix.error && (
              <p class="note warn" role="status">
                {matrix.error.message}
              </p>
            )}
            {rows.length > 0 && (
              <div class="table-wrap">
                <table data-testid="matrix">
                  <thead>
                    <tr>
                      <th scope="col">dataset</th>
                      {personas.map((p) => (
                        <th scope="col" key={p}>
                          {p}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {datasets.map((d) => (
                      <tr key={d}>
                        <th scope="row">
                          <a href={lineagePath(d)}>{d}</a>
                        </th>
                        {personas.map((p) => {
                          const c = cell.get(`${p}|${d}`);
                          return (
                            <td key={p} title={c?.because}>
                              {c && <Status value={c.access} />}
                              {c?.rowFilter && <span class="small"> + row filter</span>}
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        );
      }}
    </Page>
  );
}

interface AuditRecord {
  seq: number;
  at: string;
  kind: string;
  actor: string;
  principal?: string;
  action: string;
  resource: string;
  outcome: string;
  details: Record<string, unknown>;
}

/** The audit trail of the last day, newest first, and whether its hash chain verifies. */
export function Audit() {
  const [since] = useState(() => new Date(Date.now() - 86_400_000).toISOString());
  const state = useApi<{ records: AuditRecord[] }>(`/audit?since=${encodeURIComponent(since)}`, 5000);
  const verify = useApi<{ ok: boolean; problems: { seq: number; problem: string }[] }>('/audit/verify');
  return (
    <Page title="Audit trail" state={state}>
      {(d) => (
        <>
          {verify.data && (
            <p class={`note ${verify.data.ok ? '' : 'bad'}`} role="status" data-testid="chain">
              Hash chain:{' '}
              {verify.data.ok ? 'verifies' : `broken at record ${verify.data.problems[0]?.seq}: ${verify.data.problems[0]?.problem}`}
            </p>
          )}
          <div class="table-wrap">
            <table data-testid="audit">
              <thead>
                <tr>
                  <th scope="col" class="num">
                    seq
                  </th>
                  <th scope="col">at (UTC)</th>
                  <th scope="col">kind</th>
                  <th scope="col">persona</th>
                  <th scope="col">action</th>
                  <th scope="col">resource</th>
                  <th scope="col">outcome</th>
                </tr>
              </thead>
              <tbody>
                {[...d.records].reverse().map((r) => (
                  <tr key={r.seq}>
                    <td class="num">{r.seq}</td>
                    <td>{time(r.at)}</td>
                    <td>{r.kind}</td>
                    <td>
                      {r.actor}
                      {r.principal && <div class="muted small">{r.principal}</div>}
                    </td>
                    <td>{r.action}</td>
                    <td>
                      <code>{r.resource}</code>
                    </td>
                    <td>
                      <Status value={r.outcome} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
