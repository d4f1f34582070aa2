import { after, before } from 'node:test';
import { PubSubBus } from '../../src/bus/pubsub/pubsub-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';
import { INSTALL_HINT, PSTEST_BIN, type StandIn, startPstest } from '../gcp-stand-ins.js';
import { skipUnless } from '../launchers.js';

// The Pub/Sub bus through the real client library against Google's own in-memory Pub/Sub server (pstest, from
// the Go module cloud.google.com/go/pubsub/v2), which CI builds and starts: no Pub/Sub test is skipped there.
// FINMESH_PUBSUB_PROJECT (with Application Default Credentials) runs the same suite against a real project instead.
const live = process.env.FINMESH_PUBSUB_PROJECT;
const skip = live ? {} : skipUnless(PSTEST_BIN !== undefined, 'pstest (Google’s in-memory Pub/Sub server)', INSTALL_HINT);
const projectId = live ?? 'finmesh-test';
let server: StandIn | undefined;
before(async () => {
  if (skip.skip || live) return;
  server = await startPstest();
  process.env.PUBSUB_EMULATOR_HOST = server.url;
});
after(async () => {
  await server?.stop();
});

// The contract's consumer groups are known in advance, as finmesh's lake-writer is (see PubSubBusOptions.groups).
describeBusContract('pubsub', async () => PubSubBus.create({ projectId, maxDeliveryAttempts: 5, groups: ['g', 'g1'] }), {
  ...skip,
  oneUnackedPerKey: true,
});
