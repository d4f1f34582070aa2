import type { Command } from 'commander';
import type { CostDimension } from '../../cost/report.js';
import type { Context } from '../../jobs/context.js';
import { examples, oneOf, projectOption } from '../options.js';
import { formatBytes, formatTable, printJson, say } from '../output.js';

/** `cost/report.ts`'s `COST_DIMENSIONS`, spelled here so that `--help` loads no cost module (checked by the type). */
const DIMENSIONS = ['product', 'domain', 'component', 'source', 'cost-center'] as const satisfies readonly CostDimension[];
type AllDimensions = CostDimension extends (typeof DIMENSIONS)[number] ? true : never;
const allDimensions: AllDimensions = true;
void allDimensions;

/** Money for people: cents above a unit, three significant digits below (a demo's costs are fractions of a cent). */
export function formatMoney(v: number, currency: string): string {
  if (v === 0) return `${currency} 0`;
  const abs = Math.abs(v);
  const text =
    abs >= 1 ? v.toFixed(2) : v.toLocaleString('en-US', { maximumSignificantDigits: 3, useGrouping: false, maximumFractionDigits: 20 });
  return `${currency} ${text}`;
}

/**
 * The project's context for a cost command: its usage must exist (the project has run); storage is metered up to now
 * and written before the report reads, and nothing more is sampled, so the report matches the store it leaves.
 */
export async function costContext(projectDir: string): Promise<Context> {
  const [{ loadProject }, { FinmeshError }, { openContext }] = await Promise.all([
    import('../../config/project-cache.js'),
    import('../../core/errors.js'),
    import('../../jobs/context.js'),
  ]);
  const project = await loadProject(projectDir);
  let ctx: Context;
  try {
    ctx = await openContext(project, { readonly: true });
  } catch (e) {
    if (e instanceof FinmeshError && e.code === 'NOT_FOUND')
      throw new FinmeshError('NOT_FOUND', `${projectDir} has no metered usage yet: run it first (finmesh demo, run, stream or ingest)`, {
        cause: e,
      });
    throw e;
  }
  await ctx.meter.flush({ sample: true });
  return ctx;
}

/**
 * `finmesh cost` and its subcommands. `--project`, `--month` and `--json` belong to `cost` and are read by every
 * subcommand (`finmesh cost export --project X` and `finmesh cost --project X export` are the same).
 */
export function registerCost(program: Command): void {
  const cost = program
    .command('cost')
    .description(
      "what the project costs, priced from what finmesh metered (runs, storage, bus, logs, metrics, lineage) and the price sheet: month to date and a forecast to the month's end",
    );
  projectOption(cost)
    .option('--by <dimension>', `group by ${DIMENSIONS.join(', ')}`, oneOf(DIMENSIONS), 'product')
    .option('--month <YYYY-MM>', 'the month (default: this one, UTC)')
    .option('--json', 'print the report as JSON')
    .showHelpAfterError()
    .action(async (opts: { project: string; by: CostDimension; month?: string; json?: boolean }) => {
      const { costReport, monthPeriod, pricedUsage } = await import('../../cost/report.js');
      const ctx = await costContext(opts.project);
      try {
        const period = monthPeriod(opts.month, new Date(ctx.clock.now()));
        const report = costReport(ctx.project, await pricedUsage(ctx.project, ctx.meta.usage, period), opts.by);
        if (opts.json) {
          printJson(report);
          return;
        }
        const money = (v: number | undefined) => (v === undefined ? '' : formatMoney(v, report.currency));
        const columns =
          opts.by === 'product'
            ? [opts.by, 'domain', 'direct', 'upstream', 'month to date', 'forecast']
            : [opts.by, 'month to date', 'forecast'];
        process.stdout.write(
          `${formatTable(
            columns,
            report.rows.map((r) => ({
              [opts.by]: r.name,
              domain: r.domain,
              direct: money(r.direct),
              upstream: money(r.upstream),
              'month to date': money(r.monthToDate),
              forecast: money(r.forecast),
            })),
          )}\n\n${report.month} (${report.region}, prices ${report.priceSheet.files.join(' + ')}): ${money(report.total.monthToDate)} so far, ${money(report.total.forecast)} forecast; ${money(report.shared.monthToDate)} of it shared (no product or source)\n`,
        );
        if (opts.by === 'product')
          process.stdout.write('a product bears its share of what it reads: totals of products overlap, the month total does not\n');
      } finally {
        await ctx.close();
      }
    });

  cost
    .command('monitoring')
    .description(
      'what monitoring costs per component (log bytes, metric samples, lineage events at their prices) and what each control — sampling, exclusions, levels, label allowlists, the series budget — saved on the same runs',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ project: string; month?: string; json?: boolean }>();
      const [{ CONTROLS, monitoringReport }, { monthPeriod, pricedUsage }] = await Promise.all([
        import('../../cost/monitoring.js'),
        import('../../cost/report.js'),
      ]);
      const ctx = await costContext(opts.project);
      try {
        const period = monthPeriod(opts.month, new Date(ctx.clock.now()));
        const report = monitoringReport(ctx.project, await pricedUsage(ctx.project, ctx.meta.usage, period));
        if (opts.json) {
          printJson(report);
          return;
        }
        const money = (v: number) => formatMoney(v, report.currency);
        process.stdout.write(
          `${formatTable(
            ['component', 'log lines', 'log bytes', 'samples', 'series', 'lineage events', 'cost', 'saved', 'by'],
            report.components.map((c) => ({
              component: c.component,
              'log lines': c.logs.quantity,
              'log bytes': formatBytes(c.logs.bytes),
              samples: Math.round(c.metrics.quantity),
              series: c.metrics.series,
              'lineage events': c.lineage.quantity,
              cost: money(c.cost),
              saved: money(c.savedCost),
              by: Object.entries(c.saved)
                .map(([k, v]) => `${k} ${money(v.cost)}`)
                .join(', '),
            })),
          )}\n\n${report.month}: monitoring ${money(report.total.cost)}, saved ${money(report.total.saved)} by ${Object.entries(CONTROLS)
            .map(([k, v]) => `${k} (${v})`)
            .join(', ')}\n`,
        );
      } finally {
        await ctx.close();
      }
    });

  cost
    .command('benefit')
    .description(
      'cost against use per product — reads and readers (lineage), downstream products, declared consumers, SLOs, declared business value — ranked from the least worth keeping, each rank explained; and sources by upkeep',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ project: string; month?: string; json?: boolean }>();
      const { costBenefitOf } = await import('../../cost/benefit.js');
      const ctx = await costContext(opts.project);
      try {
        const report = await costBenefitOf(ctx, opts.month);
        if (opts.json) {
          printJson(report);
          return;
        }
        const lines = [
          `products, least worth keeping first (${report.month}):`,
          ...report.products.map((p) => `${String(p.rank).padStart(3)}. ${p.product} [${p.verdict}]: ${p.why}`),
          '',
          'sources, highest upkeep first:',
          ...report.sources.map((s) => `${String(s.rank).padStart(3)}. ${s.source}: ${s.why}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await ctx.close();
      }
    });

  cost
    .command('terraform')
    .description(
      'Terraform (JSON syntax) for the cost plane on Google Cloud: a billing budget per cost.budgets entry, and a log bucket, sink and exclusion filters carrying the logging controls',
    )
    .option('--out <dir>', 'write finmesh-cost.tf.json into this folder (a module) instead of printing it')
    .action(async (o: { out?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ project: string }>();
      const [{ mkdirSync, writeFileSync }, { join }, { loadProject }, { costTerraform }] = await Promise.all([
        import('node:fs'),
        import('node:path'),
        import('../../config/project-cache.js'),
        import('../../cost/terraform.js'),
      ]);
      const text = `${JSON.stringify(costTerraform(await loadProject(opts.project)), null, 2)}\n`;
      if (!o.out) {
        process.stdout.write(text);
        return;
      }
      mkdirSync(o.out, { recursive: true });
      writeFileSync(join(o.out, 'finmesh-cost.tf.json'), text);
      say(`wrote ${join(o.out, 'finmesh-cost.tf.json')}`);
    });

  cost
    .command('export')
    .description('the month’s cost and usage records in the FinOps FOCUS 1.2 format (CSV), for FinOps tools')
    .option('--format <format>', 'focus', oneOf(['focus'] as const), 'focus')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ project: string; month?: string; out?: string }>();
      const [{ writeFileSync }, { focusCsv, focusRows }, { monthPeriod, pricedUsage }] = await Promise.all([
        import('node:fs'),
        import('../../cost/focus.js'),
        import('../../cost/report.js'),
      ]);
      const ctx = await costContext(opts.project);
      try {
        const period = monthPeriod(opts.month, new Date(ctx.clock.now()));
        const rows = focusRows(ctx.project, await pricedUsage(ctx.project, ctx.meta.usage, period));
        const csv = focusCsv(rows);
        if (opts.out) {
          writeFileSync(opts.out, csv);
          say(`wrote ${rows.length} FOCUS cost and usage rows for ${period.month} to ${opts.out}`);
        } else process.stdout.write(csv);
      } finally {
        await ctx.close();
      }
    });
  examples(cost, [
    'finmesh cost --by product',
    'finmesh cost --by domain --month 2026-11 --json',
    'finmesh cost monitoring',
    'finmesh cost benefit',
    'finmesh cost export --format focus --out focus.csv',
    'finmesh cost terraform --out infra/cost',
  ]);
}
