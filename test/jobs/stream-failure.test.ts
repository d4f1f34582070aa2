import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

describe('finmesh stream when a source cannot open', () => {
  it('fails its run with the reason instead of leaving it running, and exits 1 saying why', () => {
    const dir = copyExample();
    // No `finmesh generate` yet: the app's database does not exist, so the outbox source cannot open.
    const s = cli(['stream', '--project', dir, '--until-caught-up']);
    assert.equal(s.status, 1, s.stderr);
    assert.match(s.stderr, /cannot open the app database .*app\.db/);
    const r = cli(['runs', '--job', 'stream', '--json', '--project', dir]);
    assert.equal(r.status, 0, r.stderr);
    const [run] = (JSON.parse(r.stdout) as { jobs: { runs: { status: string; error?: string }[] }[] }).jobs[0]?.runs ?? [];
    assert.equal(run?.status, 'failed');
    assert.match(run?.error ?? '', /cannot open the app database/);
  });
});
