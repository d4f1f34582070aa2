import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '../config/project.js';
import { sqlName } from '../config/project.js';
import { parseCalls } from '../engine/dag.js';

const id = (prefix: string, name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
const label = (s: string) => s.replace(/"/g, '#quot;');

/**
 * The architecture of a project as a Mermaid flowchart, generated from the project itself: per domain, its sources,
 * their bronze datasets and its products (silver, gold); edges from what each model reads; consumers from the
 * contracts; and the platform planes (engine, metadata, lineage, observability) that every job reports to.
 */
export function mermaidDiagram(project: Project): string {
  const lines: string[] = ['flowchart LR'];
  const edges: string[] = [];
  for (const domain of project.domains) {
    lines.push(`  subgraph ${id('d', domain.name)}["${label(`${domain.name} · owner ${domain.config.owner.team}`)}"]`);
    lines.push('    direction LR');
    for (const s of project.sources.filter((x) => x.domain === domain.name)) {
      const kind = s.config.kind === 'sftp' ? `SFTP ${s.config.host}` : 'app change feed (simulated)';
      lines.push(`    ${id('src', s.name)}[/"${label(`source: ${s.name}<br/>${kind}`)}"/]`);
      lines.push(`    ${id('ds', sqlName(s.dataset))}[("${label(`bronze: ${sqlName(s.dataset)}`)}")]`);
      edges.push(`  ${id('src', s.name)} --> ${id('ds', sqlName(s.dataset))}`);
    }
    for (const p of project.products.filter((x) => x.domain === domain.name)) {
      lines.push(`    ${id('ds', sqlName(p.dataset))}["${label(`${p.dataset.zone}: ${p.name}<br/>${p.materialized}`)}"]`);
    }
    lines.push('  end');
  }
  const consumers = new Set<string>();
  for (const p of project.products) {
    if (p.modelFile) {
      const sql = readFileSync(join(project.root, p.modelFile), 'utf8');
      const upstream = new Set<string>();
      for (const call of parseCalls(sql)) {
        const name = call.args[call.args.length - 1];
        const target =
          call.fn === 'source'
            ? project.sources.find((s) => s.name === name)?.dataset
            : project.products.find((x) => x.name === name || `${x.domain}.${x.name}` === call.args.join('.'))?.dataset;
        if (target) upstream.add(sqlName(target));
      }
      for (const u of upstream) edges.push(`  ${id('ds', u)} --> ${id('ds', sqlName(p.dataset))}`);
    }
    for (const c of p.settings.consumers) {
      consumers.add(c);
      edges.push(`  ${id('ds', sqlName(p.dataset))} --> ${id('c', c)}`);
    }
  }
  if (consumers.size > 0) {
    lines.push('  subgraph consumers["Consumers"]');
    for (const c of [...consumers].sort()) lines.push(`    ${id('c', c)}(["${label(c)}"])`);
    lines.push('  end');
  }
  const cfg = project.config;
  lines.push('  subgraph planes["Platform planes"]');
  lines.push(`    engine[["engine: ${cfg.engine.kind}"]]`);
  lines.push(`    lake[("lake: ${cfg.lake.kind} · landing, bronze, silver, gold, quarantine")]`);
  lines.push(`    metadata[("metadata: ${cfg.metadata.kind} · runs, checkpoints, file ledger")]`);
  lines.push('    lineage["lineage: OpenLineage events"]');
  lines.push('    observability["observability: /metrics, JSON logs, SLOs"]');
  lines.push('  end');
  lines.push(...edges);
  lines.push('  engine -.-> lake');
  lines.push('  engine -.-> metadata');
  lines.push('  engine -.-> lineage');
  lines.push('  engine -.-> observability');
  return `${lines.join('\n')}\n`;
}
