import { PubSubBus } from '../../src/bus/pubsub/pubsub-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';

// Google Pub/Sub has no server we can run here: the contract runs against the emulator or a real project when
// one is configured, and says why it skipped otherwise.
const target = process.env.PUBSUB_EMULATOR_HOST ? 'emulator' : process.env.FINMESH_PUBSUB_PROJECT ? 'project' : undefined;
describeBusContract('pubsub', async () => PubSubBus.create({ projectId: process.env.FINMESH_PUBSUB_PROJECT ?? 'finmesh-test' }), {
  skip: target
    ? undefined
    : 'set PUBSUB_EMULATOR_HOST (gcloud beta emulators pubsub start) or FINMESH_PUBSUB_PROJECT with credentials to run against Pub/Sub',
});
