import { useLive } from '../api';
import { LiveStamp, Page, Status } from '../components/page';
import { count, runPath, time } from '../format';

interface Source {
  source: string;
  domain: string;
  host: string;
  expectedDaily: number | null;
  counts: Record<string, number>;
  ledger: { path: string; size: number; sha256: string; status: string; runId: string; seenAt: string }[];
  duplicates: { path: string; sha256: string; firstSeenAs: string | null; seenAt: string }[];
  quarantine: { file: string; line: number; reason: string; raw: string; runId: string }[];
  missingDays: { day: string; expected: number; ingested: number }[];
}

/** Partner files: the ledger of every file seen, duplicates, quarantined rows with reason and raw line, missing days. */
export function PartnerFiles() {
  const state = useLive<{ sources: Source[] }>('/partner-files');
  return (
    <Page title="Partner files" state={state}>
      {(d) => (
        <>
          <LiveStamp state={state} />
          {d.sources.length === 0 ? (
            <p class="muted">The project has no file source.</p>
          ) : (
            d.sources.map((s) => (
              <section key={s.source} aria-labelledby={`src-${s.source}`} data-source={s.source}>
                <h2 id={`src-${s.source}`}>
                  {s.source}{' '}
                  <span class="muted small">
                    {s.domain} · SFTP {s.host} ·{' '}
                    {s.expectedDaily === null ? 'no daily expectation' : `${s.expectedDaily} files expected a day`}
                  </span>
                </h2>
                <p>
                  {Object.entries(s.counts).map(([k, v]) => (
                    <span key={k} class="pill">
                      {k} <strong data-testid={`count-${k}`}>{count(v)}</strong>
                    </span>
                  ))}
                </p>
                {s.missingDays.length > 0 && (
                  <div class="note warn" role="status">
                    Missing files: {s.missingDays.map((m) => `${m.day} (${m.ingested} of ${m.expected})`).join(', ')}
                  </div>
                )}
                <h3>Ledger</h3>
                <div class="table-wrap">
                  <table data-testid="ledger">
                    <thead>
                      <tr>
                        <th scope="col">file</th>
                        <th scope="col">status</th>
                        <th scope="col" class="num">
                          bytes
                        </th>
                        <th scope="col">sha256</th>
                        <th scope="col">seen (UTC)</th>
                        <th scope="col">run</th>
                      </tr>
                    </thead>
                    <tbody>
                      {s.ledger.map((e) => (
                        <tr key={`${e.path}|${e.sha256}`}>
                          <th scope="row">
                            <code>{e.path}</code>
                          </th>
                          <td>
                            <Status value={e.status} />
                          </td>
                          <td class="num">{count(e.size)}</td>
                          <td>
                            <code>{e.sha256.slice(0, 12)}</code>
                          </td>
                          <td>{time(e.seenAt)}</td>
                          <td>
                            <a href={runPath(e.runId)}>
                              <code>{e.runId.slice(0, 8)}</code>
                            </a>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                {s.duplicates.length > 0 && (
                  <>
                    <h3>Duplicates</h3>
                    <ul class="plain">
                      {s.duplicates.map((x) => (
                        <li key={`${x.path}|${x.sha256}`}>
                          <code>{x.path}</code> has the same content as <code>{x.firstSeenAs ?? '?'}</code> (not loaded twice)
                        </li>
                      ))}
                    </ul>
                  </>
                )}
                <h3>Quarantine</h3>
                {s.quarantine.length === 0 ? (
                  <p class="muted">No row was rejected.</p>
                ) : (
                  <div class="table-wrap">
                    <table data-testid="quarantine">
                      <thead>
                        <tr>
                          <th scope="col">file</th>
                          <th scope="col" class="num">
                            line
                          </th>
                          <th scope="col">reason</th>
                          <th scope="col">raw line</th>
                        </tr>
                      </thead>
                      <tbody>
                        {s.quarantine.map((q) => (
                          <tr key={`${q.file}|${q.line}|${q.runId}`}>
                            <th scope="row">
                              <code>{q.file}</code>
                            </th>
                            <td class="num">{q.line}</td>
                            <td>{q.reason}</td>
                            <td>
                              <code class="raw">{q.raw}</code>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
            ))
          )}
        </>
      )}
    </Page>
  );
}
