import type { RunEvent } from '../openlineage.js';
import type { LineageTransport } from '../transport.js';

/** The part of `@google-cloud/lineage`'s LineageClient this transport calls. */
export interface GcpLineageClient {
  processOpenLineageRunEvent(request: { parent: string; openLineage: Record<string, unknown> }): Promise<unknown>;
}

/**
 * Google Cloud Data Lineage. Its `processOpenLineageRunEvent` takes run events only and keeps no dataset facets,
 * so this is a sink beside the local store, never the store itself. Events are sent in the background; failures
 * are reported through `onError` and never reach the pipeline.
 */
export class GcpTransport implements LineageTransport {
  readonly type = 'gcp';
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: { project: string; location: string; client?: GcpLineageClient; onError?: (e: unknown) => void }) {}

  /** The request the SDK receives: facets of datasets are removed, as the API would drop them anyway. */
  static request(event: RunEvent, project: string, location: string): { parent: string; openLineage: Record<string, unknown> } {
    const strip = (ds: RunEvent['inputs']) => ds?.map((d) => ({ namespace: d.namespace, name: d.name }));
    const openLineage = { ...event, inputs: strip(event.inputs), outputs: strip(event.outputs) } as unknown as Record<string, unknown>;
    return { parent: `projects/${project}/locations/${location}`, openLineage };
  }

  emit(event: RunEvent): void {
    this.chain = this.chain.then(async () => {
      try {
        this.options.client ??= await createClient();
        const client = this.options.client;
        await client.processOpenLineageRunEvent(GcpTransport.request(event, this.options.project, this.options.location));
      } catch (e) {
        this.options.onError?.(e);
      }
    });
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

async function createClient(): Promise<GcpLineageClient> {
  const { LineageClient } = await import('@google-cloud/lineage');
  return new LineageClient() as unknown as GcpLineageClient;
}
