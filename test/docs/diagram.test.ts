import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readmeWithDiagram } from '../../scripts/readme-diagram.js';
import { loadProject } from '../../src/config/load-project.js';
import { mermaidDiagram } from '../../src/docs/diagram.js';
import { cli, EXAMPLE, ROOT } from '../helpers.js';

describe('finmesh diagram', () => {
  it('prints a Mermaid flowchart naming every domain, source and product of the example', () => {
    const r = cli(['diagram', '--project', 'examples/fintech']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^flowchart LR\n/);
    const project = loadProject(EXAMPLE);
    for (const d of project.domains) assert.ok(r.stdout.includes(`${d.name} · owner`), d.name);
    for (const s of project.sources) assert.ok(r.stdout.includes(`source: ${s.name}`), s.name);
    for (const p of project.products) assert.ok(r.stdout.includes(`${p.dataset.zone}: ${p.name}`), p.name);
    assert.match(r.stdout, /ds_payments_silver_transactions --> ds_payments_gold_daily_volume_by_method/);
    assert.match(r.stdout, /ds_payments_gold_daily_volume_by_method --> c_powerbi_payments_dashboard/);
  });

  it('the README embeds the diagram the generator makes today (npm run readme refreshes it)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, readmeWithDiagram(readme, mermaidDiagram(loadProject(EXAMPLE))), 'README.md diagram is stale: run npm run readme');
  });
});
