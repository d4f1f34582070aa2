import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { ROOT, tempDir } from './basics.js';

export { ROOT, tempDir, waitFor } from './basics.js';

export const EXAMPLE = join(ROOT, 'examples/fintech');
const BIN = join(ROOT, 'bin/finmesh.js');

/** A copy of the example project with a tokenisation key in the environment. */
export function copyExample(): string {
  const dir = join(tempDir(), 'fintech');
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes('/.finmesh') });
  return dir;
}

export const TEST_KEY = 'test-tokenization-key-do-not-use';

/** Test values of the secrets the example project names by `env:` (validate checks that they resolve). */
export const EXAMPLE_SECRETS: NodeJS.ProcessEnv = {
  FINMESH_TOKENIZATION_KEY: TEST_KEY,
  ACQUIRER_SFTP_PASSWORD: 'test-sftp-password-do-not-use',
  FINTECH_PGP_PRIVATE_KEY: 'test-pgp-private-key-do-not-use',
  FINTECH_PGP_PASSPHRASE: 'test-pgp-passphrase-do-not-use',
  ACQUIRER_PGP_PUBLIC_KEY: 'test-pgp-public-key-do-not-use',
};

/** Runs the finmesh CLI as a user would, and returns its exit code and output. */
export function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...EXAMPLE_SECRETS, ...options.env },
    timeout: 180_000,
  });
}

/** CLI processes started in the background: whatever a failed test left running is killed when the file's tests end. */
const background = new Set<ChildProcess>();
after(() => {
  for (const c of background) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts the CLI in the background. */
export function cliAsync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...EXAMPLE_SECRETS, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  background.add(child);
  child.on('exit', () => background.delete(child));
  return child;
}
