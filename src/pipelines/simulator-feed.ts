import type { Source } from '../config/project.js';
import { uuidv7 } from '../core/ids.js';
import type { Metrics } from '../observability/metrics.js';
import type { ChangeEvent, FintechSimulator } from '../simulator/fintech-simulator.js';
import { writeBronzeBatch } from './bronze-writer.js';
import type { Context } from './context.js';

export interface FeedStats {
  /** Change events committed to bronze, per source. */
  events: Record<string, number>;
  batches: number;
}

/**
 * Feeds the simulated app's changes into the bronze datasets of the project's `simulator` sources. Each source
 * keeps an offset counter as its checkpoint, advanced only after the batch is committed, so batch file names
 * (source, first offset, last offset) are stable across restarts.
 */
export class SimulatorFeed {
  readonly stats: FeedStats = { events: {}, batches: 0 };
  private readonly byEntity = new Map<string, Source>();

  constructor(
    private readonly ctx: Context,
    private readonly simulator: FintechSimulator,
    private readonly options: { parentRunId?: string | undefined; metrics?: Metrics | undefined } = {},
  ) {
    for (const s of ctx.project.sources) if (s.config.kind === 'simulator') this.byEntity.set(s.config.entity, s);
  }

  /** Commits the customers and merchants the app starts with. */
  async seedReferenceData(): Promise<number> {
    return this.commitEvents(this.simulator.referenceData());
  }

  /** Advances the app by `ms` of simulated time and commits what it changed. */
  async step(ms: number): Promise<number> {
    const events = this.simulator.advance(ms);
    for (const e of events) this.options.metrics?.simulatorEvents.inc({ entity: e.entity });
    return this.commitEvents(events);
  }

  /** Commits change events, one bronze batch per entity. */
  async commitEvents(events: ChangeEvent[]): Promise<number> {
    const groups = new Map<string, { key: string; json: string }[]>();
    for (const e of events) {
      const lines = groups.get(e.entity) ?? [];
      lines.push({ key: e.doc.id, json: JSON.stringify(e.doc) });
      groups.set(e.entity, lines);
    }
    let total = 0;
    for (const [entity, lines] of groups) {
      const source = this.byEntity.get(entity);
      if (!source) continue;
      const checkpointKey = `simulator:${source.name}`;
      const first = Number(this.ctx.meta.getCheckpoint(checkpointKey) ?? '0') + 1;
      const last = first + lines.length - 1;
      const runId = uuidv7();
      const started = Date.now();
      this.ctx.meta.startRun({
        runId,
        job: `ingest:${source.name}`,
        kind: 'ingest',
        parentRunId: this.options.parentRunId,
        startedAt: new Date(started),
      });
      try {
        const records = lines.map((l, i) => ({ offset: first + i, op: 'upsert' as const, key: l.key, json: l.json }));
        const res = await writeBronzeBatch(this.ctx, {
          source,
          runId,
          firstOffset: first,
          lastOffset: last,
          input: { records },
          checkpoint: { source: checkpointKey, value: String(last) },
        });
        this.ctx.meta.finishRun(runId, { status: 'succeeded', endedAt: new Date(), rowsIn: lines.length, rowsOut: res.rows });
        const m = this.options.metrics;
        if (m) {
          m.sourceRecords.inc({ domain: source.domain, source: source.name }, res.rows);
          m.lakeFiles.inc({ domain: source.domain, zone: 'bronze' }, res.files.length);
          m.lakeBytes.inc({ domain: source.domain, zone: 'bronze' }, res.bytes);
          m.commitLatency.observe({ domain: source.domain, source: source.name }, (Date.now() - started) / 1000);
          m.lastSuccess.set({ domain: source.domain, zone: 'bronze', product: source.dataset.name }, Date.now() / 1000);
        }
        this.stats.events[source.name] = (this.stats.events[source.name] ?? 0) + res.rows;
        this.stats.batches++;
        total += res.rows;
      } catch (e) {
        this.ctx.meta.finishRun(runId, { status: 'failed', endedAt: new Date(), error: e instanceof Error ? e.message : String(e) });
        throw e;
      }
    }
    return total;
  }
}
