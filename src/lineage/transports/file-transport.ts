import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FinmeshError } from '../../core/errors.js';
import type { RunEvent } from '../openlineage.js';
import type { LineageDeliveryError, LineageTransport, TransportCloseReport } from '../transport.js';
import { DeliveryTally } from './delivery-tally.js';

export interface FileTransportOptions {
  /** Called once per kind of write failure (an errno code such as `ENOSPC`), not once per event. */
  onError?: (error: LineageDeliveryError) => void;
}

/**
 * Appends each event as one JSON line, in emit order, synchronously: a line is on disk (in the page cache) when
 * `emit` returns, so a crash loses nothing already emitted. A write that fails drops that event (counted, reported).
 */
export class FileTransport implements LineageTransport {
  readonly type = 'file';
  readonly target: string;
  private readonly tally: DeliveryTally;
  private final: TransportCloseReport | undefined;

  /** Creates the file's folder. Throws `FinmeshError` `UNAVAILABLE` when it cannot. */
  constructor(
    private readonly path: string,
    options: FileTransportOptions = {},
  ) {
    this.target = path;
    this.tally = new DeliveryTally(this.type, path, options.onError);
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (cause) {
      throw new FinmeshError('UNAVAILABLE', `lineage file transport: cannot create the folder ${dirname(path)} for ${path}`, { cause });
    }
  }

  emit(event: RunEvent): void {
    if (this.final) {
      this.tally.fail({
        kind: 'closed',
        reason: `emitted after close, not written to ${this.path}`,
        code: 'CONFLICT',
        retrying: false,
        unit: 'event',
      });
      return;
    }
    this.tally.emitted++;
    try {
      appendFileSync(this.path, `${JSON.stringify(event)}\n`);
      this.tally.delivered++;
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).name;
      this.tally.fail({
        kind: code,
        reason: `cannot append to ${this.path}: ${code}`,
        code: 'UNAVAILABLE',
        retrying: false,
        unit: 'event',
        cause,
      });
    }
  }

  async close(): Promise<TransportCloseReport> {
    this.final ??= this.tally.report();
    return this.final;
  }
}
