import type { ProjectConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import { type Bus, LAKE_WRITER_GROUP } from './bus.js';
import { MemoryBus } from './memory/memory-bus.js';

/** Creates the bus the project configures; network adapters load only when chosen. */
export async function createBus(config: ProjectConfig['bus'], projectRoot: string): Promise<Bus> {
  switch (config.kind) {
    case 'memory':
      return new MemoryBus(config.capacity, config.maxBytes);
    case 'nats': {
      const { NatsBus } = await import('./nats/nats-bus.js');
      return NatsBus.create({ servers: config.servers });
    }
    case 'kafka': {
      const { KafkaBus } = await import('./kafka/kafka-bus.js');
      return KafkaBus.create({
        brokers: config.brokers.split(','),
        ssl: config.ssl,
        sasl: config.sasl
          ? { ...config.sasl, password: resolveSecret(config.sasl.password, projectRoot, 'finmesh.yaml: bus.sasl.password') }
          : undefined,
        compression: config.compression,
      });
    }
    case 'pubsub': {
      const { PubSubBus } = await import('./pubsub/pubsub-bus.js');
      // The lake writer's subscription exists with each topic, so nothing published before it connects is lost.
      return PubSubBus.create({
        projectId: config.projectId,
        maxDeliveryAttempts: config.maxDeliveryAttempts,
        groups: [LAKE_WRITER_GROUP],
      });
    }
  }
}
