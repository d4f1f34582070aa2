import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunEvent } from '../openlineage.js';
import type { LineageTransport } from '../transport.js';

/** Appends each event as one JSON line. */
export class FileTransport implements LineageTransport {
  readonly type = 'file';
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  emit(event: RunEvent): void {
    appendFileSync(this.path, `${JSON.stringify(event)}\n`);
  }
  async close(): Promise<void> {}
}
