import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { cli, copyExample } from '../helpers.js';

interface Monitoring {
  components: {
    component: string;
    logs: { quantity: number; bytes: number; cost: number };
    cost: number;
    saved: Record<string, { quantity: number; bytes: number; cost: number }>;
  }[];
}

/** The same workload on a fresh copy of the example, with `transform`'s logging set as given; its monitoring bill. */
function runWorkload(transform: Record<string, unknown>): Monitoring['components'][number] | undefined {
  const dir = copyExample();
  const file = join(dir, 'finmesh.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['logging', 'components'], { transform });
  writeFileSync(file, doc.toString());
  for (const args of [['generate', '--seconds', '2', '--rate', '100'], ['stream', '--until-caught-up', '--no-models'], ['run'], ['run']]) {
    const r = cli([...args, '--project', dir]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const r = cli(['cost', 'monitoring', '--project', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Monitoring).components.find((c) => c.component === 'transform');
}

describe('finmesh cost monitoring', () => {
  it('shows a lower logging bill for a component once its logs are sampled, on the same workload, and what sampling saved', () => {
    // Every model run logs its end at debug: two `finmesh run`s of the example's 11 models are 22 lines.
    const all = runWorkload({ level: 'debug' });
    const sampled = runWorkload({ level: 'debug', sampleRate: 0.2 });
    assert.ok(all && sampled);
    assert.equal(all.logs.quantity, 22, 'every debug line of the model runs is written');
    assert.equal(all.saved.sampled, undefined);
    assert.ok(all.logs.cost > 0);
    assert.ok(sampled.logs.quantity < all.logs.quantity, `${sampled.logs.quantity} lines written at 20%`);
    assert.ok(sampled.logs.cost < all.logs.cost, `bill ${sampled.logs.cost} < ${all.logs.cost}`);
    assert.ok(sampled.cost < all.cost, 'the component’s monitoring bill is lower');
    assert.equal(sampled.logs.quantity + (sampled.saved.sampled?.quantity ?? 0), 22, 'what sampling kept out is counted, line for line');
    assert.ok((sampled.saved.sampled?.cost ?? 0) > 0, 'and priced as a saving');
  });

  it('credits an exclusion with the lines it kept out, and the level with the debug lines nobody wrote', () => {
    const excluded = runWorkload({ level: 'debug', exclude: ['^model:customer'] });
    assert.ok(excluded);
    // customer_360 and customers end their runs with "model:customer… succeeded": 2 lines a run, two runs.
    assert.equal(excluded.saved.excluded?.quantity, 4);
    assert.equal(excluded.logs.quantity, 18);
    const info = runWorkload({});
    assert.equal(info?.logs.quantity ?? 0, 0, 'at the default info level the run lines are not written');
    assert.equal(info?.saved.level?.quantity, 22, 'and the level is credited with them');
  });
});
