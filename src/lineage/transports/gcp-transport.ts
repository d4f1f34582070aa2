import type { ErrorCode } from '../../core/errors.js';
import type { RunEvent } from '../openlineage.js';
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type LineageDeliveryError,
  type LineageTransport,
  type TransportCloseReport,
} from '../transport.js';
import { DeliveryTally } from './delivery-tally.js';

/** The part of `@google-cloud/lineage`'s LineageClient this transport calls. */
export interface GcpLineageClient {
  processOpenLineageRunEvent(request: { parent: string; openLineage: Record<string, unknown> }): Promise<unknown>;
  /** Releases the client's channel; called by `close` only for a client the transport created itself. */
  close?(): Promise<void>;
}

export interface GcpTransportOptions {
  project: string;
  location: string;
  /** The SDK client; when absent, `@google-cloud/lineage` is imported and a client created on the first event. */
  client?: GcpLineageClient;
  /** Events waiting for the API (default {@link DEFAULT_BUFFER_SIZE}); beyond, new ones are dropped. */
  bufferSize?: number;
  /** How long `close` waits for calls in progress (default {@link DEFAULT_CLOSE_TIMEOUT_MS}). */
  closeTimeoutMs?: number;
  /** Called once per kind of failure (a gRPC status code, a full buffer), not once per event. */
  onError?: (error: LineageDeliveryError) => void;
}

/**
 * Google Cloud Data Lineage. Its `processOpenLineageRunEvent` takes run events only and keeps no dataset facets,
 * so this is a sink beside the local store, never the store itself. Events are sent in the background, one at a
 * time, in order. The SDK retries what its retry policy allows; a call that still fails drops that event (counted
 * and reported), it is not retried here.
 */
export class GcpTransport implements LineageTransport {
  readonly type = 'gcp';
  readonly target: string;
  private readonly tally: DeliveryTally;
  private chain: Promise<void> = Promise.resolve();
  /** Emitted, not yet sent or failed. */
  private pending = 0;
  private stopped = false;
  private client: GcpLineageClient | undefined;
  private ownsClient = false;
  private closing: Promise<TransportCloseReport> | undefined;

  constructor(private readonly options: GcpTransportOptions) {
    this.target = `projects/${options.project}/locations/${options.location}`;
    this.tally = new DeliveryTally(this.type, this.target, options.onError);
    this.client = options.client;
  }

  /** The request the SDK receives: facets of datasets are removed, as the API would drop them anyway. */
  static request(event: RunEvent, project: string, location: string): { parent: string; openLineage: Record<string, unknown> } {
    const strip = (ds: RunEvent['inputs']) => ds?.map((d) => ({ namespace: d.namespace, name: d.name }));
    const openLineage = { ...event, inputs: strip(event.inputs), outputs: strip(event.outputs) } as unknown as Record<string, unknown>;
    return { parent: `projects/${project}/locations/${location}`, openLineage };
  }

  emit(event: RunEvent): void {
    if (this.closing) {
      this.tally.refuseClosed();
      return;
    }
    this.tally.emitted++;
    const bufferSize = this.options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (this.pending >= bufferSize) {
      this.tally.refuseFull(bufferSize);
      return;
    }
    this.pending++;
    this.chain = this.chain.then(() => this.send(event));
  }

  close(): Promise<TransportCloseReport> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<TransportCloseReport> {
    const closeTimeoutMs = this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    // Ref'd, so that a call that never answers cannot leave `await close()` pending in an empty event loop.
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), closeTimeoutMs);
    });
    const outcome = await Promise.race([this.chain.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      this.stopped = true;
      this.tally.fail({
        kind: 'deadline',
        reason: `still waiting for the API when the close deadline (${closeTimeoutMs} ms) passed`,
        code: 'TIMEOUT',
        retrying: false,
        unit: 'event',
        notify: false,
        count: this.pending,
      });
    }
    const report = this.tally.report();
    if (this.ownsClient) this.client?.close?.().catch(() => undefined);
    return report;
  }

  /** Never throws: a failure is counted and reported. */
  private async send(event: RunEvent): Promise<void> {
    try {
      if (this.stopped) return;
      if (!this.client) {
        this.client = await createClient();
        this.ownsClient = true;
      }
      await this.client.processOpenLineageRunEvent(GcpTransport.request(event, this.options.project, this.options.location));
      this.tally.delivered++;
    } catch (cause) {
      const e = cause as Error & { code?: unknown };
      const code = typeof e.code === 'number' || typeof e.code === 'string' ? e.code : e.name;
      this.tally.fail({
        kind: `gcp-${code}`,
        reason: `${this.target} refused a run event: ${e.message}`,
        code: codeOfGrpc(e.code),
        retrying: false,
        unit: 'event',
        cause,
      });
    } finally {
      this.pending--;
    }
  }
}

async function createClient(): Promise<GcpLineageClient> {
  const { LineageClient } = await import('@google-cloud/lineage');
  return new LineageClient() as unknown as GcpLineageClient;
}

/** gRPC status codes (the SDK's `error.code`) → ours. */
function codeOfGrpc(code: unknown): ErrorCode {
  switch (code) {
    case 3:
      return 'DATA_INVALID';
    case 4:
      return 'TIMEOUT';
    case 5:
      return 'NOT_FOUND';
    case 7:
    case 16:
      return 'PERMISSION';
    default:
      return 'UNAVAILABLE';
  }
}
