import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RunStore } from '../metadata/metadata-store.js';

/** How often the metadata store is asked whether runs changed, while someone listens. */
export const DEFAULT_LIVE_POLL_MS = 1000;
/** A comment line this often keeps proxies from closing a quiet stream. */
export const DEFAULT_LIVE_KEEPALIVE_MS = 15_000;

/**
 * Notices when runs change — one started, ended or was expired, by this process or any other sharing the metadata
 * store (`finmesh run` beside `finmesh serve`) — and tells its subscribers. It asks the store only while someone
 * listens: one query pair per `pollMs` for every listener together.
 */
export class RunWatcher {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private stamp: string | undefined;
  private checking = false;

  constructor(
    private readonly runs: RunStore,
    private readonly pollMs = DEFAULT_LIVE_POLL_MS,
  ) {}

  /** Calls `fn` after every change from now on; returns the function that stops it. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.pollMs);
      this.timer.unref();
      void this.check();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stamp = undefined;
  }

  /** The newest run and the running ones: a run that starts changes the first, one that ends the second. */
  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const [newest] = await this.runs.list({ limit: 1 });
      const running = await this.runs.list({ status: 'running', limit: 10_000 });
      const stamp = `${newest?.runId ?? ''}|${running
        .map((r) => r.runId)
        .sort()
        .join(',')}`;
      const changed = this.stamp !== undefined && stamp !== this.stamp;
      this.stamp = stamp;
      if (changed) for (const l of this.listeners) l();
    } catch {
      // A store that cannot answer now (busy, restarting) is asked again at the next tick.
    } finally {
      this.checking = false;
    }
  }
}

/**
 * `GET /api/v1/events`: a `text/event-stream` (server-sent events) that says `event: runs` whenever runs change, so
 * the overview and the runs page reload their route instead of polling it. The event carries no data a persona could
 * not see: only that something changed.
 */
export function liveEvents(app: FastifyInstance, watcher: RunWatcher, keepAliveMs = DEFAULT_LIVE_KEEPALIVE_MS) {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
    watcher.stop();
  });
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let id = 0;
    // `retry` tells a client how long to wait before reconnecting; `ready` that it is listening.
    res.write(`retry: 3000\nevent: ready\ndata: {}\n\n`);
    const stopWatching = watcher.subscribe(() => {
      id++;
      res.write(`id: ${id}\nevent: runs\ndata: {}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    keepAlive.unref();
    const end = () => {
      if (!open.delete(end)) return;
      clearInterval(keepAlive);
      stopWatching();
      res.end();
    };
    open.add(end);
    req.raw.on('close', end);
  };
}
