import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { FinmeshError } from '../../src/core/errors.js';
import { verifyAuditChain } from '../../src/metadata/audit-chain.js';
import type { AuditEntry, LakeFile, MetadataStore, RunLogLine } from '../../src/metadata/metadata-store.js';

/** A store under test, and a way to open a second connection to the same store (another process would). */
export interface MetadataFixture {
  store: MetadataStore;
  /** Another store instance on the same database (its own connection). */
  openAnother(clock: ManualClock): Promise<MetadataStore>;
}

/**
 * The behaviour every metadata adapter must show. `make` opens a fresh, empty store whose timestamps come from
 * `clock`. Names are unique per test, so adapters whose databases outlive a test stay correct.
 */
export function describeMetadataContract(
  name: string,
  make: (clock: ManualClock) => Promise<MetadataFixture>,
  options: { skip?: string } = {},
): void {
  describe(`metadata contract: ${name}`, { skip: options.skip }, () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12));
    let fx: MetadataFixture;
    let meta: MetadataStore;
    const unique = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
    before(async () => {
      fx = await make(clock);
      meta = fx.store;
    });
    after(async () => {
      await meta?.close();
    });

    describe('runs', () => {
      it('records a run from start to finish, refuses a second start of the same id and a finish of an unknown one', async () => {
        const job = unique('model:x');
        const runId = randomUUID();
        const startedAt = new Date(clock.now());
        await meta.runs.start({ runId, job, kind: 'model', startedAt });
        const [running] = await meta.runs.list({ job });
        assert.equal(running?.status, 'running');
        assert.equal(running?.startedAt.getTime(), startedAt.getTime());
        await assert.rejects(meta.runs.start({ runId, job, kind: 'model', startedAt }), (e: unknown) => isCode(e, 'CONFLICT'));
        await meta.runs.finish(runId, {
          status: 'succeeded',
          endedAt: new Date(clock.now() + 1500),
          rowsIn: 10,
          rowsOut: 7,
          rowsRejected: 3,
        });
        const [done] = await meta.runs.list({ job });
        assert.equal(done?.status, 'succeeded');
        assert.equal(done?.endedAt?.getTime(), startedAt.getTime() + 1500);
        assert.deepEqual([done?.rowsIn, done?.rowsOut, done?.rowsRejected], [10, 7, 3]);
        await assert.rejects(meta.runs.finish(randomUUID(), { status: 'failed', endedAt: new Date(), error: 'x' }), (e: unknown) =>
          isCode(e, 'NOT_FOUND'),
        );
      });

      it('keeps the log lines a run finished with, in order, and none for a run that had none', async () => {
        const job = unique('model:logged');
        const [a, b] = [randomUUID(), randomUUID()];
        const at = new Date(clock.now());
        await meta.runs.start({ runId: a, job, kind: 'model', startedAt: at });
        await meta.runs.start({ runId: b, job, kind: 'model', startedAt: at });
        const logs: RunLogLine[] = [
          { time: new Date(at.getTime() + 1), severity: 'INFO', message: 'read 3 files', fields: { files: 3, dataset: 'x' } },
          { time: new Date(at.getTime() + 2), severity: 'ERROR', message: `${job} failed: boom`, fields: { ok: false, none: null } },
        ];
        await meta.runs.finish(a, { status: 'failed', endedAt: new Date(at.getTime() + 3), error: 'boom', logs });
        await meta.runs.finish(b, { status: 'succeeded', endedAt: new Date(at.getTime() + 3) });
        assert.deepEqual(await meta.runs.logs(a), logs);
        assert.deepEqual(await meta.runs.logs(b), []);
        assert.deepEqual(await meta.runs.logs(randomUUID()), []);
      });

      it('keeps the warehouse jobs a run finished with (job id, bytes processed and billed, slot time), in order', async () => {
        const job = unique('model:warehouse');
        const [a, b] = [randomUUID(), randomUUID()];
        const at = new Date(clock.now());
        await meta.runs.start({ runId: a, job, kind: 'model', startedAt: at });
        await meta.runs.start({ runId: b, job, kind: 'model', startedAt: at });
        // Beyond 2^31: a big query's bytes do not fit a 32-bit integer.
        const jobs = [
          { jobId: 'job_b', bytesProcessed: 12_884_901_888, bytesBilled: 12_884_901_888, slotMs: 4_200 },
          { jobId: 'job_a', bytesProcessed: 0, bytesBilled: 10_485_760, slotMs: 0 },
        ];
        await meta.runs.finish(a, { status: 'succeeded', endedAt: new Date(at.getTime() + 3), warehouseJobs: jobs });
        await meta.runs.finish(b, { status: 'succeeded', endedAt: new Date(at.getTime() + 3) });
        assert.deepEqual(await meta.runs.warehouseJobs(a), jobs);
        assert.deepEqual(await meta.runs.warehouseJobs(b), []);
        assert.deepEqual(await meta.runs.warehouseJobs(randomUUID()), []);
      });

      it('lists newest first, filtered by job, parent and status, within a limit', async () => {
        const job = unique('ingest:y');
        const parent = randomUUID();
        for (let i = 0; i < 5; i++) {
          const runId = randomUUID();
          await meta.runs.start({
            runId,
            job,
            kind: 'ingest',
            parentRunId: i < 3 ? parent : undefined,
            startedAt: new Date(clock.now() + i * 1000),
          });
          if (i % 2 === 0)
            await meta.runs.finish(runId, { status: 'failed', endedAt: new Date(clock.now() + i * 1000 + 10), error: `boom ${i}` });
        }
        const all = await meta.runs.list({ job });
        assert.equal(all.length, 5);
        assert.deepEqual(
          all.map((r) => r.startedAt.getTime()),
          [4, 3, 2, 1, 0].map((i) => clock.now() + i * 1000),
        );
        assert.equal((await meta.runs.list({ job, parentRunId: parent })).length, 3);
        const failed = await meta.runs.list({ job, status: 'failed' });
        assert.deepEqual(
          failed.map((r) => r.error),
          ['boom 4', 'boom 2', 'boom 0'],
        );
        assert.equal((await meta.runs.list({ job, limit: 2 })).length, 2);
      });

      it('fails a running run whose heartbeat stopped, keeps one that heartbeats, and lets a late finish win', async () => {
        const job = unique('stream:z');
        const dead = randomUUID();
        const alive = randomUUID();
        const t0 = clock.now();
        await meta.runs.start({ runId: dead, job, kind: 'stream', startedAt: new Date(t0) });
        await meta.runs.start({ runId: alive, job, kind: 'stream', startedAt: new Date(t0) });
        await meta.runs.heartbeat([alive, randomUUID()], new Date(t0 + 50_000));
        const expired = await meta.runs.expire(new Date(t0 + 30_000), new Date(t0 + 70_000));
        const mine = expired.filter((r) => r.job === job);
        assert.deepEqual(
          mine.map((r) => r.runId),
          [dead],
        );
        assert.equal(mine[0]?.status, 'failed');
        assert.match(mine[0]?.error ?? '', /no heartbeat since/);
        const byId = new Map((await meta.runs.list({ job })).map((r) => [r.runId, r]));
        assert.equal(byId.get(dead)?.status, 'failed');
        assert.equal(byId.get(alive)?.status, 'running');
        assert.equal(byId.get(alive)?.heartbeatAt?.getTime(), t0 + 50_000);
        assert.deepEqual(
          await meta.runs.expire(new Date(t0 + 30_000), new Date(t0 + 70_000)).then((r) => r.filter((x) => x.job === job)),
          [],
        );
        await meta.runs.finish(dead, { status: 'succeeded', endedAt: new Date(t0 + 80_000) });
        assert.equal((await meta.runs.list({ job })).find((r) => r.runId === dead)?.status, 'succeeded');
      });
    });

    describe('manifest', () => {
      const file = (key: string, rows = 10) => ({ key, partition: 'dt=2026-11-27', rows, bytes: rows * 100 });

      it('commits files with increasing seqs; a reader sees exactly the live ones, in commit order', async () => {
        const ds = unique('payments/bronze/tx');
        const s1 = await meta.manifest.commit({ dataset: ds, runId: 'r1', add: [file(`${ds}/a`), file(`${ds}/b`)], replace: [] });
        const s2 = await meta.manifest.commit({ dataset: ds, runId: 'r2', add: [file(`${ds}/c`, 5)], replace: [] });
        assert.ok(s2 > s1);
        const live = await meta.manifest.liveFiles(ds);
        assert.deepEqual(
          live.map((f) => f.key),
          [`${ds}/a`, `${ds}/b`, `${ds}/c`],
        );
        assert.equal(live.at(-1)?.seq, s2);
        assert.deepEqual([live[0]?.rows, live[0]?.bytes, live[0]?.partition, live[0]?.runId], [10, 1000, 'dt=2026-11-27', 'r1']);
        const summary = (await meta.manifest.summaries()).find((s) => s.dataset === ds);
        assert.deepEqual([summary?.files, summary?.rows, summary?.bytes], [3, 25, 2500]);
      });

      it('replaces files atomically, and a replayed key is live once', async () => {
        const ds = unique('payments/silver/tx');
        await meta.manifest.commit({ dataset: ds, runId: 'r1', add: [file(`${ds}/v1`)], replace: [] });
        clock.advance(1000);
        await meta.manifest.commit({ dataset: ds, runId: 'r2', add: [file(`${ds}/v2`)], replace: [`${ds}/v1`] });
        await meta.manifest.commit({ dataset: ds, runId: 'r3', add: [file(`${ds}/v2`, 11)], replace: [] });
        const live = await meta.manifest.liveFiles(ds);
        assert.deepEqual(
          live.map((f) => [f.key, f.rows]),
          [[`${ds}/v2`, 11]],
        );
        clock.advance(1000);
        const retired = (await meta.manifest.retired(new Date(clock.now()))).filter((f) => f.dataset === ds);
        assert.deepEqual(
          retired.map((f) => f.key),
          [`${ds}/v1`],
          'v2 is retired once but live again under the same key, so its object must stay',
        );
        assert.ok(retired[0] && retired[0].retiredAt.getTime() < clock.now());
        assert.equal((await meta.manifest.retired(new Date(clock.now() - 5000))).filter((f) => f.dataset === ds).length, 0);
        assert.equal(await meta.manifest.knows(`${ds}/v1`), true);
        await meta.manifest.forget([`${ds}/v1`, `${ds}/v2`]);
        assert.equal(await meta.manifest.knows(`${ds}/v1`), false);
        assert.equal((await meta.manifest.liveFiles(ds)).length, 1, 'forget never touches a live file');
        assert.equal(await meta.manifest.knows(`${ds}/never`), false);
      });

      it('keeps each file’s column sizes as its writer gave them, opaque, and nothing for a file written without them', async () => {
        const ds = unique('payments/silver/sized');
        const sizes = JSON.stringify({ amount: 1234, 'we"ird.name': 5, payer: 2 ** 40 });
        await meta.manifest.commit({
          dataset: ds,
          runId: 'r1',
          add: [{ ...file(`${ds}/a`), columnBytes: sizes }, file(`${ds}/b`)],
          replace: [],
        });
        assert.deepEqual(
          (await meta.manifest.liveFiles(ds)).map((f) => [f.key, f.columnBytes]),
          [
            [`${ds}/a`, sizes],
            [`${ds}/b`, undefined],
          ],
        );
      });

      it('records what a merged file holds (its dataSeq), and refuses a merge whose files another commit replaced first', async () => {
        const ds = unique('payments/bronze/merged');
        await meta.manifest.commit({ dataset: ds, runId: 'r1', add: [file(`${ds}/a`)], replace: [] });
        const b = await meta.manifest.commit({ dataset: ds, runId: 'r2', add: [file(`${ds}/b`)], replace: [] });
        const c = await meta.manifest.commit({ dataset: ds, runId: 'r3', add: [file(`${ds}/c`)], replace: [] });
        assert.deepEqual(
          (await meta.manifest.liveFiles(ds)).map((f) => f.dataSeq - f.seq),
          [0, 0, 0],
          'a file holds its own data',
        );
        const merge = (key: string) => ({
          dataset: ds,
          runId: 'compact',
          add: [{ ...file(key, 20), dataSeq: b }],
          replace: [`${ds}/a`, `${ds}/b`],
          replaceMustBeLive: true,
        });
        const m = await meta.manifest.commit(merge(`${ds}/ab`));
        assert.deepEqual(
          (await meta.manifest.liveFiles(ds)).map((f) => [f.key, f.seq, f.dataSeq]),
          [
            [`${ds}/c`, c, c],
            [`${ds}/ab`, m, b],
          ],
        );
        // A second merge of the same files: nothing of it is committed, not even a checkpoint that came with it.
        const source = unique('src');
        await assert.rejects(
          meta.manifest.commit({ ...merge(`${ds}/ab2`), checkpoint: { source, value: '9' } }),
          (e: unknown) => e instanceof FinmeshError && e.code === 'CONFLICT' && e.message.includes(`${ds}/a is no longer live`),
        );
        assert.deepEqual(
          (await meta.manifest.liveFiles(ds)).map((f) => f.key),
          [`${ds}/c`, `${ds}/ab`],
        );
        assert.equal(await meta.manifest.knows(`${ds}/ab2`), false);
        assert.equal(await meta.checkpoints.get(source), undefined);
        // Without the flag, replacing a file no longer live is what a rebuild does: no error.
        await meta.manifest.commit({ dataset: ds, runId: 'r4', add: [file(`${ds}/d`)], replace: [`${ds}/a`] });
        assert.equal((await meta.manifest.liveFiles(ds)).length, 3);
      });

      it('keeps the schema and merges consumed input positions; the checkpoint moves with the files', async () => {
        const ds = unique('payments/silver/y');
        const source = unique('source:tx');
        assert.equal(await meta.manifest.state(ds), undefined);
        await meta.manifest.commit({
          dataset: ds,
          runId: 'r1',
          add: [file(`${ds}/1`)],
          replace: [],
          schema: [{ name: 'id', type: 'VARCHAR' }],
          inputs: { a: 3 },
          checkpoint: { source, value: '42' },
        });
        await meta.manifest.commit({ dataset: ds, runId: 'r2', add: [], replace: [], inputs: { b: 7 } });
        const state = await meta.manifest.state(ds);
        assert.deepEqual(state?.schema, [{ name: 'id', type: 'VARCHAR' }]);
        assert.deepEqual(state?.inputs, { a: 3, b: 7 });
        const cp = await meta.checkpoints.get(source);
        assert.equal(cp?.value, '42');
        assert.equal(cp?.updatedAt.getTime(), clock.now());
        const times = await meta.manifest.commitTimes(ds, new Date(0));
        assert.equal(times.length, 1);
      });

      it('orders commits totally: a reader polling from another connection never misses a file committed concurrently', async () => {
        const other = await fx.openAnother(clock);
        try {
          const ds = unique('payments/bronze/concurrent');
          const writers = [meta, other].map(async (m, w) => {
            for (let i = 0; i < 40; i++)
              await m.manifest.commit({ dataset: ds, runId: `w${w}`, add: [file(`${ds}/${w}-${i}`, 1)], replace: [] });
          });
          const seen = new Map<string, LakeFile>();
          let consumed = 0;
          let writing = true;
          const done = Promise.all(writers).finally(() => {
            writing = false;
          });
          const poll = async () => {
            for (const f of await other.manifest.liveFiles(ds)) {
              if (f.seq > consumed) seen.set(f.key, f);
            }
            consumed = Math.max(consumed, ...[...seen.values()].map((f) => f.seq));
          };
          while (writing) await poll();
          await done;
          await poll();
          const all = await meta.manifest.liveFiles(ds);
          assert.equal(all.length, 80);
          assert.equal(new Set(all.map((f) => f.seq)).size, 80, 'every seq unique');
          assert.deepEqual([...seen.keys()].sort(), all.map((f) => f.key).sort(), 'an incremental reader saw every file');
        } finally {
          await other.close();
        }
      });
    });

    describe('checkpoints, ledger, leases', () => {
      it('keeps a checkpoint per source with when it moved', async () => {
        const s = unique('source:cp');
        assert.equal(await meta.checkpoints.get(s), undefined);
        await meta.checkpoints.set(s, '1');
        clock.advance(5000);
        await meta.checkpoints.set(s, '2');
        const cp = await meta.checkpoints.get(s);
        assert.deepEqual([cp?.value, cp?.updatedAt.getTime()], ['2', clock.now()]);
      });

      it('finds content by hash under any name, the last ingested hash of a path, and files per UTC day', async () => {
        const source = unique('acquirer');
        const day = Date.UTC(2026, 10, 26, 23, 30);
        const entry = (path: string, sha256: string, status: string, seenAt: number) => ({
          source,
          path,
          size: 100,
          mtime: new Date(day - 60_000),
          sha256,
          status,
          runId: 'r',
          seenAt: new Date(seenAt),
        });
        assert.equal(await meta.ledger.find(source, 'aa'), undefined);
        await meta.ledger.record(entry('/out/a.txt', 'aa', 'ingested', day));
        await meta.ledger.record(entry('/out/a-copy.txt', 'aa', 'duplicate', day + 3_600_000));
        await meta.ledger.record(entry('/out/a.txt', 'bb', 'ingested', day + 7_200_000));
        await meta.ledger.record(entry('/out/c.txt', 'cc', 'quarantined', day + 7_300_000));
        const first = await meta.ledger.find(source, 'aa');
        assert.deepEqual(
          [first?.path, first?.status, first?.seenAt.getTime(), first?.mtime.getTime()],
          ['/out/a.txt', 'ingested', day, day - 60_000],
        );
        assert.equal((await meta.ledger.lastIngested(source, '/out/a.txt'))?.sha256, 'bb');
        assert.equal(await meta.ledger.lastIngested(source, '/out/c.txt'), undefined);
        assert.equal((await meta.ledger.lastSeen(source, '/out/c.txt'))?.status, 'quarantined');
        assert.equal((await meta.ledger.lastSeen(source, '/out/a-copy.txt'))?.status, 'duplicate');
        assert.equal(await meta.ledger.lastSeen(source, '/out/never.txt'), undefined);
        // A file whose last line was still being written: what loaded of it, kept with the entry.
        await meta.ledger.record({
          ...entry('/out/grow.txt', 'dd', 'ingested', day + 7_400_000),
          loadedBytes: 60,
          loadedLines: 3,
          prefixSha256: 'ee',
        });
        const grown = await meta.ledger.lastIngested(source, '/out/grow.txt');
        assert.deepEqual([grown?.size, grown?.loadedBytes, grown?.loadedLines, grown?.prefixSha256], [100, 60, 3, 'ee']);
        await meta.ledger.record({ ...entry('/out/grow.txt', 'dd', 'ingested', day + 7_500_000), loadedBytes: 100, loadedLines: 5 });
        const whole = await meta.ledger.lastIngested(source, '/out/grow.txt');
        assert.deepEqual(
          [whole?.loadedBytes, whole?.loadedLines, whole?.prefixSha256],
          [100, 5, undefined],
          'the same content recorded again replaces its row',
        );
        const days = await meta.ledger.days(source, new Date(day - 86_400_000));
        assert.equal(days.firstSeen?.getTime(), day);
        assert.deepEqual(Object.fromEntries(days.ingested), { '2026-11-26': 1, '2026-11-27': 2 });
        // The ledger as the console's partner-files page lists it: every sighting, newest first, duplicates included.
        assert.deepEqual(
          (await meta.ledger.list(source)).filter((e) => e.path !== '/out/grow.txt').map((e) => [e.path, e.status, e.size]),
          [
            ['/out/c.txt', 'quarantined', 100],
            ['/out/a.txt', 'ingested', 100],
            ['/out/a-copy.txt', 'duplicate', 100],
            ['/out/a.txt', 'ingested', 100],
          ],
        );
        assert.equal((await meta.ledger.list(source, 2)).length, 2);
        assert.deepEqual(await meta.ledger.list(unique('nobody')), []);
      });

      it('shares a source between readers by leases: one owner per part, a dead owner’s part taken over', async () => {
        const scope = unique('cosmos');
        const other = await fx.openAnother(clock);
        try {
          await meta.leases.ensure(scope, [
            { rangeId: 'r0', range: '{"min":"","max":"80"}' },
            { rangeId: 'r1', range: '{"min":"80","max":"FF"}' },
          ]);
          await other.leases.ensure(scope, [{ rangeId: 'r0', range: 'ignored: already known' }]);
          const t = clock.now();
          const a = await meta.leases.acquire(scope, 'A', t, 10_000);
          assert.deepEqual(
            a.map((l) => l.rangeId),
            ['r0', 'r1'],
          );
          assert.equal(a[0]?.range, '{"min":"","max":"80"}');
          assert.deepEqual(await other.leases.acquire(scope, 'B', t + 5000, 10_000), [], 'A is alive');
          assert.equal(await meta.leases.advance(scope, 'r0', 'A', 'tok-1', t + 6000), true);
          assert.equal(await other.leases.advance(scope, 'r0', 'B', 'tok-x', t + 6000), false, 'only the owner moves a part');
          await meta.leases.heartbeat(scope, 'A', t + 6000);
          const b = await other.leases.acquire(scope, 'B', t + 17_000, 10_000);
          assert.deepEqual(
            b.map((l) => [l.rangeId, l.continuation]),
            [
              ['r0', 'tok-1'],
              ['r1', undefined],
            ],
            'A stopped heartbeating: B takes over from the last continuation',
          );
          await other.leases.release(scope, 'B');
          assert.deepEqual(
            (await meta.leases.list(scope)).map((l) => l.owner),
            [undefined, undefined],
          );
        } finally {
          await other.close();
        }
      });
    });

    describe('check results, lineage, lake readers', () => {
      it('stores check results and lists them newest first, by product and since', async () => {
        const product = unique('payments.tx');
        const r = (checkId: string, at: number, status: 'pass' | 'fail') => ({
          runId: 'r',
          checkId,
          product,
          column: checkId === 'a' ? 'amount' : undefined,
          rule: 'nullValues',
          severity: 'error' as const,
          status,
          value: at % 7,
          expected: 'mustBe 0',
          message: `m ${checkId}`,
          at: new Date(at),
        });
        const t = clock.now();
        await meta.checks.record([r('a', t, 'pass'), r('b', t + 1000, 'fail')]);
        const all = await meta.checks.list({ product });
        assert.deepEqual(
          all.map((x) => [x.checkId, x.status, x.column]),
          [
            ['b', 'fail', undefined],
            ['a', 'pass', 'amount'],
          ],
        );
        assert.equal(all[1]?.value, t % 7);
        assert.equal((await meta.checks.list({ product, since: new Date(t + 500) })).length, 1);
      });

      it('appends lineage events and returns them in arrival order, JSON intact', async () => {
        const name = unique('model:payments.tx');
        const before = (await meta.lineage.list()).length;
        for (const type of ['START', 'COMPLETE']) {
          await meta.lineage.record({
            runId: 'r',
            eventType: type,
            eventTime: '2026-11-27T12:00:00.000Z',
            jobNamespace: 'finmesh://fintech',
            jobName: name,
            event: { eventType: type, nested: { a: [1, 'dois', null] }, text: 'ção' },
          });
        }
        const events = (await meta.lineage.list()).slice(before).filter((e) => e.jobName === name);
        assert.deepEqual(
          events.map((e) => e.eventType),
          ['START', 'COMPLETE'],
        );
        assert.deepEqual(events[1]?.event, { eventType: 'COMPLETE', nested: { a: [1, 'dois', null] }, text: 'ção' });
      });

      it('registers lake readers with their views, lists the live ones, forgets a removed one', async () => {
        const id = unique('reader');
        const t = clock.now();
        await meta.readers.upsert({ id, process: 'host 1 query', views: { 'payments/bronze/tx': t }, heartbeatAt: new Date(t) });
        await meta.readers.upsert({ id, process: 'host 1 query', views: { 'payments/bronze/tx': t + 5 }, heartbeatAt: new Date(t + 10) });
        const live = (await meta.readers.list(new Date(t))).filter((r) => r.id === id);
        assert.deepEqual(live[0]?.views, { 'payments/bronze/tx': t + 5 });
        assert.equal((await meta.readers.list(new Date(t + 11))).filter((r) => r.id === id).length, 0, 'stale readers are not live');
        await meta.readers.remove(id);
        assert.equal((await meta.readers.list(new Date(0))).filter((r) => r.id === id).length, 0);
      });
    });

    describe('audit log', () => {
      const entry = (actor: string, i: number, details: Record<string, unknown> = {}): AuditEntry => ({
        at: new Date(clock.now() + i),
        kind: i % 2 === 0 ? 'read' : 'decision',
        actor,
        principal: `token:${actor}`,
        action: 'query',
        resource: 'payments_gold.daily_volume_by_method',
        outcome: i % 2 === 0 ? 'ok' : 'deny',
        details: { rows: i, columns: ['day', 'total_amount'], nested: { b: 1, a: [1, 'x'] }, ...details },
      });

      it('appends records in a hash chain that verifies, and lists them in order by kind, actor and time', async () => {
        const actor = unique('persona');
        const appended = [];
        for (let i = 0; i < 4; i++) appended.push(await meta.audit.append(entry(actor, i)));
        for (let i = 1; i < appended.length; i++) {
          assert.equal(appended[i]?.seq, (appended[i - 1]?.seq ?? 0) + 1, 'seqs follow each other');
          assert.equal(appended[i]?.prevHash, appended[i - 1]?.hash, 'each record links to the one before');
        }
        const mine = await meta.audit.list({ actor });
        assert.deepEqual(
          mine.map((r) => r.hash),
          appended.map((r) => r.hash),
        );
        assert.deepEqual(mine[0]?.details, entry(actor, 0).details, 'details come back as written');
        assert.equal(mine[1]?.principal, `token:${actor}`);
        assert.equal((await meta.audit.list({ actor, kind: 'read' })).length, 2);
        assert.equal((await meta.audit.list({ actor, since: new Date(clock.now() + 2) })).length, 2);
        assert.equal((await meta.audit.list({ actor, afterSeq: appended[2]?.seq })).length, 1);
        assert.equal((await meta.audit.list({ actor, limit: 3 })).length, 3);
        const verdict = verifyAuditChain(await meta.audit.list());
        assert.ok(verdict.ok, JSON.stringify(verdict.problems));
        assert.equal(verdict.head, (await meta.audit.list()).at(-1)?.hash);
      });

      it('never forks the chain when two connections append at once', async () => {
        const other = await fx.openAnother(clock);
        try {
          const actor = unique('concurrent');
          await Promise.all(
            Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? meta : other).audit.append(entry(actor, i, { writer: i % 2 }))),
          );
          const all = await meta.audit.list();
          assert.deepEqual(
            all.map((r) => r.seq),
            all.map((_, i) => i + 1),
            'one seq per record, none skipped',
          );
          const verdict = verifyAuditChain(all);
          assert.ok(verdict.ok, JSON.stringify(verdict.problems));
          assert.equal((await meta.audit.list({ actor })).length, 20);
        } finally {
          await other.close();
        }
      });
    });

    describe('usage', () => {
      it('merges rows of a day and keeps a run’s rows its own: sums add, gauges keep the larger', async () => {
        const component = unique('transform');
        const day = Date.UTC(2026, 10, 3, 8);
        const base = { component, domain: 'payments', product: 'transactions', costCenter: 'CC-1100' };
        await meta.usage.record([
          { ...base, at: new Date(day), meter: 'engine.bytes_scanned', quantity: 1000, attributes: { input: 'a', zone: 'bronze' } },
          {
            ...base,
            at: new Date(day + 3600_000),
            meter: 'engine.bytes_scanned',
            quantity: 500.5,
            attributes: { zone: 'bronze', input: 'a' },
          },
          { ...base, at: new Date(day), meter: 'metric.series', quantity: 40, aggregate: 'max' },
          { ...base, at: new Date(day + 60_000), meter: 'metric.series', quantity: 25, aggregate: 'max' },
          { ...base, at: new Date(day), runId: 'run-1', meter: 'compute.cpu_seconds', quantity: 0.25 },
          { ...base, at: new Date(day), runId: 'run-2', meter: 'compute.cpu_seconds', quantity: 0.5 },
        ]);
        await meta.usage.record([
          { ...base, at: new Date(day + 7200_000), meter: 'engine.bytes_scanned', quantity: 1, attributes: { input: 'a', zone: 'bronze' } },
        ]);
        const rows = (await meta.usage.list({ since: new Date(day), until: new Date(day + 86_400_000) })).filter(
          (r) => r.component === component,
        );
        const scanned = rows.filter((r) => r.meter === 'engine.bytes_scanned');
        assert.equal(scanned.length, 1, 'the same attributes in another order are the same row');
        assert.equal(scanned[0]?.quantity, 1501.5);
        assert.deepEqual(scanned[0]?.attributes, { input: 'a', zone: 'bronze' });
        assert.equal(scanned[0]?.day, '2026-11-03');
        assert.equal(scanned[0]?.firstAt.getTime(), day);
        assert.equal(scanned[0]?.lastAt.getTime(), day + 7200_000);
        assert.equal(scanned[0]?.runId, undefined);
        assert.equal(scanned[0]?.source, undefined);
        assert.equal(scanned[0]?.costCenter, 'CC-1100');
        assert.equal(rows.find((r) => r.meter === 'metric.series')?.quantity, 40);
        const cpu = rows.filter((r) => r.meter === 'compute.cpu_seconds').sort((a, b) => (a.runId ?? '').localeCompare(b.runId ?? ''));
        assert.deepEqual(
          cpu.map((r) => [r.runId, r.quantity]),
          [
            ['run-1', 0.25],
            ['run-2', 0.5],
          ],
        );
        assert.deepEqual(
          (await meta.usage.list({ since: new Date(day), until: new Date(day + 86_400_000), runId: 'run-2' }))
            .filter((r) => r.component === component)
            .map((r) => r.meter),
          ['compute.cpu_seconds'],
        );
      });

      it('lists by day and meter, tells when a meter was last recorded, and refuses a negative quantity', async () => {
        const component = unique('lake');
        const d1 = Date.UTC(2026, 9, 30, 23, 59);
        const d2 = Date.UTC(2026, 9, 31, 0, 1);
        const d3 = Date.UTC(2026, 10, 1, 12);
        for (const at of [d1, d2, d3])
          await meta.usage.record([{ at: new Date(at), meter: 'storage.byte_seconds', quantity: 10, component }]);
        await meta.usage.record([{ at: new Date(d3), meter: 'storage.objects_written', quantity: 2, component }]);
        const october = (await meta.usage.list({ since: new Date(Date.UTC(2026, 9, 1)), until: new Date(Date.UTC(2026, 10, 1)) })).filter(
          (r) => r.component === component,
        );
        assert.deepEqual(
          october.map((r) => r.day),
          ['2026-10-30', '2026-10-31'],
        );
        const november = (await meta.usage.list({ since: new Date(Date.UTC(2026, 10, 1)), meters: ['storage.objects_written'] })).filter(
          (r) => r.component === component,
        );
        assert.deepEqual(
          november.map((r) => [r.meter, r.quantity]),
          [['storage.objects_written', 2]],
        );
        assert.ok(((await meta.usage.lastAt('storage.byte_seconds'))?.getTime() ?? 0) >= d3);
        assert.equal(await meta.usage.lastAt(unique('never.recorded')), undefined);
        await assert.rejects(
          meta.usage.record([
            { at: new Date(d3), meter: 'storage.objects_written', quantity: 1, component },
            { at: new Date(d3), meter: 'storage.objects_written', quantity: -1, component },
          ]),
          (e: unknown) => isCode(e, 'DATA_INVALID') && /quantity/.test((e as Error).message),
        );
        const after = (await meta.usage.list({ since: new Date(d3), meters: ['storage.objects_written'] })).filter(
          (r) => r.component === component,
        );
        assert.equal(after[0]?.quantity, 2, 'nothing of a refused call is kept');
      });

      it('is shared by every connection to the store', async () => {
        const component = unique('stream');
        const other = await fx.openAnother(clock);
        try {
          await other.usage.record([
            { at: new Date(clock.now()), meter: 'bus.messages', quantity: 3, component, source: 'core-transactions' },
          ]);
          const rows = (await meta.usage.list({ since: new Date(clock.now()) })).filter((r) => r.component === component);
          assert.deepEqual(
            rows.map((r) => [r.meter, r.quantity, r.source]),
            [['bus.messages', 3, 'core-transactions']],
          );
        } finally {
          await other.close();
        }
      });
    });

    describe('contract versions', () => {
      it('records a contract when its content changes, keeps each version with its document, and shares them', async () => {
        const product = unique('payments.transactions');
        const v1 = { version: '1.0.0', schema: [{ name: 't', properties: [{ name: 'id' }, { name: 'note' }] }] };
        const v2 = { version: '2.0.0', schema: [{ name: 't', properties: [{ name: 'id' }] }] };
        const t0 = clock.now();
        assert.equal(await meta.contracts.record({ product, version: '1.0.0', hash: 'h1', contract: v1, at: new Date(t0) }), true);
        assert.equal(
          await meta.contracts.record({ product, version: '1.0.0', hash: 'h1', contract: v1, at: new Date(t0 + 1000) }),
          false,
          'the same content again is not a new version',
        );
        const other = await fx.openAnother(clock);
        try {
          assert.equal(
            await other.contracts.record({ product, version: '2.0.0', hash: 'h2', contract: v2, at: new Date(t0 + 2000) }),
            true,
          );
          // Changed back: consumers meet the first content again, so the history says so.
          assert.equal(
            await other.contracts.record({ product, version: '1.0.0', hash: 'h1', contract: v1, at: new Date(t0 + 3000) }),
            true,
          );
          await other.contracts.record({ product: unique('other.product'), version: '1', hash: 'hx', contract: {}, at: new Date(t0) });
        } finally {
          await other.close();
        }
        const seen = await meta.contracts.list(product);
        assert.deepEqual(
          seen.map((v) => [v.version, v.hash, v.firstSeenAt.getTime() - t0]),
          [
            ['1.0.0', 'h1', 0],
            ['2.0.0', 'h2', 2000],
            ['1.0.0', 'h1', 3000],
          ],
        );
        assert.deepEqual(seen[1]?.contract, v2, 'the document comes back as it was recorded');
        assert.ok(
          (await meta.contracts.list()).some((v) => v.product !== product),
          'without a product: every product',
        );
      });

      it('records a new content once when two connections see it at once', async () => {
        const product = unique('payments.balances');
        const other = await fx.openAnother(clock);
        try {
          const at = new Date(clock.now());
          const recorded = await Promise.all(
            [meta, other, meta, other].map((m) => m.contracts.record({ product, version: '1.0.0', hash: 'same', contract: {}, at })),
          );
          assert.equal(recorded.filter(Boolean).length, 1);
          assert.equal((await meta.contracts.list(product)).length, 1);
        } finally {
          await other.close();
        }
      });
    });
  });
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof FinmeshError && e.code === code;
}
