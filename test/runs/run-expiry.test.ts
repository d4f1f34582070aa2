import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';

interface Runs {
  jobs: { job: string; runs: { runId: string; status: string; error?: string }[] }[];
}

const streamRun = (dir: string) => {
  const r = cli(['runs', '--job', 'stream', '--json', '--project', dir]);
  // Until the stream has opened the project, there is no store to look in; until it has started its run, no run.
  if (r.status === 2 && /has the project run yet|no runs of job "stream"/.test(r.stderr)) return undefined;
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Runs).jobs[0]?.runs[0];
};

describe('a run whose process died', () => {
  it('is failed by the next process that looks, once its heartbeat has expired', async () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), '\nruns:\n  heartbeat: 200ms\n  expireAfter: 1s\n');
    assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '20']).status, 0);
    const child = cliAsync(['stream', '--project', dir, '--no-models']);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const running = await waitFor(
      () => {
        const r = streamRun(dir);
        return r?.status === 'running' ? r : undefined;
      },
      60_000,
      'the stream run to be recorded as running',
    );
    // Alive and heartbeating: another process looking after the expiry time leaves it alone.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(streamRun(dir)?.status, 'running', 'a heartbeating run is not expired');
    child.kill('SIGKILL');
    await exited;
    const dead = await waitFor(
      () => {
        const r = streamRun(dir);
        return r?.status === 'failed' ? r : undefined;
      },
      30_000,
      'the killed run to be failed',
    );
    assert.equal(dead.runId, running.runId);
    assert.match(dead.error ?? '', /process running it stopped \(no heartbeat since/);
  });
});
