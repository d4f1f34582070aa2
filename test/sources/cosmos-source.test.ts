import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { type CosmosFeedApi, type CosmosPage, CosmosSource, type StartFrom } from '../../src/sources/changefeed/cosmos/cosmos-source.js';
import type { CosmosLeases } from '../../src/sources/changefeed/cosmos/lease-store.js';
import { scopedLeases } from '../../src/sources/changefeed/registry.js';
import { tempDir } from '../helpers.js';

/**
 * The SDK boundary scripted: each range serves pages in order and records where each read started, which is what
 * the processor above it decides. (The service itself is exercised by the live test below.)
 */
class ScriptedFeed implements CosmosFeedApi {
  readonly calls: { range: string; from: StartFrom }[] = [];
  constructor(private readonly pages: Record<string, CosmosPage[]>) {}
  async feedRanges() {
    return Object.keys(this.pages).map((rangeId) => ({
      rangeId,
      range: JSON.stringify({ minInclusive: rangeId, maxExclusive: `${rangeId}~` }),
    }));
  }
  async readPage(from: StartFrom) {
    const range =
      'continuation' in from ? from.continuation.split('@')[0] : JSON.parse('beginning' in from ? from.beginning : from.now).minInclusive;
    this.calls.push({ range, from });
    const queue = this.pages[range] ?? [];
    const page = queue.shift();
    return page ?? { status: 304, items: [], continuation: 'continuation' in from ? from.continuation : `${range}@0` };
  }
}

const item = (pk: string, id: string, lsn: number, extra: Record<string, unknown> = {}) => ({
  id,
  pk,
  _lsn: lsn,
  _ts: 1_764_000_000 + lsn,
  ...extra,
});

/** The leases of `scope` in the metadata store at `path`, as another process would open them. */
async function leasesAt(path: string, scope: string): Promise<CosmosLeases> {
  return scopedLeases((await SqliteMetadataStore.create({ path })).leases, scope);
}

async function source(
  api: CosmosFeedApi,
  leasesPath: string,
  owner = 'w1',
  mode: 'latestVersion' | 'allVersionsAndDeletes' = 'latestVersion',
) {
  return new CosmosSource({
    endpoint: 'https://example.documents.azure.com',
    key: 'unused',
    database: 'app',
    container: 'transactions',
    mode,
    startFrom: 'beginning',
    partitionKeyPath: '/pk',
    leases: await leasesAt(leasesPath, 'core-transactions'),
    owner,
    heartbeatMs: 200,
    api,
  });
}

describe('CosmosSource: finmesh’s change feed processor over the pull model', () => {
  it('reads every feed range, keys records by (partition key, id) with _lsn as offset, and treats 304 as idle', async () => {
    const path = join(tempDir(), 'meta.db');
    const api = new ScriptedFeed({
      r0: [{ status: 200, items: [item('c1', 't1', 10), item('c1', 't2', 11)], continuation: 'r0@11' }],
      r1: [{ status: 200, items: [item('c9', 't9', 4)], continuation: 'r1@4' }],
    });
    const src = await source(api, path);
    await src.open();
    const p1 = await src.read(undefined, 100);
    const p2 = await src.read(p1.checkpoint, 100);
    const records = [...p1.records, ...p2.records];
    assert.deepEqual(records.map((r) => [r.key, r.offset]).sort(), [
      ['c1|t1', 10],
      ['c1|t2', 11],
      ['c9|t9', 4],
    ]);
    assert.equal(records[0]?.eventTime, (1_764_000_000 + (records[0]?.offset ?? 0)) * 1000);
    const idle = await src.read(p2.checkpoint, 100);
    assert.equal(idle.records.length, 0, '304 on every range is an idle page');
    assert.ok(
      api.calls.some((c) => 'beginning' in c.from),
      'a range never read starts from the beginning',
    );
  });

  it('moves a lease’s continuation only on acknowledge, and a restart resumes from it', async () => {
    const path = join(tempDir(), 'meta.db');
    const api = new ScriptedFeed({
      r0: [
        { status: 200, items: [item('c1', 't1', 10)], continuation: 'r0@10' },
        { status: 200, items: [item('c1', 't3', 12)], continuation: 'r0@12' },
      ],
    });
    const first = await source(api, path);
    await first.open();
    const page = await first.read(undefined, 100);
    assert.equal(page.records.length, 1);
    const store = await leasesAt(path, 'core-transactions');
    assert.equal((await store.list())[0]?.continuation, undefined, 'not committed downstream yet');
    await first.acknowledge(page.checkpoint as string);
    assert.equal((await store.list())[0]?.continuation, 'r0@10');
    // Read the next page but crash before acknowledging it.
    assert.equal((await first.read(page.checkpoint, 100)).records.length, 1);
    const restarted = await source(api, path);
    await restarted.open();
    api.calls.length = 0;
    await restarted.read(undefined, 100);
    assert.deepEqual(api.calls[0]?.from, { continuation: 'r0@10' }, 'resumes at the last committed page');
  });

  it('a second worker takes no lease while the owner heartbeats, and takes them once it stops', async () => {
    const path = join(tempDir(), 'meta.db');
    const api = new ScriptedFeed({ r0: [], r1: [] });
    const w1 = await source(api, path, 'w1');
    await w1.open();
    assert.equal(w1.leases().length, 2);
    const w2 = await source(api, path, 'w2');
    await w2.open();
    assert.equal(w2.leases().length, 0);
    await new Promise((r) => setTimeout(r, 700));
    await w2.read(undefined, 10);
    assert.equal(w2.leases().length, 2, 'expired leases move to a live worker');
    assert.ok(!(await (await leasesAt(path, 'core-transactions')).advance('r0', 'w1', 'x')), 'the old owner can no longer move them');
  });

  it('AllVersionsAndDeletes: starts from now and turns deletes into tombstones', async () => {
    const path = join(tempDir(), 'meta.db');
    const api = new ScriptedFeed({
      r0: [
        {
          status: 200,
          items: [
            { current: item('c1', 't1', 20, { status: 'paid' }), metadata: { operationType: 'replace', lsn: 20 } },
            { previous: item('c1', 't1', 20), metadata: { operationType: 'delete', lsn: 21, id: 't1' } },
          ],
          continuation: 'r0@21',
        },
      ],
    });
    const src = await source(api, path, 'w1', 'allVersionsAndDeletes');
    await src.open();
    const page = await src.read(undefined, 10);
    assert.ok('now' in (api.calls[0]?.from ?? {}), 'the full-fidelity feed cannot start from the beginning');
    assert.deepEqual(
      page.records.map((r) => [r.key, r.op, r.offset]),
      [
        ['c1|t1', 'upsert', 20],
        ['c1|t1', 'delete', 21],
      ],
    );
  });

  const live = process.env.FINMESH_COSMOS_ENDPOINT && process.env.FINMESH_COSMOS_KEY;
  it('live: reads the change feed of a real Cosmos DB container', {
    skip: live
      ? false
      : 'set FINMESH_COSMOS_ENDPOINT and FINMESH_COSMOS_KEY (and FINMESH_COSMOS_DATABASE, FINMESH_COSMOS_CONTAINER) to run against Azure Cosmos DB',
  }, async () => {
    const { CosmosClient } = await import('@azure/cosmos');
    const endpoint = process.env.FINMESH_COSMOS_ENDPOINT as string;
    const key = process.env.FINMESH_COSMOS_KEY as string;
    const database = process.env.FINMESH_COSMOS_DATABASE ?? 'finmesh-test';
    const container = process.env.FINMESH_COSMOS_CONTAINER ?? 'transactions';
    const c = new CosmosClient({ endpoint, key });
    const { database: db } = await c.databases.createIfNotExists({ id: database });
    const { container: ct } = await db.containers.createIfNotExists({ id: container, partitionKey: { paths: ['/pk'] } });
    const src = new CosmosSource({
      endpoint,
      key,
      database,
      container,
      mode: 'latestVersion',
      startFrom: 'now',
      partitionKeyPath: '/pk',
      leases: await leasesAt(join(tempDir(), 'm.db'), 'live'),
      owner: 'live',
      heartbeatMs: 5000,
    });
    await src.open();
    let cp = (await src.read(undefined, 100)).checkpoint;
    const id = `live-${Date.now()}`;
    await ct.items.create({ id, pk: 'live', version: 1 });
    const seen: string[] = [];
    for (let i = 0; i < 30 && !seen.includes(`live|${id}`); i++) {
      const p = await src.read(cp, 100);
      seen.push(...p.records.map((r) => r.key));
      cp = p.checkpoint;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(seen.includes(`live|${id}`));
    await src.close();
  });
});
