import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { ApiError, type Loaded, setToken } from '../api';
import { time } from '../format';

/** A page: its title (also the document's), and the loading and error states of the route it reads. */
export function Page<T>(props: {
  title: string;
  state?: Loaded<T>;
  actions?: ComponentChildren;
  children?: ComponentChildren | ((data: T) => ComponentChildren);
}) {
  useEffect(() => {
    document.title = `${props.title} · finmesh`;
  }, [props.title]);
  const s = props.state;
  return (
    <>
      <header class="page-head">
        <h1>{props.title}</h1>
        {props.actions}
      </header>
      {s?.error && <ErrorNote error={s.error} />}
      {s && s.data === undefined && !s.error && (
        <p class="muted" aria-live="polite">
          Loading…
        </p>
      )}
      {typeof props.children === 'function' ? s?.data !== undefined && props.children(s.data) : props.children}
    </>
  );
}

function ErrorNote({ error }: { error: Error }) {
  if (error instanceof ApiError && error.status === 401) return <TokenForm message={error.message} />;
  if (error instanceof ApiError && error.status === 403)
    return (
      <p class="note warn" role="alert">
        Your persona may not see this: {error.message}
      </p>
    );
  return (
    <p class="note bad" role="alert">
      {error.message}
    </p>
  );
}

/** Asks for an API token of governance/access.yaml; kept in this browser only. */
export function TokenForm({ message }: { message?: string }) {
  return (
    <form
      class="note token-form"
      onSubmit={(e) => {
        e.preventDefault();
        const v = new FormData(e.currentTarget).get('token');
        setToken(typeof v === 'string' && v.trim() ? v.trim() : null);
      }}
    >
      <p>{message ?? 'This server needs a token.'}</p>
      <label>
        API token <input name="token" type="password" autocomplete="off" required />
      </label>{' '}
      <button type="submit">Sign in</button>
    </form>
  );
}

export function Status({ value }: { value: string | null | undefined }) {
  const v = value ?? 'none';
  const tone =
    v === 'succeeded' || v === 'pass' || v === 'ok' || v === 'ingested' || v === 'allow' || v === 'clear' || v === 'keep'
      ? 'good'
      : v === 'failed' ||
          v === 'fail' ||
          v === 'error' ||
          v === 'exhausted' ||
          v === 'quarantined' ||
          v === 'page' ||
          v === 'deny' ||
          v === 'denied' ||
          v === 'retire-or-merge'
        ? 'bad'
        : v === 'running'
          ? 'info'
          : 'warn';
  return <span class={`badge ${tone}`}>{v}</span>;
}

export function Stat({ label, value, testId }: { label: string; value: ComponentChildren; testId?: string }) {
  return (
    <div class="stat">
      <div class="stat-value" data-testid={testId}>
        {value}
      </div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

/** When a live page last read its route (`useLive`): read again whenever a run starts or ends. */
export function LiveStamp({ state }: { state: Loaded<unknown> }) {
  return (
    <p class="muted small" aria-live="polite" data-testid="live-stamp">
      Updated {time(state.at)} UTC · follows runs as they start and end
    </p>
  );
}
