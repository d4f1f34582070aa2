import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { addUsage } from '../../src/core/usage.js';
import type { UsageRow } from '../../src/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { Runs } from '../../src/runs/runs.js';
import { tempDir } from '../helpers.js';

/** Spends `ms` of this process's CPU time (not wall time: a loaded machine stretches the wall, not the work). */
function busy(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe('a run’s usage', () => {
  it('is its share of the CPU, its wall time, rows, lineage events and what was measured while it was the scope', async () => {
    const meta = await SqliteMetadataStore.create({ path: join(tempDir(), 'm.db') });
    const rows: UsageRow[] = [];
    const emitted: unknown[] = [];
    const runs = new Runs({
      meta,
      lineage: { emit: (e) => emitted.push(e) },
      logger: createLogger({ level: 'error' }),
      usage: {
        record: (r) => rows.push(...r),
        fold: (_m, a) => (a.path ? { input: a.path.split('/').slice(-2, -1).join('') } : a),
      },
    });
    try {
      const parent = await runs.start({ job: 'run', kind: 'run' });
      const child = await runs.start({
        job: 'model:transactions',
        kind: 'model',
        parent: { runId: parent.id, job: 'run' },
        labels: { domain: 'payments', product: 'transactions' },
        lineage: {
          start: (r) => ({ eventType: 'START', run: { runId: r.id } }) as never,
          end: (r) => ({ eventType: 'COMPLETE', run: { runId: r.id } }) as never,
        },
      });
      await child.measure(async () => {
        await new Promise((r) => setTimeout(r, 5));
        // what an adapter measures deep inside the work lands on the run, its attributes folded
        addUsage('engine.bytes_scanned', 1000, { path: '/lake/payments/bronze/transactions/x.parquet' });
        busy(150);
      });
      addUsage('engine.bytes_scanned', 7, { path: '/elsewhere/a/b' });
      child.meter('sftp.bytes', 42);
      await child.succeed({ rowsIn: 10, rowsOut: 8 });
      busy(20);
      await parent.succeed();
      const mine = rows.filter((r) => r.runId === child.id);
      const q = (meter: string) => mine.filter((r) => r.meter === meter).reduce((a, r) => a + r.quantity, 0);
      assert.ok(mine.every((r) => r.component === 'transform' && r.domain === 'payments' && r.product === 'transactions'));
      assert.ok(q('compute.cpu_seconds') >= 0.1, `the model run bore its busy CPU: ${q('compute.cpu_seconds')}`);
      const parentCpu = rows.filter((r) => r.runId === parent.id && r.meter === 'compute.cpu_seconds').reduce((a, r) => a + r.quantity, 0);
      assert.ok(parentCpu < q('compute.cpu_seconds') / 2, `the run around it did not bear it too: ${parentCpu}`);
      assert.ok(q('compute.wall_seconds') >= q('compute.cpu_seconds') * 0.5, 'wall time is measured too');
      assert.deepEqual([q('rows.in'), q('rows.out'), q('sftp.bytes'), q('lineage.events')], [10, 8, 42, 2]);
      assert.equal(emitted.length, 2);
      assert.deepEqual(
        mine.filter((r) => r.meter === 'engine.bytes_scanned').map((r) => [r.quantity, r.attributes]),
        [[1000, { input: 'transactions' }]],
        'usage outside the run’s scope is not the run’s',
      );
    } finally {
      await runs.close();
      await meta.close();
    }
  });
});
