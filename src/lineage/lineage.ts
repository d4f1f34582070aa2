import type { MetadataStore } from '../metadata/metadata-store.js';
import type { RunEvent } from './openlineage.js';
import { describeUndelivered, LineageDeliveryError, type LineageTransport, type TransportCloseReport } from './transport.js';

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

  /** Events still being written to the metadata store; `flush` and `close` wait for them. */
  private recording: Promise<void> = Promise.resolve();

  emit(event: RunEvent): void {
    // Stored in emit order: each write is chained after the previous one.
    this.recording = this.recording.then(() =>
      this.meta.lineage
        .record({
          runId: event.run.runId,
          eventType: event.eventType,
          eventTime: event.eventTime,
          jobNamespace: event.job.namespace,
          jobName: event.job.name,
          event,
        })
        .catch((e) => this.onError?.(e)),
    );
    for (const t of this.transports) {
      try {
        t.emit(event);
      } catch (e) {
        this.onError?.(e);
      }
    }
  }

  /** Resolves once every event emitted so far is in the metadata store. */
  async flush(): Promise<void> {
    await this.recording;
  }

  /**
   * Closes every transport at once, so the wait is the longest close deadline, not their sum. Resolves with one
   * report per transport and calls `onError` once for each transport that left events undelivered, with one line
   * naming its target and how many events did not arrive.
   */
  async close(): Promise<TransportCloseReport[]> {
    await this.flush();
    const settled = await Promise.allSettled(this.transports.map((t) => t.close()));
    const reports: TransportCloseReport[] = [];
    for (const [i, s] of settled.entries()) {
      if (s.status === 'rejected') {
        // A transport's close must not reject; if one does, it is a bug worth a line, not a lost report.
        this.onError?.(s.reason);
        continue;
      }
      reports.push(s.value);
      const warning = describeUndelivered(s.value);
      const t = this.transports[i];
      if (warning && t)
        this.onError?.(new LineageDeliveryError('UNAVAILABLE', warning, { type: t.type, target: t.target, retrying: false }));
    }
    return reports;
  }
}
