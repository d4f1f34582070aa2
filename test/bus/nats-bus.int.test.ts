import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NatsBus } from '../../src/bus/nats/nats-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';
import { cli, copyExample } from '../helpers.js';
import { type Launched, NATS_BIN, skipUnless, startNats } from '../launchers.js';

const skip = skipUnless(NATS_BIN !== undefined, 'nats-server', 'Debian: apt-get install nats-server');
let server: Launched | undefined;
before(async () => {
  if (!skip.skip) server = await startNats();
});
after(async () => {
  await server?.stop();
});
describeBusContract('nats (JetStream)', async () => NatsBus.create({ servers: server?.url ?? '' }), skip);

describe('finmesh stream on NATS', skip, () => {
  it('ends `--until-caught-up` when there is nothing new to read (a subscription closed while it was being set up stops its pulls)', () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), `bus:\n  kind: nats\n  servers: ${server?.url}\n`);
    assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '50']).status, 0);
    const first = cli(['stream', '--project', dir, '--until-caught-up', '--no-models', '--json']);
    assert.equal(first.status, 0, first.stderr);
    // Nothing new: every lane ends at once. The process used to stay alive here, pulling from NATS forever.
    const again = cli(['stream', '--project', dir, '--until-caught-up', '--no-models', '--json']);
    assert.equal(again.status, 0, `${again.error?.message ?? ''} ${again.stderr}`);
    assert.deepEqual(JSON.parse(again.stdout).committed, {});
  });
});
