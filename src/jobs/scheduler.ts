import type { Project } from '../config/project.js';
import { sleep } from '../core/sleep.js';
import { buildDag, selectModels } from '../engine/dag.js';

export interface ModelSchedulerOptions {
  /** Sources whose new changes should reach gold as soon as possible. */
  realTimeSources: string[];
  /** How often the other models run. */
  intervalMs: number;
  /** The first run waits for real-time changes, or until this time (ms since epoch), whichever comes first. */
  firstRunBy: number;
  /** Runs the models a selector picks (undefined: all); `realTime` when the run rebuilds the real-time branch. */
  run: (selector: string | undefined, realTime: boolean) => Promise<void>;
  /**
   * Work that must never overlap a model run (lake garbage collection), run every `everyMs` (0: never) between model
   * runs, once the first models ran. Its errors go to `onError` like a model run's.
   */
  between?: { everyMs: number; run: () => Promise<void> } | undefined;
  onError?: (e: unknown) => void;
}

/**
 * When models run while changes stream in. Everything runs once, when the first real-time changes are in bronze
 * (products' volume checks expect rows); then the models the real-time sources feed, and everything downstream of
 * them, run again as soon as new changes of those sources are committed, and the other models (reference data,
 * partner files) every `intervalMs`. One run at a time: the engine runs one model at a time, and a model must never
 * race its own next run. New real-time changes go first: the rest and the work between runs wait while real-time
 * commits are pending, unless they are a whole interval late (so neither starves under a steady feed). Event-to-gold
 * latency is then one bronze commit plus at most two runs of the real-time branch, instead of a whole interval plus a
 * rebuild of every product.
 */
export class ModelScheduler {
  /** The real-time branch and the rest, by product name. */
  readonly realTime: string[];
  readonly rest: string[];
  private commits = 0;
  private stopped = false;
  private flush = false;
  private loop: Promise<void> | undefined;
  private readonly sources: Set<string>;

  constructor(
    project: Project,
    private readonly o: ModelSchedulerOptions,
  ) {
    this.sources = new Set(o.realTimeSources);
    const { dag } = buildDag(project);
    const fed = dag.nodes.filter((n) => n.sources.some((s) => this.sources.has(s.name))).map((n) => `${n.product.name}+`);
    this.realTime = fed.length > 0 ? selectModels(dag, fed.join(' ')).map((n) => n.product.name) : [];
    this.rest = dag.nodes.map((n) => n.product.name).filter((n) => !this.realTime.includes(n));
  }

  /** Tells the scheduler a source committed a batch to bronze. */
  committed(source: string): void {
    if (this.sources.has(source)) this.commits++;
  }

  start(): void {
    this.loop ??= this.runLoop();
  }

  /**
   * Lets the running model run finish, then stops. With `flush`, real-time changes committed since the last real-time
   * run started are built first (one more run of the real-time branch): a caller that stops the feed, then the
   * scheduler, has every change it streamed in gold without waiting for whatever it does next.
   */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    if (options.flush) this.flush = true;
    this.stopped = true;
    await this.loop;
  }

  private async runLoop(): Promise<void> {
    while (!this.stopped && this.commits === 0 && Date.now() < this.o.firstRunBy) await sleep(100);
    if (this.stopped) return;
    let seen = this.commits;
    await this.guard(() => this.o.run(undefined, true));
    let nextRest = Date.now() + this.o.intervalMs;
    const between = this.o.between && this.o.between.everyMs > 0 ? this.o.between : undefined;
    let nextBetween = Date.now() + (between?.everyMs ?? 0);
    const pending = () => this.realTime.length > 0 && this.commits > seen;
    // Work that is due runs unless real-time changes wait, or once it is a whole period late whatever waits.
    const due = (next: number, period: number) => Date.now() >= next && (!pending() || Date.now() >= next + period);
    while (!this.stopped) {
      if (pending()) {
        seen = this.commits;
        await this.guard(() => this.o.run(this.realTime.join(' '), true));
        if (this.stopped) break;
      }
      if (between && due(nextBetween, between.everyMs)) {
        await this.guard(between.run);
        nextBetween = Date.now() + between.everyMs;
        if (this.stopped) break;
      }
      if (due(nextRest, this.o.intervalMs)) {
        const all = this.realTime.length === 0;
        if (all || this.rest.length > 0) await this.guard(() => this.o.run(all ? undefined : this.rest.join(' '), all));
        nextRest = Date.now() + this.o.intervalMs;
      }
      if (!pending()) await sleep(50);
    }
    if (this.flush && pending()) await this.guard(() => this.o.run(this.realTime.join(' '), true));
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.o.onError?.(e);
      await sleep(1000);
    }
  }
}
