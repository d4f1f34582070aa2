import type { MetadataStore } from '../metadata/metadata-store.js';
import type { RunEvent } from './openlineage.js';
import type { LineageTransport } from './transport.js';

/**
 * Where every run's lineage goes: the metadata store (the graph `finmesh lineage` and `/api/v1/lineage` answer
 * from) and the configured transports. Emitting never throws into a pipeline.
 */
export class Lineage {
  constructor(
    private readonly meta: MetadataStore,
    private readonly transports: LineageTransport[] = [],
    private readonly onError?: (e: unknown) => void,
  ) {}

  emit(event: RunEvent): void {
    try {
      this.meta.recordLineage({
        runId: event.run.runId,
        eventType: event.eventType,
        eventTime: event.eventTime,
        jobNamespace: event.job.namespace,
        jobName: event.job.name,
        event,
      });
    } catch (e) {
      this.onError?.(e);
    }
    for (const t of this.transports) {
      try {
        t.emit(event);
      } catch (e) {
        this.onError?.(e);
      }
    }
  }

  async close(): Promise<void> {
    for (const t of this.transports) await t.close().catch((e) => this.onError?.(e));
  }
}
