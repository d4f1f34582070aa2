import type { Command } from 'commander';
import { examples, oneOf, projectOption } from '../options.js';
import { plural, print, printJson, say } from '../output.js';

interface DocsCliOptions {
  project: string;
  out: string;
  lang?: 'pt-BR' | 'en';
  format: 'html' | 'md' | 'pdf';
  json?: boolean;
}

export function registerDocs(program: Command): void {
  const cmd = program
    .command('docs')
    .description(
      "the brief's written deliverables, generated from the project and what it measured: architecture, monitoring strategy, data mesh and cost-benefit, governance, the IT team's preparation plan — in Portuguese and English",
    );
  projectOption(cmd)
    .option('--out <dir>', 'where to write the site', 'site')
    .option('--lang <lang>', 'one language only: pt-BR or en (default: both)', oneOf(['pt-BR', 'en'] as const))
    .option(
      '--format <format>',
      'html, md (Markdown) or pdf (HTML plus one PDF per language; needs Chromium)',
      oneOf(['html', 'md', 'pdf'] as const),
      'html',
    )
    .option('--json', 'print what was written as JSON')
    .action(async (opts: DocsCliOptions) => {
      const [
        { resolve },
        { loadProject },
        { FinmeshError },
        { openIfRan },
        { createEngine },
        { checkPolicies },
        { compileUserPolicies, evaluateUserPolicies },
        { Metrics },
        data,
        chromium,
        site,
      ] = await Promise.all([
        import('node:path'),
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../engine/registry.js'),
        import('../../mesh/policies.js'),
        import('../../mesh/user-policies.js'),
        import('../../observability/metrics.js'),
        import('../../docs/site/data.js'),
        import('../../docs/site/chromium.js'),
        import('../../docs/site/site.js'),
      ]);
      const project = await loadProject(opts.project);
      const browser = chromium.findChromium();
      if (!browser) {
        if (opts.format === 'pdf') throw new FinmeshError('NOT_FOUND', `--format pdf needs Chromium: ${chromium.CHROMIUM_HINT}`);
        say(`finmesh docs: Chromium not found, so the diagrams are written as Mermaid sources only (no SVG): ${chromium.CHROMIUM_HINT}`);
      }
      const ctx = await openIfRan(project);
      try {
        const engine = ctx?.engine ?? (await createEngine(project.config.engine));
        let policies: Awaited<ReturnType<typeof checkPolicies>> | undefined;
        try {
          // The built-in policies of finmesh.yaml and the project's own, as `finmesh policy check` evaluates them.
          policies = [...(await checkPolicies(project, engine)), ...evaluateUserPolicies(project).violations];
        } finally {
          if (!ctx) await engine.close();
        }
        const collected = await data.collectDocsData(project, {
          ctx,
          metrics: await data.describeMetrics(new Metrics()),
          ownPolicies: compileUserPolicies(project).policies.map((c) => ({ id: c.policy.id, severity: c.policy.severity, file: c.file })),
          policies: policies.map((v) => ({
            policy: v.policy,
            severity: v.severity,
            file: v.file,
            path: v.path,
            found: v.found,
            expected: v.expected,
          })),
        });
        const result = await site.writeSite(collected, {
          out: resolve(opts.out),
          languages: opts.lang ? [opts.lang] : site.DOC_LANGUAGES,
          format: opts.format,
          chromium: browser,
        });
        if (opts.json) printJson({ ...result, out: opts.out });
        else {
          const entry = result.languages.length > 1 ? 'index' : `${result.languages[0]}/index`;
          print(
            `wrote ${plural(result.pages.length, 'page')} (${result.languages.join(', ')}) and ${plural(result.diagrams.rendered, 'SVG diagram')} to ${opts.out}/ — open ${opts.out}/${entry}.${opts.format === 'md' ? 'md' : 'html'}`,
          );
          if (!ctx) print('(the project has not run yet: sections that need its history say so)');
        }
      } finally {
        await ctx?.close();
      }
    });
  examples(cmd, [
    'finmesh demo --seconds 60 && finmesh docs --project .finmesh-demo --out site',
    'finmesh docs --lang pt-BR --format md --out docs/strategy',
    'finmesh docs --format pdf',
  ]);
}
