import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Where measured usage goes: the run being worked on, or the process's unattributed tally. Adapters that can measure
 * what they did (the engine: bytes scanned, objects read; storage: objects and bytes written) add it to the tally of
 * whatever work is in progress, without knowing runs exist. `attributes` are small, bounded dimensions (a zone, a
 * file path an adapter read) that the receiver may fold further.
 */
export interface UsageTally {
  add(meter: string, quantity: number, attributes?: Record<string, string>): void;
}

const scopes = new AsyncLocalStorage<UsageTally>();
let unscoped: UsageTally | undefined;

/** Runs `fn` with `tally` receiving the usage of everything it does, however deep and however asynchronous. */
export function withUsage<T>(tally: UsageTally, fn: () => T): T {
  return scopes.run(tally, fn);
}

/**
 * Makes `tally` receive the usage of the rest of the calling async function (and what it starts from here on).
 * Call it after the function's first `await`, so that the caller's own context is not touched.
 */
export function enterUsage(tally: UsageTally): void {
  scopes.enterWith(tally);
}

/** The process's tally for usage outside any scope (a query, a report); none by default. */
export function setUnscopedUsage(tally: UsageTally | undefined): void {
  unscoped = tally;
}

/** Adds usage to the current scope, or to the unscoped tally; dropped when there is neither. Never throws. */
export function addUsage(meter: string, quantity: number, attributes?: Record<string, string>): void {
  if (!(quantity > 0)) return;
  const tally = scopes.getStore() ?? unscoped;
  try {
    tally?.add(meter, quantity, attributes);
  } catch {
    // Metering never fails the work it measures.
  }
}
