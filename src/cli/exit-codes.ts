/**
 * Exit codes (DESIGN §7), the only ones finmesh uses: 0 success, 1 failures found (a failed run, an error-level check or
 * policy, an exhausted SLO budget, a breaking contract change, monitoring gaps), 2 usage or configuration error.
 */
export const EXIT = { ok: 0, failures: 1, usage: 2 } as const;

/** Ends the command with "failures found" (exit 1) unless a worse outcome was already set. */
export function failuresFound(): void {
  if ((process.exitCode ?? 0) === EXIT.ok) process.exitCode = EXIT.failures;
}

/** Ends the command with "usage or configuration error" (exit 2). */
export function usageError(): void {
  process.exitCode = EXIT.usage;
}
