import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationOf, formatDuration, isDuration, parseDuration } from '../../src/core/duration.js';
import { FinmeshError } from '../../src/core/errors.js';
import { retry } from '../../src/core/retry.js';

describe('durations, parsed in one place', () => {
  it('reads compact config durations and refuses anything else, naming where', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(isDuration('5 parsecs'), false);
    assert.throws(
      () => parseDuration('5x', 'finmesh.yaml: lake.gc.grace'),
      (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && /lake\.gc\.grace.*found "5x"/.test(e.message),
    );
  });

  it('reads SLA units as ODCS writes them: hours are hours, and an unknown unit is an error rather than minutes', () => {
    assert.equal(durationOf(2, 'hours'), 7_200_000);
    assert.equal(durationOf(2, 'h'), 7_200_000);
    assert.equal(durationOf(1, 'd'), 86_400_000);
    assert.equal(durationOf(1, 'days'), 86_400_000);
    assert.equal(durationOf(5, 'y'), 5 * 365 * 86_400_000);
    assert.throws(() => durationOf(2, 'fortnights', 'contract.odcs.yaml: slaProperties latency'), /slaProperties latency.*"fortnights"/);
  });

  it('prints durations as a person reads them', () => {
    assert.equal(formatDuration(250), '250 ms');
    assert.equal(formatDuration(90_000), '1m 30s');
    assert.equal(formatDuration(2 * 86_400_000 + 3_600_000), '2d 1h');
  });
});

describe('retry', () => {
  it('tries again with backoff, gives up saying how many attempts were made, and never retries a final error', async () => {
    let calls = 0;
    const ok = await retry(
      async () => {
        calls++;
        if (calls < 3) throw new Error('connection reset');
        return 'done';
      },
      { attempts: 3, initialDelayMs: 1 },
    );
    assert.equal(ok, 'done');
    assert.equal(calls, 3);
    await assert.rejects(
      retry(
        async () => {
          throw new Error('connection refused');
        },
        { attempts: 2, initialDelayMs: 1 },
      ),
      (e: unknown) => e instanceof FinmeshError && e.code === 'UNAVAILABLE' && /connection refused \(after 2 attempts\)/.test(e.message),
    );
    let permission = 0;
    await assert.rejects(
      retry(
        async () => {
          permission++;
          throw new FinmeshError('PERMISSION', 'host key mismatch');
        },
        { attempts: 5, initialDelayMs: 1 },
      ),
      /host key mismatch/,
    );
    assert.equal(permission, 1);
  });
});
