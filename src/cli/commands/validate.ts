import type { Command } from 'commander';
import type { Project } from '../../config/project.js';
import { usageError } from '../exit-codes.js';
import { examples, projectOption } from '../options.js';
import { paint, plural, print, printable, printJson, say } from '../output.js';

export function registerValidate(program: Command): void {
  const cmd = program
    .command('validate')
    .description(
      'check finmesh.yaml, domains, sources, contracts (ODCS v3.1), models and price sheets; report every problem (exit 2 on any)',
    );
  projectOption(cmd)
    .option('--json', 'print the result as JSON')
    .option('--no-secrets', 'do not check that secret references (env:, file:) resolve here (a CI machine without the secrets)')
    .action(async (opts: { project: string; json?: boolean; secrets: boolean }) => {
      const [
        { inspectProject },
        { secretIssues },
        { formatIssue },
        { priceSheetIssues },
        { simulatorIssues },
        { buildDag },
        { createEngine },
        { bindModels },
        { evaluateUserPolicies },
        { rowFilterIssues },
        { bigQueryTranslationIssues },
      ] = await Promise.all([
        import('../../config/load-project.js'),
        import('../../config/secrets.js'),
        import('../../core/errors.js'),
        import('../../cost/price-sheet.js'),
        import('../../demo/simulator-config.js'),
        import('../../engine/dag.js'),
        import('../../engine/registry.js'),
        import('../../mesh/model-binding.js'),
        import('../../mesh/user-policies.js'),
        import('../../governance/access.js'),
        import('../../jobs/bigquery-models.js'),
      ]);
      const { project, issues } = inspectProject(opts.project);
      if (project) {
        issues.push(...simulatorIssues(project), ...buildDag(project).issues, ...priceSheetIssues(project));
        if (opts.secrets) issues.push(...secretIssues(project));
        // The project's own policies: files that do not compile, and error-level violations.
        const own = evaluateUserPolicies(project);
        issues.push(
          ...own.issues,
          ...own.violations
            .filter((v) => v.severity === 'error')
            .map((v) => ({ file: v.file, path: v.path, expected: `${v.expected} (policy ${v.policy})`, found: v.found })),
        );
        // Model SQL is finmesh's (DuckDB's) dialect on every target: it binds in DuckDB (a BigQuery target's embedded
        // parser), and on a BigQuery target each model must also translate to GoogleSQL.
        const engine = await createEngine(project.config.engine);
        try {
          issues.push(...(await bindModels(project, engine)), ...(await rowFilterIssues(project, engine)));
          issues.push(...(await bigQueryTranslationIssues(project, engine)));
        } finally {
          await engine.close();
        }
      }
      if (project && issues.length === 0) await rememberContracts(project, opts.secrets);
      if (opts.json) printJson({ valid: issues.length === 0, issues });
      else if (issues.length === 0) {
        print(
          `${opts.project}: ${paint('green', 'valid')} — ${plural(project?.domains.length ?? 0, 'domain')}, ${plural(project?.sources.length ?? 0, 'source')}, ${plural(project?.products.length ?? 0, 'product')}`,
        );
      } else {
        print(`${opts.project}: ${paint('red', plural(issues.length, 'problem'))}`);
        for (const i of issues) print(printable(`  ${formatIssue(i)}`));
      }
      if (issues.length > 0) usageError();
    });
  examples(cmd, ['finmesh validate', 'finmesh validate --project examples/fintech --json']);
}

/**
 * A valid project's contracts join their products' version history, when the project has a metadata store here (it
 * ran). Validation's verdict is about the project: a store that cannot be reached is said, not fatal.
 */
async function rememberContracts(project: Project, secrets: boolean): Promise<void> {
  if (project.config.metadata.kind !== 'sqlite' && !secrets) return;
  const [{ createMetadataStore }, { recordContractVersions }, { FinmeshError }] = await Promise.all([
    import('../../metadata/registry.js'),
    import('../../mesh/contract-history.js'),
    import('../../core/errors.js'),
  ]);
  try {
    const meta = await createMetadataStore(project.config.metadata, project.root, { mustExist: true });
    try {
      await recordContractVersions(project, meta.contracts, new Date());
    } finally {
      await meta.close();
    }
  } catch (e) {
    if (e instanceof FinmeshError && e.code === 'NOT_FOUND') return;
    say(`contract versions not recorded (the project stays valid): ${e instanceof Error ? e.message : String(e)}`);
  }
}
