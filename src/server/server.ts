import Fastify, { type FastifyInstance } from 'fastify';
import { FinmeshError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';

export interface ServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** Readiness: true once the process can serve its purpose (lake open, first run done). */
  ready?: () => boolean;
  /** Extra routes under `/api/v1`. */
  api?: (app: FastifyInstance) => void;
}

export interface StartedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The HTTP surface: `/healthz`, `/readyz`, `/metrics` and `/api/v1/...`. */
export async function startServer(options: ServerOptions): Promise<StartedServer> {
  const app = Fastify({ logger: false });
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, not the URL: labels stay a bounded set.
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { route, status_class: `${Math.floor(reply.statusCode / 100)}xx` };
    options.metrics.httpRequests.inc(labels);
    options.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = options.ready?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', options.metrics.contentType).send(await options.metrics.exposition()),
  );
  options.api?.(app);
  app.setErrorHandler((error, _req, reply) => {
    if (error instanceof FinmeshError) {
      const status = error.code === 'NOT_FOUND' ? 404 : error.code === 'PERMISSION' ? 403 : error.code === 'UNAVAILABLE' ? 503 : 400;
      return reply.code(status).send({ error: error.code, message: error.message });
    }
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error' });
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new FinmeshError(
      code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE',
      code === 'EADDRINUSE'
        ? `port ${options.port} on ${options.host} is in use (choose another with --port, or 0 for any free port)`
        : `cannot listen on ${options.host}:${options.port}`,
      { cause },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { url: `http://${options.host}:${port}`, port, close: () => app.close() };
}
