import { useEffect, useState } from 'preact/hooks';

// Every figure on a page comes from a documented route under /api/v1 (see /api/v1/openapi.json).

const TOKEN_KEY = 'finmesh.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function token(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value: string | null): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event('finmesh-token'));
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const t = token();
  const res = await fetch(`/api/v1${path}`, { headers: t ? { authorization: `Bearer ${t}` } : {}, signal });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiError(res.status, body.error ?? 'HTTP', body.message ?? `${res.status} ${res.statusText}`);
  }
  return (await res.json()) as T;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  /** When the data on the page was answered (ISO time), undefined before the first answer. */
  at?: string | undefined;
}

/**
 * A page that follows the platform as it works (overview, runs, partner files): its route read again whenever a run
 * starts or ends, by server-sent events. `LiveStamp` says when it last changed.
 */
export function useLive<T>(path: string): Loaded<T> {
  return useApi<T>(path, 'live');
}

/**
 * Reads a route, and again: every `refresh` milliseconds while the tab is visible, or with `'live'` whenever the server
 * says runs changed (server-sent events of `GET /api/v1/events`), so a page open while a demo or stream runs follows
 * it without polling. The last good answer stays on the page while the next one loads.
 */
export function useApi<T>(path: string | null, refresh?: number | 'live'): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: true });
  const [tokenVersion, setTokenVersion] = useState(0);
  useEffect(() => {
    const bump = () => setTokenVersion((v) => v + 1);
    window.addEventListener('finmesh-token', bump);
    return () => window.removeEventListener('finmesh-token', bump);
  }, []);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    let timer: number | undefined;
    let loading = false;
    let again = false;
    let stale = false;
    let unsubscribe: (() => void) | undefined;
    const load = async () => {
      if (loading) {
        // A change while a load is under way: one more load after it, however many changes came.
        again = true;
        return;
      }
      loading = true;
      try {
        const data = await get<T>(path, abort.signal);
        setState({ data, error: undefined, loading: false, at: new Date().toISOString() });
        // Live once the route answered: a caller it refuses gets no stream either.
        if (refresh === 'live' && !unsubscribe) unsubscribe = subscribeLive(changed);
      } catch (e) {
        if (abort.signal.aborted) return;
        setState((s) => ({ data: s.data, error: e as Error, loading: false }));
      } finally {
        loading = false;
      }
      if (again && !abort.signal.aborted) {
        again = false;
        void load();
        return;
      }
      if (typeof refresh === 'number' && !abort.signal.aborted) timer = window.setTimeout(tick, refresh);
    };
    const tick = () => {
      if (document.visibilityState === 'visible') void load();
      else timer = window.setTimeout(tick, refresh as number);
    };
    // A hidden tab reloads when it is shown again, once, however many changes it missed.
    const changed = () => {
      if (document.visibilityState === 'visible') void load();
      else stale = true;
    };
    const shown = () => {
      if (stale && document.visibilityState === 'visible') {
        stale = false;
        void load();
      }
    };
    document.addEventListener('visibilitychange', shown);
    setState({ data: undefined, error: undefined, loading: true });
    void load();
    return () => {
      abort.abort();
      window.clearTimeout(timer);
      unsubscribe?.();
      document.removeEventListener('visibilitychange', shown);
    };
  }, [path, refresh, tokenVersion]);
  return state;
}

// One stream of server-sent events for the whole console, open while a page listens. It is read with fetch (not
// EventSource) so the token goes in the Authorization header, as every other request's does.
const liveListeners = new Set<() => void>();
let liveAbort: AbortController | undefined;

function subscribeLive(listener: () => void): () => void {
  liveListeners.add(listener);
  if (!liveAbort) {
    liveAbort = new AbortController();
    void readLive(liveAbort.signal);
  }
  return () => {
    liveListeners.delete(listener);
    if (liveListeners.size === 0) {
      liveAbort?.abort();
      liveAbort = undefined;
    }
  };
}

async function readLive(signal: AbortSignal): Promise<void> {
  let retryMs = 3000;
  let connected = false;
  const notify = () => {
    for (const l of [...liveListeners]) l();
  };
  while (!signal.aborted) {
    try {
      const t = token();
      const res = await fetch('/api/v1/events', {
        headers: { accept: 'text/event-stream', ...(t ? { authorization: `Bearer ${t}` } : {}) },
        signal,
      });
      if (!res.ok || !res.body) throw new Error(`GET /api/v1/events: ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const retry = /^retry: *(\d+)$/m.exec(block)?.[1];
          if (retry) retryMs = Number(retry);
          const event = /^event: *(.*)$/m.exec(block)?.[1];
          if (event === 'runs') notify();
          // Back after a dropped stream: whatever changed meanwhile was not announced, so reload once.
          else if (event === 'ready' && connected) notify();
          if (event === 'ready') connected = true;
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((done) => window.setTimeout(done, retryMs));
  }
}
