import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { prometheusRules } from '../../src/observability/alert-rules.js';
import { evaluateSlos, loadSlos } from '../../src/observability/slo.js';
import { EXAMPLE, tempDir } from '../helpers.js';

const DAY = 86_400_000;

describe('partner-file completeness SLO', () => {
  it('counts the whole days on which a source delivered fewer files than it promises', async () => {
    const project = loadProject(EXAMPLE);
    const slo = loadSlos(project).find((s) => s.name === 'partners-acquirer-settlements-completeness');
    assert.ok(slo, 'a file source with expectedDaily gets a completeness SLO');
    assert.deepEqual(slo.fileSource, { name: 'acquirer-settlements', domain: 'partners', expectedDaily: 1 });
    const meta = await SqliteMetadataStore.create({ path: join(tempDir('slo-'), 'meta.db') });
    const now = Date.UTC(2026, 10, 27, 15, 0, 0);
    const record = (daysAgo: number, status: string, path: string) =>
      meta.ledger.record({
        source: 'acquirer-settlements',
        path,
        size: 1,
        mtime: new Date(now - daysAgo * DAY),
        sha256: `${daysAgo}-${path}`,
        status,
        runId: 'r',
        seenAt: new Date(now - daysAgo * DAY),
      });
    // Five whole days since the source was first seen: a file on four of them; on one, only a re-sent duplicate.
    await record(5, 'ingested', 'EDI_1.txt');
    await record(4, 'ingested', 'EDI_2.txt');
    await record(3, 'duplicate', 'EDI_2_COPY.txt');
    await record(2, 'ingested', 'EDI_4.txt');
    await record(1, 'ingested', 'EDI_5.txt');
    const [status] = await evaluateSlos([slo], meta, now);
    assert.equal(status?.sliValue, 0.8, 'four good days of five');
    assert.equal(status?.burnRates['1d'], 0, 'yesterday delivered');
    assert.ok((status?.errorBudgetRemaining ?? 1) < 0, 'one missed day in five spends more than a 5 % budget');
    await meta.close();
  });

  it('is measured in Prometheus from the ingested-files counter', () => {
    const project = loadProject(EXAMPLE);
    const rules = prometheusRules(project, loadSlos(project));
    const group = rules.groups.find((g) => g.name === 'finmesh-slo-partners-acquirer-settlements-completeness');
    const expr = group?.rules.find((r) => 'record' in r && r.record === 'slo:sli_error:ratio_rate5m')?.expr ?? '';
    assert.match(expr, /finmesh_sftp_files_total\{domain="partners",source="acquirer-settlements",outcome="ingested"\}\[86400s\]/);
    assert.match(expr, /< bool 1/);
  });
});

describe('freshness SLO budget', () => {
  it('is time over the whole window: minutes of staleness in a product’s first minutes do not spend the budget many times over', async () => {
    const project = loadProject(EXAMPLE);
    const slo = loadSlos(project).find((s) => s.name === 'payments-transactions-freshness');
    assert.ok(slo?.thresholdSeconds === 120 && slo.objective === 0.995, 'fresh within 2 minutes, 99.5% of the time');
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    let at = now - 5 * 60_000;
    const meta = await SqliteMetadataStore.create({ path: join(tempDir('slo-'), 'meta.db'), clock: { now: () => at } });
    // The product was built once, five minutes ago, and nothing since: stale for the last three minutes.
    await meta.manifest.commit({
      dataset: 'payments/silver/transactions',
      runId: 'r',
      add: [{ key: 'k1', rows: 1, bytes: 1 }],
      replace: [],
    });
    at = now;
    const [status] = await evaluateSlos([slo], meta, now);
    assert.equal(status?.sliValue, 0.4, 'fresh for two of the five minutes it has existed');
    const budgetMinutes = (1 - slo.objective) * slo.windowDays * 24 * 60;
    assert.ok(Math.abs((status?.errorBudgetRemaining ?? 0) - (1 - 3 / budgetMinutes)) < 0.001, `three minutes of ${budgetMinutes}`);
    assert.equal(status?.exhausted, false);
    await meta.close();
  });
});
