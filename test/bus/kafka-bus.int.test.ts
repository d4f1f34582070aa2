import { after, before } from 'node:test';
import { KafkaBus } from '../../src/bus/kafka/kafka-bus.js';
import { describeBusContract } from '../contracts/bus-contract.js';
import { KAFKA_AVAILABLE, type Launched, skipUnless, startKafka } from '../launchers.js';

const skip = skipUnless(
  KAFKA_AVAILABLE,
  'a Kafka broker (jars and java)',
  'mvn -q -f test/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=../../.cache/kafka/libs, as .ci/run does',
);
let server: Launched | undefined;
before(async () => {
  if (!skip.skip) server = await startKafka();
});
after(async () => {
  await server?.stop();
});
describeBusContract('kafka (single-node KRaft broker)', async () => KafkaBus.create({ brokers: [server?.url ?? ''] }), {
  ...skip,
  attemptsSurviveResubscribe: false,
});
