import type { RUNBOOKS } from '../observability/alert-rules.js';

type Runbook = { title: string; means: string; impact: string; steps: string[] };

const BOOKS: Record<(typeof RUNBOOKS)[number], Runbook> = {
  'slo-burn-rate-page': {
    title: 'SLO burning its error budget fast (page)',
    means: 'At this rate the SLO’s whole error budget is gone within hours (14.4× over 1h and 5m, or 6× over 6h and 30m).',
    impact: 'Consumers of the product see stale, failed or wrong data now; dashboards (Power BI) may show yesterday’s numbers.',
    steps: [
      'Find the SLO: the alert’s `sloth_service` and `sloth_slo` labels; `npx finmesh slo --json` shows its SLI, budget and burn rates.',
      'freshness: `npx finmesh runs --job model:<product>` — is the model failing, or is its input not arriving (`finmesh runs --job stream:<source>`)?',
      'pipeline-success: read the failed runs’ errors in `finmesh runs`; a quality-gate failure names the rule and value.',
      'correctness: `npx finmesh test <product> --json` lists the failing checks.',
      'Impact: `npx finmesh lineage <dataset> --downstream` lists the products and consumers affected; tell them.',
    ],
  },
  'slo-burn-rate-ticket': {
    title: 'SLO burning its error budget steadily (ticket)',
    means: 'The budget will run out before the window ends (3× over 1d and 2h, or 1× over 3d and 6h).',
    impact: 'No outage now, but the SLO will be missed this period unless the cause is fixed.',
    steps: [
      'Look at the trend: `npx finmesh slo --json` (burn rates 1h, 6h, 1d, 3d).',
      'Fix the recurring cause found in `finmesh runs` or `finmesh test`, within the working week.',
    ],
  },
  'source-lag': {
    title: 'A change-feed source is lagging',
    means: 'Changes wait at the source (outbox rows, PostgreSQL WAL, Cosmos DB feed) and the committed checkpoint has not moved.',
    impact: 'Bronze, silver and gold stop advancing; a PostgreSQL slot keeps WAL and can fill the database’s disk.',
    steps: [
      'Is `finmesh stream` running? `npx finmesh runs --job stream:<source>` shows the last batches and errors.',
      'PostgreSQL: `SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots`.',
      'Restart the stream; it resumes from the committed checkpoint without loss or duplicates.',
    ],
  },
  'stream-dead-letter': {
    title: 'A stream batch was poison: changes dead-lettered',
    means:
      'A micro-batch failed to commit the same way `stream.poison.attempts` times (a failure of the data, not of the disk, store or network). Its changes that would not load went to `<domain>_quarantine.<dataset>` with kind `dead-letter`, the reason and the source offset; the rest loaded, and the stream went on.',
    impact:
      'The dead-lettered changes are missing from bronze, silver and gold until they are replayed; the products built on them are incomplete.',
    steps: [
      'Read them: `npx finmesh query "select _line as offset, reason, raw from <domain>_quarantine.<dataset> where kind = \'dead-letter\'"`.',
      'A configuration error (a source schema the data cannot be typed by) shows in `npx finmesh validate`; a malformed document needs the app team.',
      'Once fixed, re-send the changes from the app (a new version of each document), or load the `raw` documents back through the source.',
      'To stop the stream instead of moving on, set `stream.poison.action: stop` in finmesh.yaml.',
    ],
  },
  'partner-file-missing': {
    title: 'A partner file did not arrive',
    means: 'Fewer files than `expectedDaily` were ingested from the partner’s SFTP in the last day.',
    impact: 'Reconciliation shows sales as missing in settlement; finance close may be blocked.',
    steps: [
      'Check the partner’s SFTP folder and the ingestion runs (`finmesh runs --job ingest:<source>`).',
      'Contact the partner if the file is absent; re-run ingestion when it lands (it is idempotent).',
    ],
  },
  'pipeline-failing': {
    title: 'A model failed twice or more in 15 minutes',
    means: 'The same model keeps failing: not a transient error.',
    impact: 'Its output keeps its previous version (failed batches never land); models downstream are skipped.',
    steps: [
      '`npx finmesh runs --job model:<product>` shows the error (SQL error, quality gate, missing input).',
      'Fix the model or the data, then `npx finmesh run <product>+` to rebuild it and what depends on it.',
    ],
  },
  'quarantine-spike': {
    title: 'Many rows are being quarantined',
    means: 'A source is sending rows that fail parsing or their contract, more than 100 in 10 minutes.',
    impact: 'Those rows are kept in quarantine (with reason, file and line) but are missing from the products.',
    steps: [
      'Read the reasons in the quarantine zone (`finmesh query "select * from <domain>_quarantine.<dataset> limit 20"`).',
      'Raise it with the source’s owner; replay once fixed.',
    ],
  },
  'data-quality-error': {
    title: 'An error-level data quality check failed',
    means: 'A rule the contract marks `error` failed; the batch that failed it was kept out and the previous version stays.',
    impact: 'The product is stale until the data or the rule is fixed.',
    steps: [
      '`npx finmesh test <product> --json` shows the rule, the value found and the expectation.',
      'Trace the bad rows upstream with `npx finmesh lineage <dataset>.<column> --upstream`.',
    ],
  },
  'watcher-silent': {
    title: 'The watchers are silent',
    means: 'Prometheus cannot scrape finmesh, so no other alert can fire.',
    impact: 'Monitoring is blind: failures would go unnoticed.',
    steps: ['Is the finmesh process up (`/healthz`)? Is the scrape target right?', 'Restore the scrape before anything else.'],
  },
  'budget-spent': {
    title: 'A domain or product has spent a share of its monthly budget',
    means:
      'Its metered cost this month (finmesh’s prices of what it ran, stored, sent and logged) reached the share of `cost.budgets` in the alert’s `threshold` label.',
    impact: 'No outage: money. At 100% the budget is spent before the month is over.',
    steps: [
      'See where the money goes: `npx finmesh cost --by product` (or `--by component`, `--by source`) and `npx finmesh cost monitoring`.',
      'A product that costs more than it returns is named by `npx finmesh cost benefit`: merge or retire it, or make its model incremental.',
      'Monitoring spend: sample or exclude noisy logs (`logging.components`), keep fewer metric labels (`cost.monitoring.metrics`).',
      'If the spend is right, raise the budget in finmesh.yaml `cost.budgets` with the owner’s agreement.',
    ],
  },
  'budget-forecast-overrun': {
    title: 'A domain or product is forecast to overrun its monthly budget',
    means: 'At the last week’s rate, its cost by the end of the month exceeds its budget (`finmesh cost` shows the forecast).',
    impact: 'The budget will be exceeded unless the rate comes down.',
    steps: [
      'Find what grew: `npx finmesh cost --by component` and `--by product`, today against earlier in the month (`--json`).',
      'Act as for a spent budget (`budget-spent`), or agree a new budget before the month ends.',
    ],
  },
};

/** Markdown runbooks, one per alert, keyed by file name. */
export function runbooks(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, b] of Object.entries(BOOKS)) {
    out[`${name}.md`] =
      `# ${b.title}\n\n**What it means.** ${b.means}\n\n**Impact.** ${b.impact}\n\n## What to do\n\n${b.steps.map((s, i) => `${i + 1}. ${s}`).join('\n')}\n\n**Escalate** to the on-call of the domain in the alert's \`owner\` label (\`domains/<domain>/domain.yaml\`).\n`;
  }
  return out;
}

/** The runbooks as data, by alert runbook name, for documents that render them their own way. */
export function runbookEntries(): { name: string; title: string; means: string; impact: string; steps: string[] }[] {
  return Object.entries(BOOKS).map(([name, b]) => ({ name, ...b }));
}
