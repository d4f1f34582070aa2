// Helpers with no tie to node:test, so the bench (bench/) can start servers through test/launchers.ts without
// loading the test runner (which prints its report to stdout when a process that loaded it exits).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder. */
export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Temporary folders to remove when the process exits: one exit listener for all of them. */
const made: string[] = [];

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = 'finmesh-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0)
    process.on('exit', () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });
  made.push(dir);
  return dir;
}

/** Polls `fn` until it returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
