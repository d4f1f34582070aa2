import type { Command } from 'commander';
import type { CatalogEntry } from '../../mesh/reports.js';
import { failuresFound } from '../exit-codes.js';
import { examples, projectOption } from '../options.js';
import { formatMs, formatPercent, formatTable, paint, plural, print, printJson, statusStyle } from '../output.js';

export function registerMesh(program: Command): void {
  const test = program
    .command('test')
    .description(
      "run the products' quality checks: contract rules, PAN leak, schema drift, freshness, volume anomaly; exit 1 on an error-level failure",
    )
    .argument('[selector]', 'which products (as for `finmesh run`); all when omitted');
  projectOption(test)
    .option('--json', 'print the results as JSON')
    .action(async (selector: string | undefined, opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { FinmeshError }, { buildDag, selectModels }, { runChecks, prepareForChecks }, { openContext }] =
        await Promise.all([
          import('../../config/project-cache.js'),
          import('../../core/errors.js'),
          import('../../engine/dag.js'),
          import('../../jobs/check.js'),
          import('../../jobs/context.js'),
        ]);
      const project = await loadProject(opts.project);
      const engine = project.config.engine;
      // On BigQuery, a contract's `sql` rule may call tokenize(): the translation needs the key.
      const ctx = await openContext(project, { secrets: engine.kind === 'bigquery' });
      try {
        const nodes = selectModels(buildDag(project).dag, selector);
        if (selector && nodes.length === 0) throw new FinmeshError('NOT_FOUND', `no product matches "${selector}"`);
        // Where the products are: checked in BigQuery on a BigQuery target, else by the local engine over the lake.
        let source: ((p: (typeof nodes)[number]['product']) => import('../../jobs/check.js').CheckSource) | undefined;
        if (engine.kind === 'bigquery') {
          const [{ BigQueryWarehouse }, { bigQueryCheckSource }] = await Promise.all([
            import('../../engine/bigquery/bigquery-warehouse.js'),
            import('../../jobs/bigquery-checks.js'),
          ]);
          const wh = await BigQueryWarehouse.create(engine);
          source = (p) => bigQueryCheckSource(ctx, p, wh);
        } else
          await prepareForChecks(
            ctx,
            nodes.map((n) => n.product),
          );
        const results = [];
        for (const n of nodes) results.push(...(await runChecks(ctx, n.product, { source: source?.(n.product) })));
        const failed = results.filter((r) => r.status === 'fail' || r.status === 'error');
        const summary = {
          checks: results.length,
          passed: results.filter((r) => r.status === 'pass').length,
          failed: failed.length,
          skipped: results.filter((r) => r.status === 'skipped').length,
        };
        if (opts.json) printJson({ summary, results });
        else {
          print(
            formatTable(
              [
                { key: 'status', style: (v) => statusStyle(String(v)) },
                'severity',
                { key: 'check', header: 'check' },
                'value',
                'expected',
                'message',
              ],
              results.map((r) => ({ ...r, check: r.checkId })),
            ),
          );
          print(`\n${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
        }
        if (failed.some((r) => r.severity === 'error')) failuresFound();
      } finally {
        await ctx.close();
      }
    });
  examples(test, ['finmesh test', 'finmesh test payments.transactions+ --json']);

  const catalog = program
    .command('catalog')
    .description(
      'every data product: owner, freshness and quality; `catalog <product>` shows one in full (schema, SLOs, lineage, consumers)',
    )
    .argument('[product]', 'a product as <name> or <domain>.<name>: its full entry');
  projectOption(catalog)
    .option('--json', 'print the catalog (or the product) as JSON')
    .action(async (name: string | undefined, opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { FinmeshError }, { openContext, openIfRan }, { buildCatalog }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../mesh/reports.js'),
      ]);
      const project = await loadProject(opts.project);
      if (name !== undefined && !project.products.some((p) => p.name === name || `${p.domain}.${p.name}` === name))
        throw new FinmeshError(
          'NOT_FOUND',
          `no product "${name}" (products: ${project.products.map((p) => `${p.domain}.${p.name}`).join(', ')})`,
        );
      const ctx = (await openIfRan(project)) ?? (await openContext(project, { readonly: true, neverRan: true }));
      try {
        const entries = await buildCatalog(ctx);
        if (name !== undefined) {
          const entry = entries.find((c) => c.product === name || c.product.endsWith(`.${name}`)) as CatalogEntry;
          if (opts.json) printJson(entry);
          else print(describeProduct(entry));
          return;
        }
        if (opts.json) printJson({ products: entries });
        else {
          print(
            formatTable(
              [
                'product',
                'zone',
                'owner',
                { key: 'freshness', style: (_v, r) => (r.late ? 'yellow' : r.never ? 'dim' : undefined) },
                { key: 'quality', align: 'right' },
                'description',
              ],
              entries.map((c) => ({
                product: c.product,
                zone: c.zone,
                owner: c.owner,
                freshness: freshness(c),
                late: c.freshness.withinSlo === false,
                never: c.freshness.ageSeconds === null,
                quality: c.quality.score === null ? '–' : formatPercent(c.quality.score, 0),
                description: truncate(c.description ?? '', 60),
              })),
            ),
          );
          print(`\n${plural(entries.length, 'product')} · details: finmesh catalog <product>`);
        }
      } finally {
        await ctx.close();
      }
    });
  examples(catalog, ['finmesh catalog', 'finmesh catalog payments.transactions', 'finmesh catalog --json']);

  const policy = program.command('policy').description('computational governance over the whole mesh');
  const check = policy
    .command('check')
    .description(
      'evaluate the built-in policies of finmesh.yaml and the project’s own (policies/*.yaml, CEL); exit 1 on any error-level violation',
    );
  projectOption(check)
    .option('--json', 'print the violations as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { ConfigError, formatIssue }, { createEngine }, { checkPolicies }, { evaluateUserPolicies }] =
        await Promise.all([
          import('../../config/project-cache.js'),
          import('../../core/errors.js'),
          import('../../engine/registry.js'),
          import('../../mesh/policies.js'),
          import('../../mesh/user-policies.js'),
        ]);
      const project = await loadProject(opts.project);
      const own = evaluateUserPolicies(project);
      if (own.issues.length > 0) throw new ConfigError(own.issues);
      const engine = await createEngine(project.config.engine);
      try {
        const violations = [...(await checkPolicies(project, engine)), ...own.violations];
        if (opts.json) printJson({ violations });
        else if (violations.length === 0) print(paint('green', 'no policy violations'));
        else {
          for (const v of violations)
            print(`${paint(statusStyle(v.severity) ?? 'bold', v.severity.padEnd(7))} ${v.policy}: ${formatIssue(v)}`);
          const errors = violations.filter((v) => v.severity === 'error').length;
          print(`\n${plural(errors, 'error')}, ${plural(violations.length - errors, 'warning')}`);
        }
        if (violations.some((v) => v.severity === 'error')) failuresFound();
      } finally {
        await engine.close();
      }
    });
  examples(check, ['finmesh policy check', 'finmesh policy check --json']);

  const gaps = program
    .command('gaps')
    .description('monitoring gaps: missing SLOs, checks, owners or on-call, lineage, unwatched SLOs, unconsumed data; exit 1 when any');
  projectOption(gaps)
    .option('--json', 'print the gaps as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { openIfRan }, { findGaps }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../jobs/context.js'),
        import('../../mesh/reports.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openIfRan(project);
      try {
        const { gaps, evaluated } = await findGaps(project, ctx);
        if (opts.json) printJson({ gaps, evaluated });
        else {
          if (gaps.length === 0) print(paint('green', 'no monitoring gaps'));
          else {
            print(formatTable(['kind', 'subject', 'detail', 'file'], gaps));
            print(`\n${plural(gaps.length, 'gap')}`);
          }
          if (!evaluated.history) print('(the project has not run yet: lineage and check history were not evaluated)');
        }
        // Gaps are findings: a CI job can gate on them.
        if (gaps.length > 0) failuresFound();
      } finally {
        await ctx?.close();
      }
    });
  examples(gaps, ['finmesh gaps', 'finmesh gaps --json || echo "monitoring gaps found"']);

  const contract = program.command('contract').description('data contracts: compare two versions, or the versions finmesh has seen');
  const diff = contract
    .command('diff')
    .description(
      'classify the changes between two versions of an ODCS contract (every schema object), and check the version says so; exit 1 on a breaking change',
    )
    .argument('<old>', 'the contract as consumers know it')
    .argument('<new>', 'the proposed version')
    .option('--json', 'print the changes as JSON')
    .action(async (oldFile: string, newFile: string, opts: { json?: boolean }) => {
      const { diffContracts, readOdcsContract, versionVerdict } = await import('../../mesh/contract-diff.js');
      const before = readOdcsContract(oldFile);
      const after = readOdcsContract(newFile);
      const changes = diffContracts(before, after);
      const version = versionVerdict(before, after, changes);
      const breaking = changes.filter((c) => c.breaking);
      if (opts.json) printJson({ breaking: breaking.length > 0, version, changes });
      else {
        if (changes.length === 0) print('no schema changes');
        for (const c of changes) print(`${c.breaking ? paint('red', 'BREAKING') : paint('green', 'ok      ')} ${c.kind}: ${c.detail}`);
        const moved = `version ${version.from ?? '(none)'} → ${version.to ?? '(none)'}`;
        if (version.ok)
          print(
            `${moved}: ${version.bump === 'none' || version.bump === 'unknown' ? 'unchanged' : `a ${version.bump} bump`}, as the changes require`,
          );
        else if (version.required === 'none') print(`${moved}`);
        else
          print(
            paint(
              version.required === 'major' ? 'red' : 'yellow',
              `${moved}: ${version.required === 'major' ? 'a breaking change needs a new major version' : 'a change needs at least a new minor version'}${version.suggested ? ` (${version.suggested})` : ''}`,
            ),
          );
      }
      if (breaking.length > 0) failuresFound();
    });
  examples(diff, [
    'finmesh contract diff contract.odcs.yaml proposed.odcs.yaml',
    'git show main:domains/payments/products/transactions/contract.odcs.yaml > /tmp/old.yaml && finmesh contract diff /tmp/old.yaml domains/payments/products/transactions/contract.odcs.yaml',
  ]);

  const history = contract
    .command('history')
    .description(
      "a product's contract versions as finmesh met them (run, serve, validate), oldest first, with the breaking and other changes from each to the next (contract diff's rules)",
    )
    .argument('<product>', 'the product as <domain>.<name> or its SQL name');
  projectOption(history)
    .option('--json', 'print the history as JSON (the same answer as GET /api/v1/products/{product}/contract-history)')
    .action(async (id: string, opts: { project: string; json?: boolean }) => {
      const [{ loadProject }, { findProduct }, { openIfRan }, { contractHistory }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../config/project.js'),
        import('../../jobs/context.js'),
        import('../../mesh/contract-history.js'),
      ]);
      const project = await loadProject(opts.project);
      const product = findProduct(project, id);
      const ctx = await openIfRan(project);
      try {
        const h = await contractHistory(product, ctx?.meta.contracts);
        if (opts.json) printJson(h);
        else {
          print(
            formatTable(
              ['version', 'first seen', 'hash', ''],
              h.versions.map((v) => ({
                version: v.version,
                'first seen': v.firstSeenAt,
                hash: v.hash.slice(0, 12),
                '': v.current ? 'current' : '',
              })),
            ),
          );
          for (const step of h.changes) {
            print(`\n${step.from.version} → ${step.to.version}${step.breaking ? ` ${paint('red', 'BREAKING')}` : ''}`);
            if (step.changes.length === 0) print('  no schema changes');
            for (const c of step.changes)
              print(`  ${c.breaking ? paint('red', 'BREAKING') : paint('green', 'ok      ')} ${c.kind}: ${c.detail}`);
          }
          if (!h.versions.some((v) => v.current))
            print(`\nthe contract now (${h.current.version}) has not been recorded yet: it is when the project runs, serves or validates`);
        }
      } finally {
        await ctx?.close();
      }
    });
  examples(history, ['finmesh contract history payments.transactions', 'finmesh contract history payments.transactions --json']);

  const odps = program
    .command('odps')
    .description('export data products as Open Data Product Standard (ODPS v1.0.0) documents')
    .argument('[products...]', 'products as <name> or <domain>.<name> (default: all)');
  projectOption(odps)
    .option('--out <dir>', 'write one <domain>.<product>.odps.yaml per product here instead of printing')
    .option('--api-url <url>', 'base URL of `finmesh serve` for the management ports (default: the server settings)')
    .option('--json', 'print the documents as a JSON array instead of YAML')
    .action(async (names: string[], opts: { project: string; out?: string; apiUrl?: string; json?: boolean }) => {
      const [{ mkdirSync, writeFileSync }, { join }, { stringify }, { loadProject }, { FinmeshError }, { productToOdps }] =
        await Promise.all([
          import('node:fs'),
          import('node:path'),
          import('yaml'),
          import('../../config/project-cache.js'),
          import('../../core/errors.js'),
          import('../../mesh/odps.js'),
        ]);
      const project = await loadProject(opts.project);
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
        if (opts.json) printJson(docs.map((d) => d.doc));
        else process.stdout.write(docs.map((d) => stringify(d.doc)).join('---\n'));
        return;
      }
      mkdirSync(opts.out, { recursive: true });
      for (const d of docs) writeFileSync(join(opts.out, `${d.product.domain}.${d.product.name}.odps.yaml`), stringify(d.doc));
      print(`${plural(docs.length, 'ODPS document')} in ${opts.out}`);
    });
  examples(odps, ['finmesh odps payments.transactions', 'finmesh odps --out odps/ --api-url https://finmesh.example']);
}

function freshness(c: CatalogEntry): string {
  if (c.freshness.ageSeconds === null) return 'never built';
  return `${formatMs(c.freshness.ageSeconds * 1000)} ago${c.freshness.withinSlo === false ? ` (late; SLO ${c.freshness.slo})` : ''}`;
}

function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}

/** One product in full, as `gh repo view` shows a repository. */
function describeProduct(c: CatalogEntry): string {
  const lines: string[] = [];
  const field = (k: string, v: string | undefined) => lines.push(`${paint('bold', `${k}:`.padEnd(13))}${v ?? '(none)'}`);
  lines.push(paint('bold', c.product), ...(c.description ? [c.description.trim(), ''] : ['']));
  field('zone', c.zone);
  field('owner', c.owner);
  field('on-call', c.onCall);
  field('cost centre', c.costCenter);
  field('contract', `${c.contract.id} v${c.contract.version} (${c.contract.status}) — ${c.contract.file}`);
  field('freshness', `${freshness(c)}${c.freshness.slo && c.freshness.withinSlo !== false ? ` (SLO ${c.freshness.slo})` : ''}`);
  field(
    'quality',
    c.quality.score === null
      ? `${plural(c.quality.checks, 'check')}, none run in the last 7 days`
      : `${formatPercent(c.quality.score)} of ${plural(c.quality.runLast7Days, 'check run')} passed in the last 7 days (${plural(c.quality.checks, 'check')})`,
  );
  field('consumers', c.consumers.join(', ') || undefined);
  field('upstream', c.lineage.upstream.join(', ') || undefined);
  field('downstream', c.lineage.downstream.join(', ') || undefined);
  field('ports', c.outputPorts.map((p) => `${p.type} ${p.name}`).join(' · '));
  lines.push('', paint('bold', 'schema'));
  lines.push(
    formatTable(
      ['name', 'type', { key: 'classification', style: (v) => (v === 'pii' || v === 'pci' ? 'yellow' : undefined) }, 'description'],
      c.schema.map((s) => ({ ...s, description: truncate(s.description ?? '', 70) })),
    ),
  );
  if (c.slos.length > 0) {
    lines.push('', paint('bold', 'SLAs'));
    lines.push(formatTable(['property', 'value', 'unit'], c.slos));
  }
  return lines.join('\n');
}
