import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadProject } from '../../config/load-project.js';
import { FinmeshError, formatIssue } from '../../core/errors.js';
import { buildDag, selectModels } from '../../engine/dag.js';
import { createEngine } from '../../engine/registry.js';
import { runChecks } from '../../jobs/check.js';
import { openContext, openIfRan } from '../../jobs/context.js';
import { prepareSession } from '../../lake/session.js';
import { diffContracts } from '../../mesh/contract-diff.js';
import { productToOdps } from '../../mesh/odps.js';
import { checkPolicies } from '../../mesh/policies.js';
import { buildCatalog, findGaps, readContract } from '../../mesh/reports.js';
import { formatTable, printJson, say } from '../output.js';

export function registerMesh(program: Command): void {
  program
    .command('test')
    .description("run the products' quality checks: contract rules, PAN leak, schema drift, freshness, volume anomaly")
    .argument('[selector]', 'which products (as for `finmesh run`); all when omitted')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the results as JSON')
    .action(async (selector: string | undefined, opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = await openContext(project);
      try {
        await prepareSession(ctx);
        const nodes = selectModels(buildDag(project).dag, selector);
        if (selector && nodes.length === 0) throw new FinmeshError('NOT_FOUND', `no product matches "${selector}"`);
        const results = [];
        for (const n of nodes) results.push(...(await runChecks(ctx, n.product)));
        const failed = results.filter((r) => r.status === 'fail' || r.status === 'error');
        const summary = {
          checks: results.length,
          passed: results.filter((r) => r.status === 'pass').length,
          failed: failed.length,
          skipped: results.filter((r) => r.status === 'skipped').length,
        };
        if (opts.json) printJson({ summary, results });
        else {
          process.stdout.write(
            `${formatTable(
              ['status', 'severity', 'check', 'value', 'expected', 'message'],
              results.map((r) => ({ ...r, check: r.checkId })),
            )}\n\n${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped\n`,
          );
        }
        if (failed.some((r) => r.severity === 'error')) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });

  program
    .command('catalog')
    .description('every data product: owner, description, schema with classifications, SLOs, freshness, quality score, lineage, consumers')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the catalog as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = (await openIfRan(project)) ?? (await openContext(project));
      try {
        const catalog = await buildCatalog(ctx);
        if (opts.json) printJson({ products: catalog });
        else {
          process.stdout.write(
            `${formatTable(
              ['product', 'zone', 'owner', 'freshness', 'quality', 'consumers'],
              catalog.map((c) => ({
                ...c,
                freshness:
                  c.freshness.ageSeconds === null
                    ? 'never built'
                    : `${c.freshness.ageSeconds}s ago${c.freshness.withinSlo === false ? ' (late)' : ''}`,
                quality: c.quality.score === null ? '-' : `${Math.round(c.quality.score * 100)}%`,
                consumers: c.consumers.join(', '),
              })),
            )}\n`,
          );
        }
      } finally {
        await ctx.close();
      }
    });

  const policy = program.command('policy').description('computational governance over the whole mesh');
  policy
    .command('check')
    .description('evaluate the global policies of finmesh.yaml; exit 1 on any error-level violation')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the violations as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const engine = await createEngine(project.config.engine);
      try {
        const violations = await checkPolicies(project, engine);
        if (opts.json) printJson({ violations });
        else if (violations.length === 0) say('no policy violations');
        else for (const v of violations) say(`${v.severity.padEnd(7)} ${v.policy}: ${formatIssue(v)}`);
        if (violations.some((v) => v.severity === 'error')) process.exitCode = 1;
      } finally {
        await engine.close();
      }
    });

  program
    .command('gaps')
    .description('monitoring gaps: missing SLOs, checks, owners or on-call, lineage, unwatched SLOs, unconsumed data')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the gaps as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const project = loadProject(opts.project);
      const ctx = await openIfRan(project);
      try {
        const { gaps, evaluated } = await findGaps(project, ctx);
        if (opts.json) printJson({ gaps, evaluated });
        else {
          if (gaps.length === 0) say('no monitoring gaps');
          for (const g of gaps) say(`${g.kind.padEnd(18)} ${g.subject}: ${g.detail} (${g.file})`);
          if (!evaluated.history) say('(the project has not run yet: lineage and check history were not evaluated)');
        }
      } finally {
        await ctx?.close();
      }
    });

  program
    .command('contract')
    .description('data contracts')
    .command('diff')
    .description('classify the changes between two versions of a contract; exit 1 on a breaking change')
    .argument('<old>', 'the contract as consumers know it')
    .argument('<new>', 'the proposed version')
    .option('--json', 'print the changes as JSON')
    .action((oldFile: string, newFile: string, opts: { json?: boolean }) => {
      const changes = diffContracts(readContract(oldFile), readContract(newFile));
      const breaking = changes.filter((c) => c.breaking);
      if (opts.json) printJson({ breaking: breaking.length > 0, changes });
      else if (changes.length === 0) say('no schema changes');
      else for (const c of changes) say(`${c.breaking ? 'BREAKING' : 'ok      '} ${c.kind}: ${c.detail}`);
      if (breaking.length > 0) process.exitCode = 1;
    });

  program
    .command('odps')
    .description('export data products as Open Data Product Standard (ODPS v1.0.0) documents')
    .argument('[products...]', 'products as <name> or <domain>.<name> (default: all)')
    .option('--project <dir>', 'project folder', '.')
    .option('--out <dir>', 'write one <domain>.<product>.odps.yaml per product here instead of printing')
    .option('--api-url <url>', 'base URL of `finmesh serve` for the management ports (default: the server settings)')
    .action((names: string[], opts: { project: string; out?: string; apiUrl?: string }) => {
      const project = loadProject(opts.project);
      const chosen =
        names.length === 0
          ? project.products
          : names.map((n) => {
              const p = project.products.find((x) => x.name === n || `${x.domain}.${x.name}` === n);
              if (!p)
                throw new FinmeshError(
                  'NOT_FOUND',
                  `no product "${n}" (products: ${project.products.map((x) => `${x.domain}.${x.name}`).join(', ')})`,
                );
              return p;
            });
      const docs = chosen.map((p) => ({ product: p, doc: productToOdps(project, p, { apiUrl: opts.apiUrl }) }));
      if (!opts.out) {
        process.stdout.write(docs.map((d) => stringify(d.doc)).join('---\n'));
        return;
      }
      mkdirSync(opts.out, { recursive: true });
      for (const d of docs) writeFileSync(join(opts.out, `${d.product.domain}.${d.product.name}.odps.yaml`), stringify(d.doc));
      say(`${docs.length} ODPS documents in ${opts.out}`);
    });
}
