import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunEvent } from '../../src/lineage/openlineage.js';
import { HttpTransport } from '../../src/lineage/transports/http-transport.js';
import { describeTransportContract } from '../contracts/lineage-transport-contract.js';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { freePort } from '../launchers.js';

/** The example's token of its lineage-publisher persona (may post lineage, read nothing). */
const LINEAGE_TOKEN = 'lineage-token-for-tests';

/** finmesh's own OpenLineage backend (`finmesh serve`, POST /api/v1/lineage) on a fresh copy of the example. */
let receiver: string;
let port: number;
let serve: ChildProcess | undefined;

before(async () => {
  receiver = copyExample();
  port = await freePort();
  const child = cliAsync(['serve', '--project', receiver, '--port', String(port)], { env: { FINMESH_TOKEN_LINEAGE: LINEAGE_TOKEN } });
  serve = child;
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`finmesh serve exited with ${child.exitCode} before listening; its output:\n${output}`);
      return /finmesh serve: /.test(output) ? true : undefined;
    },
    60_000,
    `finmesh serve to print its URL (port ${port}); its output so far:\n${output}`,
  );
});

after(async () => {
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await once(serve, 'exit');
  }
});

describeTransportContract('http → finmesh serve (a real OpenLineage backend)', {
  async make(onError) {
    return {
      transport: new HttpTransport({ url: `http://127.0.0.1:${port}`, apiKey: LINEAGE_TOKEN, onError }),
      // `finmesh lineage export` prints the events the receiver stored, in the order it stored them.
      received: async (ns) => exported(receiver).filter((e) => e.job.namespace === ns),
    };
  },
  async makeUnreachable(onError, closeTimeoutMs) {
    return new HttpTransport({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, closeTimeoutMs, onError });
  },
});

describe('finmesh run with its HTTP lineage backend down', () => {
  it('exits 0, not 13, and warns once on stderr naming the URL and how many events were not delivered', async () => {
    const dir = copyExample();
    const g = cli(['generate', '--project', dir, '--seconds', '2', '--rate', '50']);
    assert.equal(g.status, 0, `finmesh generate exit code; stderr:\n${g.stderr}`);
    const s = cli(['stream', '--project', dir, '--until-caught-up', '--no-models']);
    assert.equal(s.status, 0, `finmesh stream exit code; stderr:\n${s.stderr}`);

    const yamlPath = join(dir, 'finmesh.yaml');
    assert.doesNotMatch(
      readFileSync(yamlPath, 'utf8'),
      /^lineage:/m,
      'the example’s finmesh.yaml already has a lineage: key; this test appends one',
    );
    const down = await freePort();
    const url = `http://127.0.0.1:${down}`;
    appendFileSync(yamlPath, `lineage:\n  transports:\n    - type: http\n      url: ${url}\n      timeoutMs: 500\n`);

    const r = cli(['run', '--project', dir]);
    assert.equal(r.status, 0, `finmesh run exit code (13 means Node exited with lineage close() still pending); stderr:\n${r.stderr}`);
    const warnings = r.stderr.split('\n').filter((l) => l.includes(`${url}/api/v1/lineage`) && /\d+ of \d+ events not delivered/.test(l));
    assert.equal(warnings.length, 1, `stderr lines warning that lineage to ${url} was not delivered, expected 1; stderr:\n${r.stderr}`);
    const [, missing, total] = /(\d+) of (\d+) events not delivered/.exec(warnings[0] ?? '') ?? [];
    assert.ok(Number(missing) > 0 && missing === total, `expected every event undelivered, found "${warnings[0]}"`);
  });
});

function exported(project: string): RunEvent[] {
  const r = cli(['lineage', 'export', '--project', project]);
  assert.equal(r.status, 0, `finmesh lineage export --project ${project} exit code; stderr:\n${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);
}
