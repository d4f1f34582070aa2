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
}

/**
 * Reads a route, again every `pollMs` while the tab is visible (live updates while a demo or stream runs); the last
 * good answer stays on the page while the next one loads.
 */
export function useApi<T>(path: string | null, pollMs?: number): Loaded<T> {
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
    setState((s) => ({ ...s, loading: true, ...(s.data === undefined ? {} : {}) }));
    const load = async () => {
      try {
        const data = await get<T>(path, abort.signal);
        setState({ data, error: undefined, loading: false });
      } catch (e) {
        if (abort.signal.aborted) return;
        setState((s) => ({ data: s.data, error: e as Error, loading: false }));
      }
      if (pollMs && !abort.signal.aborted) timer = window.setTimeout(tick, pollMs);
    };
    const tick = () => {
      if (document.visibilityState === 'visible') void load();
      else timer = window.setTimeout(tick, pollMs);
    };
    setState({ data: undefined, error: undefined, loading: true });
    void load();
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, [path, pollMs, tokenVersion]);
  return state;
}
