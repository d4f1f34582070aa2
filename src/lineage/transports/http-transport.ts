import { type ErrorCode, FinmeshError } from '../../core/errors.js';
import type { RunEvent } from '../openlineage.js';
import {
  CLOSE_TIMEOUT_PER_REQUEST_TIMEOUT,
  DEFAULT_BUFFER_SIZE,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_TIMEOUT_MS,
  type LineageDeliveryError,
  type LineageTransport,
  type TransportCloseReport,
} from '../transport.js';
import { DeliveryTally, type Failure } from './delivery-tally.js';

export interface HttpTransportOptions {
  /** The backend's base URL; events go to `<url>/api/v1/lineage` (Marquez, finmesh serve, any OpenLineage API). */
  url: string;
  /** Events held while the backend is slow or down (default {@link DEFAULT_BUFFER_SIZE}); beyond, new ones are dropped. */
  bufferSize?: number;
  /** Upper bound on one request (default {@link DEFAULT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** How long `close` keeps sending what is queued (default `timeoutMs × CLOSE_TIMEOUT_PER_REQUEST_TIMEOUT`). */
  closeTimeoutMs?: number;
  /** Sent as `Authorization: Bearer <apiKey>`; never appears in a message. */
  apiKey?: string | undefined;
  /** Called once per kind of failure (an HTTP status, a network error code, a full buffer), not once per event. */
  onError?: (error: LineageDeliveryError) => void;
}

/** What one POST came to. */
type Outcome = { delivered: true } | ({ delivered: false } & Failure);

/**
 * Sends events to an OpenLineage HTTP backend in the background, one at a time and in order. `emit` only enqueues.
 * A 2xx is delivered; a 4xx other than 408 and 429 (bad key, bad event, wrong URL, too large) will not heal, so that
 * event is dropped and counted; a network error, a timeout, 408, 429 or 5xx is retried with exponential backoff
 * (from {@link DEFAULT_RETRY_INITIAL_MS} to {@link DEFAULT_RETRY_MAX_MS}) until `close`'s deadline.
 */
export class HttpTransport implements LineageTransport {
  readonly type = 'http';
  readonly target: string;
  private readonly endpoint: string;
  private readonly bufferSize: number;
  private readonly timeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly tally: DeliveryTally;
  private readonly queue: RunEvent[] = [];
  private sending: Promise<void> | undefined;
  /** Set at the close deadline: stop retrying, abort what is in flight. */
  private readonly stop = new AbortController();
  /** Ends a backoff pause early (on close, on stop). */
  private wake: (() => void) | undefined;
  private closing: Promise<TransportCloseReport> | undefined;
  /** Events emitted and dropped because the buffer was full. */
  dropped = 0;

  /** Throws `FinmeshError` `CONFIG_INVALID` when `url` is not a URL or carries credentials. */
  constructor(private readonly options: HttpTransportOptions) {
    const url = parseUrl(options.url);
    url.pathname = `${url.pathname.replace(/\/$/, '')}/api/v1/lineage`;
    this.endpoint = url.toString();
    this.target = printable(url);
    this.bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? this.timeoutMs * CLOSE_TIMEOUT_PER_REQUEST_TIMEOUT;
    this.tally = new DeliveryTally(this.type, this.target, options.onError);
  }

  emit(event: RunEvent): void {
    if (this.closing) {
      this.tally.refuseClosed();
      return;
    }
    this.tally.emitted++;
    if (this.queue.length >= this.bufferSize) {
      this.dropped++;
      this.tally.refuseFull(this.bufferSize);
      return;
    }
    this.queue.push(event);
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
    });
  }

  close(): Promise<TransportCloseReport> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<TransportCloseReport> {
    // A pause in progress may be long (up to DEFAULT_RETRY_MAX_MS): try again now, the deadline is what is left.
    this.wake?.();
    const sending = this.sending;
    if (sending) {
      // A ref'd timer: without it a closed port leaves only unref'd backoff timers, the event loop empties while this
      // is pending, and Node exits with 13 (unsettled top-level await) after the command printed success.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), this.closeTimeoutMs);
      });
      const outcome = await Promise.race([
        sending.then(
          () => 'drained' as const,
          () => 'drained' as const,
        ),
        deadline,
      ]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        this.stop.abort();
        this.wake?.();
      }
    }
    const left = this.queue.splice(0).length;
    if (left > 0)
      this.tally.fail({
        kind: 'deadline',
        reason: `still queued when the close deadline (${this.closeTimeoutMs} ms) passed`,
        code: 'TIMEOUT',
        retrying: false,
        unit: 'event',
        notify: false,
        count: left,
      });
    return this.tally.report();
  }

  private async drain(): Promise<void> {
    let backoff = DEFAULT_RETRY_INITIAL_MS;
    while (this.queue.length > 0 && !this.stop.signal.aborted) {
      const event = this.queue[0] as RunEvent;
      const outcome = await this.post(event);
      if (outcome.delivered) {
        this.tally.delivered++;
        this.queue.shift();
        backoff = DEFAULT_RETRY_INITIAL_MS;
        continue;
      }
      if (this.stop.signal.aborted) return;
      this.tally.fail(outcome);
      if (!outcome.retrying) {
        this.queue.shift();
        continue;
      }
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, DEFAULT_RETRY_MAX_MS);
    }
  }

  /** Waits `ms` on an unref'd timer (a retry loop must not keep a finished process alive), or until woken. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms).unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  /** Never throws: every way a POST can end is an outcome. */
  private async post(event: RunEvent): Promise<Outcome> {
    let body: string;
    try {
      body = JSON.stringify(event);
    } catch (cause) {
      const reason = `an event of job ${event.job?.name} cannot be serialised as JSON for ${this.target}: ${(cause as Error).message}`;
      return { delivered: false, kind: 'unserialisable', reason, code: 'DATA_INVALID', retrying: false, unit: 'event', cause };
    }
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}) },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.stop.signal]),
      });
    } catch (cause) {
      return { delivered: false, ...this.networkFailure(cause) };
    }
    // The body is never read, and an unread body holds its connection.
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return { delivered: true };
    const status = res.status;
    const retrying = status >= 500 || status === 429 || status === 408;
    return {
      delivered: false,
      kind: `http-${status}`,
      reason: `${this.target} answered HTTP ${status}${retrying ? '' : ` (${HINTS[status] ?? (status >= 400 ? 'a 4xx will not heal' : 'not a 2xx')})`}`,
      code: retrying ? 'UNAVAILABLE' : codeOfStatus(status),
      status,
      retrying,
      unit: retrying ? 'failed attempt' : 'event',
    };
  }

  private networkFailure(cause: unknown): Failure {
    const e = cause as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') {
      const reason = `${this.target} did not answer within ${this.timeoutMs} ms`;
      return { kind: 'network-timeout', reason, code: 'UNAVAILABLE', retrying: true, unit: 'failed attempt' };
    }
    // fetch says only "fetch failed"; what went wrong is in its cause: an errno code, or a reason such as "bad port".
    const what = this.redact(e.cause?.code ?? e.cause?.message ?? e.message);
    return {
      kind: `network-${what}`,
      reason: `cannot reach ${this.target}: ${what}`,
      code: 'UNAVAILABLE',
      retrying: true,
      unit: 'failed attempt',
      // Kept as redacted text: fetch's own error may quote the URL with its query.
      cause: what,
    };
  }

  /** Error texts from fetch may quote the URL (with its query, which may carry a token) or, in theory, a header. */
  private redact(text: string): string {
    let out = text.split(this.endpoint).join(this.target).split(this.options.url).join(this.target);
    if (this.options.apiKey) out = out.split(this.options.apiKey).join('[REDACTED]');
    return out;
  }
}

const HINTS: Record<number, string> = {
  400: 'the backend refused the event as malformed',
  401: 'check the API key',
  403: 'the API key may not write lineage',
  404: 'check the URL: it should be the base URL, /api/v1/lineage is added',
  413: 'the event is larger than the backend accepts',
};

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'PERMISSION';
  if (status === 404) return 'NOT_FOUND';
  return 'DATA_INVALID';
}

/** Throws `CONFIG_INVALID` for a URL that is not one or that carries credentials (fetch refuses those). */
function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new FinmeshError('CONFIG_INVALID', 'lineage http transport: expected an http(s) URL for url, found something else', { cause });
  }
  if (url.username || url.password) {
    throw new FinmeshError(
      'CONFIG_INVALID',
      `lineage http transport: expected a URL without credentials, found user:password@ in ${printable(url)} (put the key in apiKey, a secret reference)`,
    );
  }
  return url;
}

/** The URL without credentials, query or fragment: what a log line may show. */
function printable(url: URL): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString();
}
