import { type ErrorCode, FinmeshError } from '../core/errors.js';
import type { RunEvent } from './openlineage.js';

/**
 * A send-only lineage transport (the OpenLineage client's shape): the local metadata store keeps the graph, a
 * transport copies each run event to one more place (a JSON-lines file, an OpenLineage HTTP backend, Google Cloud
 * Data Lineage). Lineage is a side channel: a transport never blocks, fails or slows a pipeline, and a backend that
 * is down costs at most the transport's close deadline when the process ends.
 *
 * Lifecycle: created by `createTransports` (src/lineage/registry.ts) from `finmesh.yaml: lineage.transports`, fed
 * by `emit` for the life of the process, closed once by `close`.
 */
export interface LineageTransport {
  /** The config discriminator that chose this adapter (`file`, `http`, `gcp`). */
  readonly type: string;
  /**
   * Where events go, safe to print in a log line: a file path, the endpoint URL without credentials or query, the
   * `projects/<p>/locations/<l>` parent. Never carries a secret.
   */
  readonly target: string;
  /**
   * Hands one event over and returns at once. Never throws and never waits on a remote backend: network adapters
   * queue the event (at most `bufferSize` of them, default {@link DEFAULT_BUFFER_SIZE}) and send it in the background,
   * in emit order; the file adapter appends it to a local file before returning. An event the transport cannot take (buffer full, after `close`) is dropped and counted as undelivered. A
   * failure is reported through the adapter's `onError` once per kind of failure (one HTTP status, one network
   * error code), never once per event, as a {@link LineageDeliveryError}.
   */
  emit(event: RunEvent): void;
  /**
   * Delivers what is still queued, then stops. Resolves (never rejects) within the transport's close deadline
   * (`closeTimeoutMs`, default twice the request timeout for HTTP, {@link DEFAULT_CLOSE_TIMEOUT_MS} otherwise) even
   * when the backend never answers: at the deadline retries stop and what is left is reported, not sent. Holds the
   * process open until it resolves, so `await close()` at the end of a command always settles. Calling it again
   * returns the same report. Events emitted after `close` are dropped: reported once through `onError`, not
   * counted, as the report is final.
   */
  close(): Promise<TransportCloseReport>;
}

/** What a transport did with the events it was given: enough for the caller to print one warning. */
export interface TransportCloseReport {
  /** The transport's `type`. */
  type: string;
  /** The transport's `target`: no secret. */
  target: string;
  /** Events the backend accepted (appended to the file, answered 2xx, acknowledged by the API). */
  delivered: number;
  /**
   * Events emitted and not known to be delivered: rejected by the backend, dropped for a full buffer, or still
   * queued when the close deadline passed. `delivered + undelivered` is every event emitted before `close`.
   */
  undelivered: number;
  /**
   * One line per kind of failure, naming its cause (status, error code, the close deadline), with its count: events for
   * failures that dropped events, failed attempts for those that were retried (even when a retry then succeeded).
   * Empty when nothing failed.
   */
  failures: string[];
}

/** Events a network transport holds while its backend is slow or down; beyond this, new events are dropped. */
export const DEFAULT_BUFFER_SIZE = 10_000;
/** Upper bound on one request to a backend. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** How long `close` waits for queued events when the adapter has no request timeout to derive it from. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** The HTTP transport's close deadline is this many request timeouts (`timeoutMs × 2` by default). */
export const CLOSE_TIMEOUT_PER_REQUEST_TIMEOUT = 2;
/** First pause before retrying a retryable failure; it doubles on each failure in a row. */
export const DEFAULT_RETRY_INITIAL_MS = 200;
/** Longest pause between retries. */
export const DEFAULT_RETRY_MAX_MS = 10_000;

/**
 * A failure to deliver lineage, as a transport reports it through `onError`. The message names the target and the
 * cause (an HTTP status, an error code) and never a secret. `retrying` says whether the transport keeps trying
 * (network errors, 5xx, 429) or has dropped the events that met it (4xx: they will not heal).
 */
export class LineageDeliveryError extends FinmeshError {
  readonly type: string;
  readonly target: string;
  /** The HTTP status the backend answered, when it answered. */
  readonly status: number | undefined;
  readonly retrying: boolean;
  constructor(
    code: ErrorCode,
    message: string,
    fields: { type: string; target: string; status?: number | undefined; retrying: boolean },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'LineageDeliveryError';
    this.type = fields.type;
    this.target = fields.target;
    this.status = fields.status;
    this.retrying = fields.retrying;
  }
}

/** The one warning line a report deserves, or undefined when every event was delivered. */
export function describeUndelivered(report: TransportCloseReport): string | undefined {
  if (report.undelivered === 0) return undefined;
  const total = report.delivered + report.undelivered;
  const why = report.failures.length > 0 ? `: ${report.failures.join('; ')}` : '';
  return `lineage: ${report.undelivered} of ${total} events not delivered to ${report.target} (${report.type} transport)${why}`;
}
