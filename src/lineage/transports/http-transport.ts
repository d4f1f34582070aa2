import type { RunEvent } from '../openlineage.js';
import type { LineageTransport } from '../transport.js';

export interface HttpTransportOptions {
  /** The backend's base URL; events go to `<url>/api/v1/lineage` (Marquez, finmesh serve, any OpenLineage API). */
  url: string;
  bufferSize: number;
  timeoutMs: number;
  apiKey?: string | undefined;
  /** Called when an event is dropped (buffer full), for the metric and the log. */
  onDrop?: (reason: string) => void;
}

/**
 * Sends events to an OpenLineage HTTP backend in the background, in order, retrying with backoff. A pipeline never
 * waits on it: `emit` only enqueues; when the buffer is full the event is dropped and `onDrop` says so.
 */
export class HttpTransport implements LineageTransport {
  readonly type = 'http';
  private readonly queue: RunEvent[] = [];
  private sending: Promise<void> | undefined;
  private closed = false;
  dropped = 0;

  constructor(private readonly options: HttpTransportOptions) {}

  emit(event: RunEvent): void {
    if (this.queue.length >= this.options.bufferSize) {
      this.dropped++;
      this.options.onDrop?.(`lineage buffer full (${this.options.bufferSize} events): dropped an event of job ${event.job.name}`);
      return;
    }
    this.queue.push(event);
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
    });
  }

  async close(): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs * 2;
    while (this.queue.length > 0 && Date.now() < deadline) await (this.sending ?? this.drain());
    this.closed = true;
  }

  private async drain(): Promise<void> {
    let backoff = 200;
    while (this.queue.length > 0) {
      const event = this.queue[0] as RunEvent;
      try {
        await this.post(event);
        this.queue.shift();
        backoff = 200;
      } catch {
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private async post(event: RunEvent): Promise<void> {
    const res = await fetch(`${this.options.url.replace(/\/$/, '')}/api/v1/lineage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}) },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (res.status >= 500 || res.status === 429) throw new Error(`lineage backend answered ${res.status}`);
  }
}
