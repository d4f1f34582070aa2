import type { RunEvent } from './openlineage.js';

/** A send-only lineage transport (the OpenLineage client's shape). `emit` never blocks a pipeline. */
export interface LineageTransport {
  readonly type: string;
  emit(event: RunEvent): void;
  /** Sends what is buffered, within a deadline. */
  close(): Promise<void>;
}
