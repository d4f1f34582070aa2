import type { Command } from 'commander';
import type { LineageResult } from '../../lineage/explore.js';
import { examples, integer, oneOf, projectOption } from '../options.js';
import { formatTable, paint, printJson, say } from '../output.js';

interface LineageOptions {
  project: string;
  upstream?: boolean;
  downstream?: boolean;
  depth: number;
  format: 'text' | 'json' | 'mermaid';
  json?: boolean;
}

export function registerLineage(program: Command): void {
  const cmd = program
    .command('lineage')
    .description('lineage of a dataset or column (`finmesh lineage export` prints every stored OpenLineage event as NDJSON)')
    .argument('<target>', '<dataset>[.<column>] — e.g. payments_gold.daily_volume_by_method.total_amount — or `export`');
  projectOption(cmd)
    .option('--upstream', 'what it derives from (default)')
    .option('--downstream', 'what derives from it: the impact of a change, up to products and their consumers')
    .option('--depth <n>', 'hops to follow', integer, 20)
    .option('--format <format>', 'text, json or mermaid', oneOf(['text', 'json', 'mermaid'] as const), 'text')
    .option('--json', 'same as --format json')
    .action(async (target: string, opts: LineageOptions) => {
      const [{ loadProject }, { openContext }, { LineageGraph }, { exploreLineage }, { openLineageErrors }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../jobs/context.js'),
        import('../../lineage/graph.js'),
        import('../../lineage/explore.js'),
        import('../../lineage/validate-event.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project, { readonly: true });
      try {
        const events = (await ctx.meta.lineage.list()).map((e) => e.event);
        if (target === 'export') {
          // Events stored before the API validated what it received may break the schema: they are left out, counted.
          let invalid = 0;
          for (const e of events) {
            if (openLineageErrors(e, 1).length > 0) invalid++;
            else process.stdout.write(`${JSON.stringify(e)}\n`);
          }
          if (invalid > 0) say(`left out ${invalid} stored events that are not valid OpenLineage 2-0-2`);
          return;
        }
        const direction = opts.downstream ? 'downstream' : 'upstream';
        const format = opts.json ? 'json' : opts.format;
        const result = exploreLineage(LineageGraph.fromEvents(events), project, target, direction, opts.depth);
        if (format === 'json') printJson(result);
        else if (format === 'mermaid') process.stdout.write(mermaid(result));
        else process.stdout.write(text(result));
      } finally {
        await ctx.close();
      }
    });
  examples(cmd, [
    'finmesh lineage payments_gold.daily_volume_by_method.total_amount',
    'finmesh lineage payments_silver.transactions --downstream',
    'finmesh lineage payments_silver.transactions --format mermaid',
    'finmesh lineage export > events.ndjson',
  ]);
}

function text(r: LineageResult): string {
  const lines = [`${r.target} — ${r.direction}`];
  for (const e of r.edges) {
    const t = Array.isArray(e.transformations)
      ? ` [${(e.transformations as { type: string; subtype: string; masking?: boolean }[]).map((x) => `${x.type} ${x.subtype}${x.masking ? ' masked' : ''}`).join(', ')}]`
      : e.via
        ? ` (${e.via})`
        : '';
    lines.push(`  ${e.from} → ${e.to}${t}`);
  }
  if (r.edges.length === 0) lines.push('  (none recorded)');
  if (r.impact) {
    lines.push(
      '',
      paint(
        'bold',
        `impact: ${r.impact.products.length} product${r.impact.products.length === 1 ? '' : 's'}, ${r.impact.consumers.length} consumer${r.impact.consumers.length === 1 ? '' : 's'}`,
      ),
    );
    const table = formatTable(
      ['product', 'owner', 'consumers'],
      r.impact.products.map((p) => ({ product: p.product, owner: p.owner ?? '(none)', consumers: p.consumers.join(', ') || '(none)' })),
    );
    lines.push(...table.split('\n').map((l) => `  ${l}`));
    if (r.impact.consumers.length > 0) lines.push(`  tell: ${r.impact.consumers.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

function mermaid(r: LineageResult): string {
  const ids = new Map<string, string>();
  const idOf = (n: string) => {
    let v = ids.get(n);
    if (!v) {
      v = `n${ids.size}`;
      ids.set(n, v);
    }
    return v;
  };
  const lines = ['flowchart LR'];
  idOf(r.target);
  for (const e of r.edges) {
    idOf(e.from);
    idOf(e.to);
  }
  for (const [n, v] of ids) lines.push(`  ${v}["${n.replace(/"/g, '#quot;')}"]`);
  for (const e of r.edges) {
    const t = Array.isArray(e.transformations)
      ? (e.transformations as { subtype: string }[]).map((x) => x.subtype).join(', ')
      : (e.via ?? '');
    lines.push(`  ${idOf(e.from)} -->|${t || ' '}| ${idOf(e.to)}`);
  }
  return `${lines.join('\n')}\n`;
}
