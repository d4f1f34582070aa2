import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where the built console is: `dist/console/` of the package, built by `npm run build` (Vite) and shipped in the npm
 * package, so `npx finmesh demo` serves it with no build step. This file runs from `src/server/` (tsx) or
 * `dist/server/` (compiled): both are two folders below the package root.
 */
export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'console');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** Paths the console's client-side router owns: any other GET that asks for HTML gets index.html (deep links). */
const API_PREFIXES = ['/api/', '/metrics', '/healthz', '/readyz', '/assets/'];

/**
 * The console's files: hashed assets under `/assets/` (cached for a year), `index.html` for `/` and every deep link.
 * Files hold no data, so they need no token; every figure comes from `/api/v1`.
 */
export async function registerConsole(app: FastifyInstance, dir = CONSOLE_DIR): Promise<void> {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    app.get('/', { config: { permission: 'public' } }, async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('the web console is not built: run `npm run build` in the finmesh package (the API under /api/v1 works without it)\n'),
    );
    return;
  }
  const html = readFileSync(index, 'utf8');
  // Vite writes a flat folder of content-hashed files: a request names one of them or nothing (no path walks).
  const assetDir = join(dir, 'assets');
  const assets = new Map(existsSync(assetDir) ? readdirSync(assetDir).map((f) => [f, join(assetDir, f)]) : []);
  app.get('/assets/:file', { config: { permission: 'public' } }, async (req, reply) => {
    const file = assets.get((req.params as { file: string }).file);
    if (!file) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such console file' });
    return reply
      .type(CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(createReadStream(file));
  });
  const page = async (_req: unknown, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  app.get('/', { config: { permission: 'public' } }, page);
  app.setNotFoundHandler(async (req, reply) => {
    if (isConsolePage(req)) return page(req, reply);
    return reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` });
  });
}

/** A browser asking for a page of the console (a deep link): a GET for HTML outside the API's paths. */
export function isConsolePage(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  return req.method === 'GET' && !API_PREFIXES.some((p) => path.startsWith(p)) && (req.headers.accept ?? '').includes('text/html');
}
