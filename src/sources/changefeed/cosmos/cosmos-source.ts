import { FinmeshError } from '../../../core/errors.js';
import type { ChangeFeedSource, ChangePage, ChangeRecord, SourceLag } from '../change-feed-source.js';
import type { CosmosLeases, Lease } from './lease-store.js';

export type CosmosMode = 'latestVersion' | 'allVersionsAndDeletes';

/** Where a page read starts: a saved continuation, or the beginning / now of a feed range (JSON bounds). */
export type StartFrom = { continuation: string } | { beginning: string } | { now: string };

export interface CosmosPage {
  /** 200 with items, 304 when the range has nothing new. */
  status: number;
  items: Record<string, unknown>[];
  continuation: string;
}

/**
 * The slice of the Cosmos DB SDK the source uses: listing feed ranges and reading one change-feed page. The real
 * implementation (`sdkFeedApi`) wraps `@azure/cosmos`; everything above this line is finmesh's own change feed
 * processor, unit-tested without the service.
 */
export interface CosmosFeedApi {
  feedRanges(): Promise<{ rangeId: string; range: string }[]>;
  readPage(from: StartFrom, maxItems: number, mode: CosmosMode): Promise<CosmosPage>;
}

export interface CosmosSourceOptions {
  endpoint: string;
  key: string;
  database: string;
  container: string;
  mode: CosmosMode;
  startFrom: 'beginning' | 'now';
  partitionKeyPath: string;
  leases: CosmosLeases;
  owner: string;
  heartbeatMs: number;
  /** Injected in tests; the SDK otherwise. */
  api?: CosmosFeedApi;
}

/**
 * Azure Cosmos DB change feed, pull model, with a change feed processor of our own (JavaScript has none): one
 * lease per feed range in the metadata store (range, continuation, owner, heartbeat); ranges are read in turn;
 * a 304 page is idle, not an error; the SDK's continuation tokens follow partition splits. A lease's continuation
 * moves only in `acknowledge()`, after the downstream commit, so a crash replays from the last committed page.
 *
 * The checkpoint this source hands out is a JSON map rangeId → continuation. Records are keyed
 * `partitionKey|id` and their offset is the document's `_lsn`, so (partition key, id, _lsn) identifies a change.
 */
export class CosmosSource implements ChangeFeedSource {
  readonly kind = 'cosmos';
  private api: CosmosFeedApi | undefined;
  private owned: Lease[] = [];
  private cursors = new Map<string, string | undefined>();
  private next = 0;
  private lastHeartbeat = 0;

  constructor(private readonly options: CosmosSourceOptions) {}

  async open(): Promise<void> {
    if (this.api) return;
    this.api = this.options.api ?? (await sdkFeedApi(this.options));
    const ranges = await this.api.feedRanges();
    await this.options.leases.ensure(ranges);
    await this.acquire();
  }

  async read(_checkpoint: string | undefined, max: number): Promise<ChangePage> {
    const api = this.api;
    if (!api) throw new Error('CosmosSource.read before open');
    if (Date.now() - this.lastHeartbeat > this.options.heartbeatMs) await this.acquire();
    // Visit each owned range at most once per call; the first with changes answers.
    for (let i = 0; i < this.owned.length; i++) {
      const lease = this.owned[(this.next + i) % this.owned.length] as Lease;
      const token = this.cursors.get(lease.rangeId);
      const from: StartFrom = token
        ? { continuation: token }
        : this.options.startFrom === 'now' || this.options.mode === 'allVersionsAndDeletes'
          ? { now: lease.range }
          : { beginning: lease.range };
      let page: CosmosPage;
      try {
        page = await api.readPage(from, max, this.options.mode);
      } catch (cause) {
        throw new FinmeshError(
          'UNAVAILABLE',
          `Cosmos DB change feed ${this.options.database}/${this.options.container} range ${lease.rangeId}: ${(cause as Error).message}`,
          { cause },
        );
      }
      this.cursors.set(lease.rangeId, page.continuation);
      if (page.status === 304 || page.items.length === 0) continue;
      this.next = (this.next + i + 1) % this.owned.length;
      const checkpoint = JSON.stringify(Object.fromEntries(this.cursors));
      const records = page.items.map((item) => this.toRecord(item, checkpoint));
      return { records, checkpoint };
    }
    return { records: [], checkpoint: JSON.stringify(Object.fromEntries(this.cursors)) };
  }

  /** A change feed has no cheap "head": an all-idle read means caught up. */
  async head(): Promise<string | undefined> {
    return undefined;
  }

  reached(a: string | undefined, b: string | undefined): boolean {
    return b === undefined || a === b;
  }

  async acknowledge(checkpoint: string): Promise<void> {
    const tokens = JSON.parse(checkpoint) as Record<string, string | null>;
    for (const [rangeId, token] of Object.entries(tokens)) {
      if (!token) continue;
      if (!(await this.options.leases.advance(rangeId, this.options.owner, token))) {
        // Another worker took the lease (we were too slow to heartbeat): stop reading that range.
        this.owned = this.owned.filter((l) => l.rangeId !== rangeId);
        this.cursors.delete(rangeId);
      }
    }
  }

  async lag(): Promise<SourceLag> {
    return {};
  }

  async close(): Promise<void> {
    await this.options.leases.release(this.options.owner);
  }

  /** Leases this worker holds (for tests and `finmesh runs`). */
  leases(): Lease[] {
    return this.owned;
  }

  private async acquire(): Promise<void> {
    const now = Date.now();
    this.lastHeartbeat = now;
    this.owned = await this.options.leases.acquire(this.options.owner, now, this.options.heartbeatMs * 3);
    for (const l of this.owned) if (!this.cursors.has(l.rangeId)) this.cursors.set(l.rangeId, l.continuation);
    for (const id of [...this.cursors.keys()]) if (!this.owned.some((l) => l.rangeId === id)) this.cursors.delete(id);
  }

  private toRecord(item: Record<string, unknown>, checkpoint: string): ChangeRecord {
    let doc = item;
    let op: ChangeRecord['op'] = 'upsert';
    if (this.options.mode === 'allVersionsAndDeletes') {
      const meta = (item.metadata ?? {}) as { operationType?: string; lsn?: number; id?: string; partitionKey?: Record<string, unknown> };
      if (meta.operationType === 'delete') {
        op = 'delete';
        doc = {
          ...((item.previous as Record<string, unknown>) ?? {}),
          id: meta.id ?? (item.previous as { id?: string } | undefined)?.id,
          _lsn: meta.lsn,
        };
      } else {
        doc = {
          ...((item.current as Record<string, unknown>) ?? {}),
          _lsn: meta.lsn ?? (item.current as { _lsn?: number } | undefined)?._lsn,
        };
      }
    }
    const pk = valueAtPath(doc, this.options.partitionKeyPath);
    const lsn = Number(doc._lsn ?? 0);
    const ts = Number(doc._ts ?? 0);
    return {
      key: `${String(pk ?? '')}|${String(doc.id ?? '')}`,
      op,
      offset: lsn,
      eventTime: ts > 0 ? ts * 1000 : Date.now(),
      json: JSON.stringify(doc),
      checkpoint,
    };
  }
}

function valueAtPath(doc: Record<string, unknown>, path: string): unknown {
  let cur: unknown = doc;
  for (const p of path.split('/').filter(Boolean)) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

/** The SDK behind `CosmosFeedApi`, loaded only when a cosmos source runs. */
async function sdkFeedApi(o: CosmosSourceOptions): Promise<CosmosFeedApi> {
  const { CosmosClient, ChangeFeedStartFrom, ChangeFeedMode } = await import('@azure/cosmos');
  const container = new CosmosClient({ endpoint: o.endpoint, key: o.key }).database(o.database).container(o.container);
  const ranges = new Map<string, unknown>();
  return {
    async feedRanges() {
      const list = await container.getFeedRanges();
      return list.map((r) => {
        const range = JSON.stringify(r);
        const rangeId = `${(r as { minInclusive?: string }).minInclusive ?? ''}-${(r as { maxExclusive?: string }).maxExclusive ?? ''}`;
        ranges.set(range, r);
        return { rangeId, range };
      });
    },
    async readPage(from, maxItems, mode) {
      const start =
        'continuation' in from
          ? ChangeFeedStartFrom.Continuation(from.continuation)
          : 'beginning' in from
            ? ChangeFeedStartFrom.Beginning(ranges.get(from.beginning) as never)
            : ChangeFeedStartFrom.Now(ranges.get(from.now) as never);
      const it = container.items.getChangeFeedIterator<Record<string, unknown>>({
        changeFeedStartFrom: start,
        maxItemCount: maxItems,
        changeFeedMode: mode === 'allVersionsAndDeletes' ? ChangeFeedMode.AllVersionsAndDeletes : ChangeFeedMode.LatestVersion,
      });
      const res = await it.readNext();
      return { status: res.statusCode, items: (res.result ?? []) as Record<string, unknown>[], continuation: res.continuationToken };
    },
  };
}
