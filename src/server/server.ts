import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { FinmeshError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { isConsolePage, registerConsole } from './console-assets.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What a caller's persona must be allowed to do to use the route (`catalog`, `runs`, `query`…); `public` for what
     * holds no data (the console's files, the OpenAPI document), which answers without a token. Several: any of them.
     */
    permission?: string | readonly string[];
  }
}

/** Who called, once authenticated. */
export interface Caller {
  persona: string;
  principal: string;
}

/**
 * Authentication and authorisation of every route but `/healthz`: a route names its permission in its config
 * (`{ config: { permission: 'runs' } }`); a route without one is refused (fail closed).
 */
export interface ServerAuth {
  /** The caller a bearer token proves; throws `UNAUTHENTICATED` (401) or `PERMISSION` (403). */
  authenticate(token: string | undefined): Promise<Caller>;
  /** Throws `PERMISSION` (403) when the caller's persona lacks `permission` (several: lacks all of them). */
  authorize(caller: Caller, permission: string | readonly string[], route: string): Promise<void>;
  /** `/metrics` answers without a token. */
  publicMetrics: boolean;
}

const callers = new WeakMap<FastifyRequest, Caller>();

/** The authenticated caller of a request (routes of a server started with `auth`). */
export function callerOf(req: FastifyRequest): Caller {
  const c = callers.get(req);
  if (!c) throw new FinmeshError('UNAUTHENTICATED', 'a token is required (Authorization: Bearer <token>)');
  return c;
}

export interface ServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** Readiness: true once the process can serve its purpose (lake open, first run done). */
  ready?: () => boolean;
  /** Extra routes under `/api/v1`. */
  api?: (app: FastifyInstance) => void;
  /** Every route but `/healthz` needs a token; without it the server answers anyone (embedded uses only). */
  auth?: ServerAuth | undefined;
  /** Serve the web console at `/` (its built files; default true). */
  console?: boolean;
}

export interface StartedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** HTTP statuses of finmesh's error codes (the one place they are mapped); others are 400. */
const HTTP_STATUS: Partial<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  PERMISSION: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
};

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
  const auth = options.auth;
  if (auth) {
    app.addHook('onRequest', async (req) => {
      const route = req.routeOptions.url;
      if (route === '/healthz' || (route === '/metrics' && auth.publicMetrics)) return;
      // The console's files and the OpenAPI document hold no data; a deep link is the console's index.html. Every
      // figure the console shows comes from a route that needs a token.
      if (req.routeOptions.config?.permission === 'public' || (route === undefined && isConsolePage(req))) return;
      const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      const caller = await auth.authenticate(token);
      callers.set(req, caller);
      if (route === undefined) return; // 404, for an authenticated caller only
      const permission = req.routeOptions.config.permission;
      if (!permission) throw new FinmeshError('PERMISSION', `${req.method} ${route} is open to no persona`);
      await auth.authorize(caller, permission, `${req.method} ${route}`);
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { permission: 'metrics' } }, async (_req, reply) => {
    const ready = options.ready?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });
  app.get('/metrics', { config: { permission: 'metrics' } }, async (_req, reply) =>
    reply.header('content-type', options.metrics.contentType).send(await options.metrics.exposition()),
  );
  options.api?.(app);
  if (options.console !== false) await registerConsole(app);
  app.setErrorHandler((error, _req, reply) => {
    if (error instanceof FinmeshError) {
      const status = HTTP_STATUS[error.code] ?? 400;
      if (status === 401) reply.header('www-authenticate', 'Bearer realm="finmesh"');
      return reply.code(status).send({ error: error.code, message: error.message });
    }
    // The client's mistakes fastify finds (malformed JSON, an empty body, an unknown content type, a body too large)
    // keep their 4xx: they are not the server's errors, and must not count as 5xx in /metrics.
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const code = (error as { code?: unknown }).code;
      return reply.code(status).send({ error: typeof code === 'string' ? code : 'BAD_REQUEST', message: (error as Error).message });
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
