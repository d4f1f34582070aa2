import { join, resolve } from 'node:path';
import type { Project, Source } from '../../config/project.js';
import { resolveSecret } from '../../config/secrets.js';
import { parseDuration } from '../../core/duration.js';
import { FinmeshError } from '../../core/errors.js';
import type { FileSource } from './file-source.js';

export interface CreateFileSourceOptions {
  /** Called before each retry of a connect, list or download (e.g. to log it with the run's id). */
  onRetry?: ((e: unknown, attempt: number, delayMs: number) => void) | undefined;
}

/**
 * Creates the adapter for a file source, connected: secrets resolved from their references (a missing one is
 * `CONFIG_INVALID` naming the file and field), and, for a source with `embedded`, finmesh's own server started on
 * loopback over the folder it names (stopped when the source closes). Adapters load only when asked for.
 */
export async function createFileSource(source: Source, project: Project, options: CreateFileSourceOptions = {}): Promise<FileSource> {
  const c = source.config;
  const secret = (ref: string | undefined, what: string) => (ref ? resolveSecret(ref, project.root, `${source.file}: ${what}`) : undefined);
  switch (c.kind) {
    case 'sftp': {
      const password = secret(c.password, 'password');
      const privateKey = secret(c.privateKey, 'privateKey');
      const { SftpFileSource } = await import('./sftp/sftp-file-source.js');
      let port = c.port;
      let onClose: (() => Promise<void>) | undefined;
      if (c.embedded) {
        const { EmbeddedSftpServer } = await import('./sftp/embedded-sftp-server.js');
        const server = await EmbeddedSftpServer.start({
          root: resolve(project.root, c.embedded.root),
          username: c.username,
          password: password ?? '',
          hostKeyFile: join(resolve(project.root, '.finmesh/secrets'), `${source.name}.host_key`),
        });
        port = server.port;
        onClose = () => server.close();
      }
      return SftpFileSource.create({
        host: c.host,
        port,
        username: c.username,
        password,
        privateKey,
        hostKeyFingerprint: c.hostKeyFingerprint,
        maxConnections: c.maxConnections,
        attempts: c.retries,
        requestTimeoutMs: parseDuration(c.timeout),
        transfer: c.transfer,
        backoff: { onRetry: options.onRetry },
        onClose,
      });
    }
    default:
      throw new FinmeshError('NOT_SUPPORTED', `${source.file}: source kind "${c.kind}" is not a file source`);
  }
}
