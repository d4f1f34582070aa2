import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, tempDir } from '../helpers.js';

describe('finmesh init', () => {
  it('scaffolds a project that validates, generates, streams, runs and can be queried', () => {
    const dir = join(tempDir(), 'p');
    const init = cli(['init', dir]);
    assert.equal(init.status, 0, init.stderr);
    assert.ok(existsSync(join(dir, 'README.md')) && existsSync(join(dir, '.gitignore')));
    const v = cli(['validate', '--project', dir]);
    assert.equal(v.status, 0, v.stderr);
    const g = cli(['generate', '--project', dir, '--seconds', '5', '--json', '--start', '2026-11-27T12:00:00Z']);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).transactions, 250);
    const s = cli(['stream', '--project', dir, '--until-caught-up', '--json']);
    assert.equal(s.status, 0, s.stderr);
    const r = cli(['run', '--project', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const q = cli(['query', 'select sum(transactions)::int n from payments_gold.daily_volume', '--project', dir, '--json']);
    assert.equal(q.status, 0, q.stderr);
    assert.deepEqual(JSON.parse(q.stdout), [{ n: 250 }]);
  });

  it('refuses a folder that is not empty', () => {
    const dir = tempDir();
    cli(['init', join(dir, 'a')]);
    const again = cli(['init', join(dir, 'a')]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /not empty/);
  });
});
