import { basename } from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { uuidv7 } from '../core/ids.js';
import { DEFAULT_HEARTBEAT_MS, type LakeReaderStore } from '../metadata/metadata-store.js';
import { processName } from '../runs/runs.js';

export interface LakeReaderSessionOptions {
  readers: LakeReaderStore;
  clock?: Clock | undefined;
  /** Who reads, for messages (default `host pid command`). */
  process?: string | undefined;
  /** How often the registration is proven alive (default `DEFAULT_HEARTBEAT_MS`). */
  heartbeatMs?: number | undefined;
  /** A registration or heartbeat that could not be written (the session goes on; GC may then not see it). */
  onError?: ((e: unknown) => void) | undefined;
}

/**
 * This process as a reader of the lake: when it last defined its engine view of each dataset, registered in the
 * metadata store (`meta.readers`) so garbage collection never deletes a retired file a view of it may still list.
 *
 * A process registers when it defines its first view (commands that never read the lake never register), heartbeats
 * every `heartbeatMs` on an unref'd timer, and unregisters on `close`. Only what the store holds protects a file:
 * - a dataset's first view is written to the store before its file list is read, so no view is ever unregistered;
 * - the time of a view is taken before its file list is read, and replaces the previous one only once the engine
 *   runs the new view (the engine runs one statement at a time, so no statement still reads the old list);
 * - later views reach the store with the next heartbeat: until then the store holds an older time, which protects
 *   more files, never fewer.
 */
export class LakeReaderSession {
  readonly id: string;
  readonly process: string;
  private readonly views = new Map<string, number>();
  /** The definition of each dataset under way (`define` runs them one at a time). */
  private readonly defining = new Map<string, Promise<void>>();
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private registered = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly o: LakeReaderSessionOptions) {
    this.clock = o.clock ?? systemClock;
    this.heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.id = uuidv7(this.clock.now());
    this.process = o.process ?? describeProcess();
  }

  /**
   * Defines (or redefines) this process's view of `dataset` with `define`, which reads the dataset's live files and
   * hands them to the engine; resolves with what `define` returns. Garbage collection keeps every file retired at or
   * after the time taken here until this reader defines the view again, stops heartbeating, or closes.
   */
  define<T>(dataset: string, define: () => Promise<T>): Promise<T> {
    // One definition of a dataset at a time, in call order: two that interleave (a stream's commit and a compaction's,
    // each listing the files and then defining the view) could leave the older list as the view.
    const previous = this.defining.get(dataset) ?? Promise.resolve();
    const next = previous.then(
      () => this.defineNow(dataset, define),
      () => this.defineNow(dataset, define),
    );
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.defining.set(dataset, settled);
    void settled.then(() => {
      if (this.defining.get(dataset) === settled) this.defining.delete(dataset);
    });
    return next;
  }

  private async defineNow<T>(dataset: string, define: () => Promise<T>): Promise<T> {
    const at = this.clock.now();
    if (!this.views.has(dataset) && !this.closed) {
      this.views.set(dataset, at);
      await this.publish();
    }
    const result = await define();
    this.views.set(dataset, at);
    return result;
  }

  /** When this process last defined its view of each dataset (epoch ms). */
  viewTimes(): Record<string, number> {
    return Object.fromEntries(this.views);
  }

  /**
   * Writes the registration now, with a fresh heartbeat (a GC in this process calls it first, so its own views are
   * current). Does nothing before the first view or after `close`. Never throws: failures go to `onError`.
   */
  publish(): Promise<void> {
    if (this.closed || this.views.size === 0) return this.writing;
    this.writing = this.writing.then(async () => {
      if (this.closed) return;
      try {
        await this.o.readers.upsert({
          id: this.id,
          process: this.process,
          views: this.viewTimes(),
          heartbeatAt: new Date(this.clock.now()),
        });
        this.registered = true;
        this.ensureTimer();
      } catch (e) {
        this.o.onError?.(e);
      }
    });
    return this.writing;
  }

  /** Stops heartbeating and unregisters: from now on this process holds no file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    if (!this.registered) return;
    try {
      await this.o.readers.remove(this.id);
    } catch (e) {
      this.o.onError?.(e);
    }
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.publish(), this.heartbeatMs);
    // A heartbeat never keeps a finished command alive.
    this.timer.unref();
  }
}

/** `host pid command` (`box 4242 finmesh stream`), so a kept file names who holds it. */
export function describeProcess(): string {
  const script = basename(process.argv[1] ?? 'node').replace(/\.[cm]?[jt]s$/, '');
  const command = script === 'finmesh' ? process.argv.slice(2).find((a) => !a.startsWith('-')) : undefined;
  return `${processName()} ${script}${command ? ` ${command}` : ''}`;
}
