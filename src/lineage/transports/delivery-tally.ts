import type { ErrorCode } from '../../core/errors.js';
import { LineageDeliveryError, type TransportCloseReport } from '../transport.js';

export interface Failure {
  /** Failures of one kind are counted together and reported through `onError` once. */
  kind: string;
  /** What happened and where, without a secret: becomes the report line and the error message. */
  reason: string;
  code: ErrorCode;
  status?: number | undefined;
  retrying: boolean;
  /** What `count` counts in the report line. */
  unit: 'event' | 'failed attempt';
  count?: number;
  cause?: unknown;
  /** False for what `close` finds (events left at the deadline): the close report says it, once. Default true. */
  notify?: boolean;
}

/**
 * The bookkeeping every transport shares: events emitted and delivered, failures by kind, `onError` called once per
 * kind so a backend that is down for an hour writes one log line, not one per event.
 */
export class DeliveryTally {
  emitted = 0;
  delivered = 0;
  private readonly failures = new Map<string, { line: string; unit: Failure['unit']; count: number }>();

  constructor(
    private readonly type: string,
    private readonly target: string,
    private readonly onError: ((error: LineageDeliveryError) => void) | undefined,
  ) {}

  fail(f: Failure): void {
    const seen = this.failures.get(f.kind);
    if (seen) {
      seen.count += f.count ?? 1;
      return;
    }
    this.failures.set(f.kind, { line: f.reason, unit: f.unit, count: f.count ?? 1 });
    if (f.notify === false) return;
    const then = f.retrying ? 'retrying with backoff until the transport closes' : 'dropped, not retried';
    const error = new LineageDeliveryError(
      f.code,
      `${f.reason} (${then})`,
      { type: this.type, target: this.target, status: f.status, retrying: f.retrying },
      f.cause === undefined ? undefined : { cause: f.cause },
    );
    try {
      this.onError?.(error);
    } catch {
      // A failing error handler must not turn a lineage problem into a pipeline failure.
    }
  }

  /** An event emitted after `close`: not sent, counted, reported once. */
  refuseClosed(): void {
    this.fail({
      kind: 'closed',
      reason: `emitted after close, not sent to ${this.target}`,
      code: 'CONFLICT',
      retrying: false,
      unit: 'event',
    });
  }

  /** An event dropped because `bufferSize` events already wait: counted, reported once. */
  refuseFull(bufferSize: number): void {
    const reason = `lineage buffer full (${bufferSize} events waiting for ${this.target})`;
    this.fail({ kind: 'buffer-full', reason, code: 'UNAVAILABLE', retrying: false, unit: 'event' });
  }

  report(): TransportCloseReport {
    return {
      type: this.type,
      target: this.target,
      delivered: this.delivered,
      undelivered: this.emitted - this.delivered,
      failures: [...this.failures.values()].map((f) => `${f.line} (${f.count} ${f.unit}${f.count === 1 ? '' : 's'})`),
    };
  }
}
