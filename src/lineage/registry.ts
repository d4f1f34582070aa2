import { resolve } from 'node:path';
import type { ProjectConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { LineageDeliveryError, LineageTransport } from './transport.js';

/**
 * Creates the transports `finmesh.yaml: lineage.transports` lists, in its order. An adapter's module loads only when
 * chosen, and the GCP one imports `@google-cloud/lineage` only on its first event. A file path is resolved from the
 * project root; an `apiKey` secret reference is resolved here, once. Throws `FinmeshError` `CONFIG_INVALID` when a
 * secret cannot be resolved (naming the entry, never the value) and `UNAVAILABLE` when a file transport's folder
 * cannot be created. `onError` receives every transport's delivery failures, once per kind of failure.
 */
export async function createTransports(
  transports: ProjectConfig['lineage']['transports'],
  projectRoot: string,
  onError: (error: LineageDeliveryError) => void,
): Promise<LineageTransport[]> {
  const created: LineageTransport[] = [];
  for (const [i, t] of transports.entries()) {
    switch (t.type) {
      case 'file': {
        const { FileTransport } = await import('./transports/file-transport.js');
        created.push(new FileTransport(resolve(projectRoot, t.path), { onError }));
        break;
      }
      case 'http': {
        const { HttpTransport } = await import('./transports/http-transport.js');
        const apiKey = t.apiKey ? resolveSecret(t.apiKey, projectRoot, `finmesh.yaml: lineage.transports[${i}].apiKey`) : undefined;
        created.push(new HttpTransport({ url: t.url, bufferSize: t.bufferSize, timeoutMs: t.timeoutMs, apiKey, onError }));
        break;
      }
      case 'gcp': {
        const { GcpTransport } = await import('./transports/gcp-transport.js');
        created.push(new GcpTransport({ project: t.project, location: t.location, onError }));
        break;
      }
    }
  }
  return created;
}
