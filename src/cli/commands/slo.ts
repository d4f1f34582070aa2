import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { loadProject } from '../../config/load-project.js';
import { runbooks } from '../../docs/runbooks.js';
import { openContext } from '../../jobs/context.js';
import { prometheusRules } from '../../observability/alert-rules.js';
import { evaluateSlos, loadSlos } from '../../observability/slo.js';
import { formatTable, printJson, say } from '../output.js';
import { positive } from './generate.js';

export function registerSlo(program: Command): void {
  program
    .command('slo')
    .description(
      'SLOs (from contracts and OpenSLO files in slos/) with their SLI, objective, error budget remaining and burn rates; exit 1 when a budget is exhausted',
    )
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const slos = loadSlos(project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const status = await evaluateSlos(slos, ctx.meta);
        if (opts.json) printJson({ slos: status });
        else {
          process.stdout.write(
            `${formatTable(
              ['name', 'sli', 'objective', 'sliValue', 'errorBudgetRemaining', 'burn_1h', 'burn_1d'],
              status.map((s) => ({ ...s, burn_1h: s.burnRates['1h'], burn_1d: s.burnRates['1d'] })),
            )}\n`,
          );
        }
        if (status.some((s) => s.exhausted)) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });

  program
    .command('alerts')
    .description(
      'Prometheus recording and alerting rules: multiwindow multi-burn-rate SLO alerts (Sloth rule names) and symptom alerts, with runbooks',
    )
    .option('--project <dir>', 'project folder', '.')
    .option(
      '--format <format>',
      'prometheus',
      (v) => {
        if (v !== 'prometheus') throw new InvalidArgumentError(`expected "prometheus", found "${v}"`);
        return v;
      },
      'prometheus',
    )
    .option('--runbooks <dir>', 'also write the runbooks the alerts link to into this folder (e.g. docs/runbooks)')
    .option('--runbook-base-url <url>', 'where runbook_url points (default docs/runbooks)')
    .option('--time-scale <n>', 'divide every window by n (for tests that cannot wait hours)', positive)
    .action((opts: { project: string; runbooks?: string; runbookBaseUrl?: string; timeScale?: number }) => {
      const project = loadProject(opts.project);
      const rules = prometheusRules(project, loadSlos(project), { timeScale: opts.timeScale, runbookBaseUrl: opts.runbookBaseUrl });
      process.stdout.write(stringify(rules, { lineWidth: 0, aliasDuplicateObjects: false }));
      if (opts.runbooks) {
        const dir = resolve(opts.runbooks);
        mkdirSync(dir, { recursive: true });
        for (const [name, text] of Object.entries(runbooks())) writeFileSync(join(dir, name), text);
        say(`wrote ${Object.keys(runbooks()).length} runbooks to ${opts.runbooks}`);
      }
    });
}
