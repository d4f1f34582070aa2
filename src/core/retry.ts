import { FinmeshError } from './errors.js';
import { sleep } from './sleep.js';

/** How a call that may fail for a moment is tried again. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). */
  attempts: number;
  /** Wait before the second attempt (default 500 ms); doubles after each failure… */
  initialDelayMs: number;
  /** …up to this (default 10 s). */
  maxDelayMs: number;
  /** Whether an error is worth another attempt (default: anything but PERMISSION, CONFIG_INVALID, DATA_INVALID). */
  retryable?: (e: unknown) => boolean;
  /** Called before each wait, e.g. to log or count a retry. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal | undefined;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, initialDelayMs: 500, maxDelayMs: 10_000 };

const FINAL = new Set(['PERMISSION', 'CONFIG_INVALID', 'DATA_INVALID']);

/** The default test of whether an error may heal by itself. */
export function isTransient(e: unknown): boolean {
  return !(e instanceof FinmeshError && FINAL.has(e.code));
}

/**
 * Runs `fn` until it succeeds or the policy's attempts are spent, waiting with exponential backoff in between.
 * A final error is rethrown as it is; when attempts run out the last error is wrapped in `UNAVAILABLE` whose
 * message says how many attempts were made.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: Partial<RetryPolicy> = {}): Promise<T> {
  const p = { ...DEFAULT_RETRY, ...policy };
  const retryable = p.retryable ?? isTransient;
  let last: unknown;
  let delay = p.initialDelayMs;
  for (let attempt = 1; attempt <= p.attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!retryable(e)) throw e;
      last = e;
      if (attempt === p.attempts || p.signal?.aborted) break;
      p.onRetry?.(e, attempt, delay);
      await sleep(delay, p.signal);
      delay = Math.min(delay * 2, p.maxDelayMs);
    }
  }
  const msg = last instanceof Error ? last.message : String(last);
  throw new FinmeshError('UNAVAILABLE', p.attempts > 1 ? `${msg} (after ${p.attempts} attempts)` : msg, { cause: last });
}
