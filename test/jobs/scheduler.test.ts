import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { sleep } from '../../src/core/sleep.js';
import { ModelScheduler } from '../../src/jobs/scheduler.js';
import { EXAMPLE, waitFor } from '../helpers.js';

const runsReach = (runs: unknown[], n: number) => waitFor(() => (runs.length >= n ? true : undefined), 20_000, `${n} model runs`);

describe('model scheduling while changes stream in', () => {
  it('runs everything once, then the real-time branch on each new commit and the rest on its interval', async () => {
    const runs: { selector: string | undefined; realTime: boolean }[] = [];
    const scheduler = new ModelScheduler(loadProject(EXAMPLE), {
      realTimeSources: ['core-transactions'],
      intervalMs: 1500,
      firstRunBy: Date.now() + 60_000,
      run: async (selector, realTime) => {
        runs.push({ selector, realTime });
        await sleep(20);
      },
    });
    assert.ok(scheduler.realTime.includes('transactions') && scheduler.realTime.includes('daily_volume_by_method'));
    assert.ok(scheduler.realTime.includes('reconciliation'), 'gold reading transactions is in the real-time branch');
    assert.deepEqual(scheduler.rest.sort(), ['chargebacks', 'customers', 'merchants', 'settlements']);
    scheduler.start();
    await sleep(300);
    assert.equal(runs.length, 0, 'nothing runs before the first real-time changes (or the first deadline)');
    scheduler.committed('merchant-registry');
    await sleep(300);
    assert.equal(runs.length, 0, 'reference data alone does not start the real-time branch');
    const until = async (n: number) => {
      for (let i = 0; i < 200 && runs.length < n; i++) await sleep(50);
    };
    scheduler.committed('core-transactions');
    await until(1);
    assert.deepEqual(runs[0], { selector: undefined, realTime: true }, 'everything first');
    scheduler.committed('core-transactions');
    await until(2);
    scheduler.committed('core-transactions');
    await until(3);
    await until(4);
    await scheduler.stop();
    const realTime = runs.filter((r) => r.selector === scheduler.realTime.join(' '));
    const rest = runs.filter((r) => r.selector === scheduler.rest.join(' '));
    assert.equal(realTime.length, 2, 'once per batch of new commits');
    assert.ok(realTime.every((r) => r.realTime));
    assert.ok(rest.length >= 1 && rest.every((r) => !r.realTime), 'the rest on its interval, not counted as real-time');
    const after = runs.length;
    await sleep(500);
    assert.equal(runs.length, after, 'stopped');
  });

  it('runs the work that must not overlap a model run (lake gc) between model runs, on its own interval', async () => {
    const log: string[] = [];
    let busy = false;
    const exclusive = (name: string) => async () => {
      assert.equal(busy, false, `${name} started while another run was running`);
      busy = true;
      log.push(name);
      await sleep(30);
      busy = false;
    };
    const scheduler = new ModelScheduler(loadProject(EXAMPLE), {
      realTimeSources: ['core-transactions'],
      intervalMs: 60_000,
      firstRunBy: Date.now(),
      run: exclusive('models'),
      between: { everyMs: 200, run: exclusive('gc') },
    });
    scheduler.start();
    const feed = setInterval(() => scheduler.committed('core-transactions'), 20);
    for (let i = 0; i < 100 && log.filter((x) => x === 'gc').length < 3; i++) await sleep(50);
    clearInterval(feed);
    await scheduler.stop();
    assert.equal(log[0], 'models', 'the models run first');
    assert.ok(log.filter((x) => x === 'gc').length >= 3, log.join(' '));
    assert.ok(log.filter((x) => x === 'models').length > 3, 'models keep running in between');
  });

  it('stop({ flush }) builds the real-time changes committed since the last run began; a plain stop does not', async () => {
    for (const flush of [true, false]) {
      const runs: string[] = [];
      let release: () => void = () => undefined;
      const scheduler = new ModelScheduler(loadProject(EXAMPLE), {
        realTimeSources: ['core-transactions'],
        intervalMs: 60_000,
        firstRunBy: Date.now() + 60_000,
        run: async (selector) => {
          runs.push(selector === undefined ? 'all' : selector === scheduler.realTime.join(' ') ? 'real-time' : 'rest');
          // The second run waits until the test lets it finish: a change lands while it runs.
          if (runs.length === 2) await new Promise<void>((r) => (release = r));
        },
      });
      scheduler.start();
      scheduler.committed('core-transactions');
      await runsReach(runs, 1);
      scheduler.committed('core-transactions');
      await runsReach(runs, 2);
      scheduler.committed('core-transactions');
      const stopped = scheduler.stop(flush ? { flush: true } : {});
      release();
      await stopped;
      assert.deepEqual(runs, flush ? ['all', 'real-time', 'real-time'] : ['all', 'real-time'], `flush: ${flush}`);
    }
  });

  it('pending real-time changes go before the rest, which runs once no change waits', async () => {
    const runs: string[] = [];
    let busy: Promise<void> | undefined;
    let release: () => void = () => undefined;
    const scheduler = new ModelScheduler(loadProject(EXAMPLE), {
      realTimeSources: ['core-transactions'],
      intervalMs: 1000,
      firstRunBy: Date.now() + 60_000,
      run: async (selector) => {
        runs.push(selector === undefined ? 'all' : selector === scheduler.realTime.join(' ') ? 'real-time' : 'rest');
        if (busy) await busy;
      },
    });
    scheduler.start();
    scheduler.committed('core-transactions');
    await runsReach(runs, 1);
    // A real-time run holds the engine until the rest is due; a change lands meanwhile.
    busy = new Promise<void>((r) => (release = r));
    scheduler.committed('core-transactions');
    await runsReach(runs, 2);
    await sleep(1100); // the rest falls due (less than a whole interval late) while the real-time run holds the engine
    scheduler.committed('core-transactions');
    busy = undefined;
    release();
    await runsReach(runs, 4);
    await scheduler.stop();
    assert.deepEqual(runs.slice(0, 4), ['all', 'real-time', 'real-time', 'rest'], 'the waiting change first, then the rest');
  });
});
