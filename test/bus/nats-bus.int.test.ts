import { after, before } from 'node:test';
import { NatsBus } from '../../src/bus/nats/nats-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';
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
