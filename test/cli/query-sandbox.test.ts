// `finmesh query` reads the lake and nothing else: not even DuckDB's own temporary folder (`.tmp` below the working
// folder by default), where another tool, or an earlier session, may have left data.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

describe('finmesh query stays inside the lake', () => {
  it('refuses to read files under ./.tmp/, from the project folder or by absolute path', () => {
    const dir = copyExample();
    assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '20']).status, 0);
    assert.equal(cli(['stream', '--project', dir, '--until-caught-up']).status, 0);
    mkdirSync(join(dir, '.tmp'), { recursive: true });
    writeFileSync(join(dir, '.tmp/left-behind.csv'), 'cpf\n12345678909\n');
    for (const path of ['.tmp/left-behind.csv', join(dir, '.tmp/left-behind.csv')]) {
      const r = cli(['query', `select * from read_csv('${path}')`, '--project', '.'], { cwd: dir });
      assert.equal(r.status, 2, `${path}: ${r.stdout}`);
      // Refused by the governed query path (no table functions), or else by DuckDB's own sandbox (the lake only).
      assert.match(r.stderr, /may not call read_csv\(\)|Permission Error: Cannot access file/);
      assert.doesNotMatch(r.stdout, /12345678909/);
    }
    const lake = cli(['query', 'select count(*) > 0 ok from payments_silver.transactions', '--project', '.', '--json'], { cwd: dir });
    assert.equal(lake.status, 0, lake.stderr);
    assert.deepEqual(JSON.parse(lake.stdout), [{ ok: true }], 'the lake itself is still read');
  });
});
