import type { Command } from 'commander';
import type { SloStatus } from '../../observability/slo.js';
import { failuresFound } from '../exit-codes.js';
import { examples, oneOf, positive, projectOption } from '../options.js';
import { formatPercent, formatTable, paint, print, printJson, say } from '../output.js';

export function registerSlo(program: Command): void {
  const slo = program
    .command('slo')
    .description(
      'SLOs (from contracts and OpenSLO files in slos/) with their SLI, objective, error budget remaining and burn rates; exit 1 when a budget is exhausted',
    );
  projectOption(slo)
    .option('--json', 'print as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { openContext }, { evaluateSlos, loadSlos }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../jobs/context.js'),
        import('../../observability/slo.js'),
      ]);
      const project = await loadProject(opts.project);
      const slos = loadSlos(project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const status = await evaluateSlos(slos, ctx.meta);
        if (opts.json) printJson({ slos: status });
        else print(sloTable(status));
        if (status.some((s) => s.exhausted)) failuresFound();
      } finally {
        await ctx.close();
      }
    });

  examples(slo, ['finmesh slo', 'finmesh slo --json']);

  const alerts = program
    .command('alerts')
    .description(
      'Prometheus recording and alerting rules: multiwindow multi-burn-rate SLO alerts (Sloth rule names), symptom alerts and budget alerts, with runbooks',
    );
  projectOption(alerts)
    .option('--format <format>', 'prometheus', oneOf(['prometheus'] as const), 'prometheus')
    .option('--runbooks <dir>', 'also write the runbooks the alerts link to into this folder (e.g. docs/runbooks)')
    .option('--runbook-base-url <url>', 'where runbook_url points (default docs/runbooks)')
    .option('--time-scale <n>', 'divide every window by n (for tests that cannot wait hours)', positive)
    .action(async (opts: { project: string; runbooks?: string; runbookBaseUrl?: string; timeScale?: number }) => {
      const [
        { mkdirSync, writeFileSync },
        { join, resolve },
        { stringify },
        { loadProject },
        { runbooks },
        { prometheusRules },
        { loadSlos },
        { budgetRules },
      ] = await Promise.all([
        import('node:fs'),
        import('node:path'),
        import('yaml'),
        import('../../config/project-cache.js'),
        import('../../docs/runbooks.js'),
        import('../../observability/alert-rules.js'),
        import('../../observability/slo.js'),
        import('../../cost/budgets.js'),
      ]);
      const project = await loadProject(opts.project);
      const rules = prometheusRules(project, loadSlos(project), { timeScale: opts.timeScale, runbookBaseUrl: opts.runbookBaseUrl });
      if (project.config.cost.budgets.length > 0) {
        const scaled = Math.max(1, Math.round(1800 / (opts.timeScale ?? 1)));
        rules.groups.push(budgetRules(project, { runbookBaseUrl: opts.runbookBaseUrl, forDuration: `${scaled}s` }));
      }
      process.stdout.write(stringify(rules, { lineWidth: 0, aliasDuplicateObjects: false }));
      if (opts.runbooks) {
        const dir = resolve(opts.runbooks);
        mkdirSync(dir, { recursive: true });
        for (const [name, text] of Object.entries(runbooks())) writeFileSync(join(dir, name), text);
        say(`wrote ${Object.keys(runbooks()).length} runbooks to ${opts.runbooks}`);
      }
    });
  examples(alerts, ['finmesh alerts > rules.yaml && promtool check rules rules.yaml', 'finmesh alerts --runbooks docs/runbooks']);
}

/** The SLOs as a table: percentages, a status word, and a note under the table for every SLO without a value. */
function sloTable(status: SloStatus[]): string {
  const notes = [...new Set(status.filter((s) => s.note).map((s) => `${s.sli}: ${s.note}`))];
  const burn = (v: number | null) => (v === null ? '–' : `${v.toFixed(v >= 10 ? 0 : 1)}×`);
  const table = formatTable(
    [
      'name',
      'sli',
      { key: 'objective', align: 'right' },
      { key: 'sli_value', header: 'SLI', align: 'right' },
      { key: 'budget', header: 'budget left', align: 'right' },
      { key: 'burn_1h', header: 'burn 1h', align: 'right' },
      { key: 'burn_1d', header: 'burn 1d', align: 'right' },
      { key: 'status', style: (v) => (v === 'exhausted' ? 'red' : v === 'ok' ? 'green' : 'yellow') },
    ],
    status.map((s) => ({
      name: s.name,
      sli: s.sli,
      objective: formatPercent(s.objective, 2),
      sli_value: s.sliValue === null ? '–' : formatPercent(s.sliValue, 2),
      budget: s.errorBudgetRemaining === null ? '–' : formatPercent(s.errorBudgetRemaining, 1),
      burn_1h: burn(s.burnRates['1h']),
      burn_1d: burn(s.burnRates['1d']),
      status: s.sliValue === null ? 'no data' : s.exhausted ? 'exhausted' : 'ok',
    })),
  );
  const exhausted = status.filter((s) => s.exhausted).length;
  const summary = exhausted > 0 ? paint('red', `\n${exhausted} of ${status.length} SLOs have spent their error budget`) : '';
  return `${table}${summary}${notes.length > 0 ? `\n\nno data (–):\n${notes.map((n) => `  ${n}`).join('\n')}` : ''}`;
}
