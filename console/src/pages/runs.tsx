import { useMemo } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { useApi, useLive } from '../api';
import { TimeChart } from '../components/chart';
import { LiveStamp, Page, Stat, Status } from '../components/page';
import { count, duration, runPath, time } from '../format';
import { RunsTable } from './product';

interface Run {
  runId: string;
  parentRunId?: string;
  status: string;
  startedAt: string;
  durationMs: number | null;
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  error?: string;
}

interface Jobs {
  jobs: { job: string; kind: string; runs: Run[] }[];
}

/** Every job's runs: a timeline of durations, rows in/out/rejected, failures with their reason; live while a demo runs. */
export function Runs() {
  const { query, route } = useLocation();
  const state = useLive<Jobs>('/runs?limit=50');
  const selected = query.job;
  return (
    <Page title="Runs" state={state}>
      {(d) => {
        const all = d.jobs.flatMap((j) => j.runs);
        const job = d.jobs.find((j) => j.job === selected) ?? d.jobs.find((j) => j.kind === 'model') ?? d.jobs[0];
        return (
          <>
            <section class="stats" aria-label="Totals">
              <Stat label="jobs" value={count(d.jobs.length)} />
              <Stat label="runs shown" value={count(all.length)} testId="runs-shown" />
              <Stat label="failed" value={count(all.filter((r) => r.status === 'failed').length)} testId="runs-failed" />
              <Stat label="running" value={count(all.filter((r) => r.status === 'running').length)} />
            </section>
            <LiveStamp state={state} />
            <div class="table-wrap">
              <table data-testid="jobs">
                <thead>
                  <tr>
                    <th scope="col">job</th>
                    <th scope="col">kind</th>
                    <th scope="col" class="num">
                      runs
                    </th>
                    <th scope="col" class="num">
                      failed
                    </th>
                    <th scope="col">last</th>
                    <th scope="col" class="num">
                      last duration
                    </th>
                    <th scope="col" class="num">
                      rows out (last)
                    </th>
                    <th scope="col">last error</th>
                  </tr>
                </thead>
                <tbody>
                  {d.jobs.map((j) => {
                    const last = j.runs[0];
                    return (
                      <tr key={j.job} data-job={j.job} aria-selected={j.job === job?.job ? 'true' : undefined}>
                        <th scope="row">
                          <a
                            href={`/runs?job=${encodeURIComponent(j.job)}`}
                            onClick={(e) => {
                              e.preventDefault();
                              route(`/runs?job=${encodeURIComponent(j.job)}`);
                            }}
                          >
                            {j.job}
                          </a>
                        </th>
                        <td>{j.kind}</td>
                        <td class="num" data-testid="job-runs">
                          {count(j.runs.length)}
                        </td>
                        <td class="num">{count(j.runs.filter((r) => r.status === 'failed').length)}</td>
                        <td>{last && <Status value={last.status} />}</td>
                        <td class="num">{duration(last?.durationMs)}</td>
                        <td class="num">{count(last?.rowsOut)}</td>
                        <td class="error-text">{last?.status === 'failed' ? last.error : ''}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {job && <JobTimeline job={job.job} runs={job.runs} />}
          </>
        );
      }}
    </Page>
  );
}

function JobTimeline({ job, runs }: { job: string; runs: Run[] }) {
  const chart = useMemo(() => {
    const sorted = [...runs].reverse();
    return {
      x: sorted.map((r) => Date.parse(r.startedAt) / 1000),
      series: [
        { label: 'duration (s)', values: sorted.map((r) => (r.durationMs === null ? null : r.durationMs / 1000)), color: '#2563eb' },
        { label: 'rows out', values: sorted.map((r) => r.rowsOut), color: '#16a34a', bars: true },
      ],
    };
  }, [runs]);
  return (
    <section aria-labelledby="timeline">
      <h2 id="timeline">{job}</h2>
      <TimeChart title={`${job}: duration and rows out per run`} x={chart.x} series={chart.series} />
      <RunsTable runs={runs} job={job} />
    </section>
  );
}

interface RunData {
  run: Run & { job: string; kind: string; endedAt: string | null };
  children: (Run & { job: string })[];
  checks: { checkId: string; product: string; status: string; severity: string; message: string }[];
  logs: { time: string; severity: string; message: string; fields: Record<string, string | number | boolean | null> }[];
}

/** One run: its job, status, rows, the failure in full with its log lines, the runs it started and the checks it ran. */
export function Run() {
  const { params } = useRoute();
  const id = params.runId ?? '';
  const state = useApi<RunData>(`/runs/${encodeURIComponent(id)}`);
  return (
    <Page title={`Run ${id.slice(0, 8)}`} state={state}>
      {(d) => (
        <>
          <dl class="facts">
            <dt>run id</dt>
            <dd>
              <code data-testid="run-id">{d.run.runId}</code>
            </dd>
            <dt>job</dt>
            <dd>
              <a href={`/runs?job=${encodeURIComponent(d.run.job)}`}>{d.run.job}</a> ({d.run.kind})
            </dd>
            <dt>status</dt>
            <dd>
              <Status value={d.run.status} />
            </dd>
            <dt>started</dt>
            <dd>{time(d.run.startedAt)} UTC</dd>
            <dt>ended</dt>
            <dd>{time(d.run.endedAt)} UTC</dd>
            <dt>duration</dt>
            <dd>{duration(d.run.durationMs)}</dd>
            <dt>rows</dt>
            <dd>
              {count(d.run.rowsIn)} in · {count(d.run.rowsOut)} out · {count(d.run.rowsRejected)} rejected
            </dd>
            {d.run.parentRunId && (
              <>
                <dt>started by</dt>
                <dd>
                  <a href={runPath(d.run.parentRunId)}>
                    <code>{d.run.parentRunId}</code>
                  </a>
                </dd>
              </>
            )}
          </dl>
          {d.run.error && (
            <section aria-labelledby="failure">
              <h2 id="failure">Failure</h2>
              <pre class="log" data-testid="run-error">
                {d.run.error}
              </pre>
            </section>
          )}
          <section aria-labelledby="log">
            <h2 id="log">Log</h2>
            {d.logs.length === 0 ? (
              <p class="muted">No log lines were kept with this run (finmesh keeps info, warning and error lines of runs it finishes).</p>
            ) : (
              <div class="table-wrap">
                <table data-testid="run-log">
                  <thead>
                    <tr>
                      <th scope="col">time (UTC)</th>
                      <th scope="col">severity</th>
                      <th scope="col">message</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.logs.map((l, i) => (
                      <tr key={i} data-severity={l.severity}>
                        <td class="small">{time(l.time)}</td>
                        <td>
                          <span class={`badge ${l.severity === 'INFO' ? 'info' : l.severity === 'WARNING' ? 'warn' : 'bad'}`}>
                            {l.severity}
                          </span>
                        </td>
                        <td>
                          <code class="raw">{l.message}</code>
                          {Object.keys(l.fields).length > 0 && (
                            <span class="muted small">
                              {' '}
                              {Object.entries(l.fields)
                                .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
                                .join(' ')}
                            </span>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          {d.checks.length > 0 && (
            <section aria-labelledby="checks">
              <h2 id="checks">Checks</h2>
              <ul class="plain">
                {d.checks.map((c) => (
                  <li key={`${c.product}|${c.checkId}`}>
                    <Status value={c.status} /> {c.product} <code>{c.checkId}</code> <span class="muted small">{c.message}</span>
                  </li>
                ))}
              </ul>
            </section>
          )}
          {d.children.length > 0 && (
            <section aria-labelledby="children">
              <h2 id="children">Runs it started</h2>
              <RunsTable runs={d.children} />
            </section>
          )}
        </>
      )}
    </Page>
  );
}
