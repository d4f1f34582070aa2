import type { Command } from 'commander';
import { inspectProject } from '../../config/load-project.js';
import { formatIssue } from '../../core/errors.js';
import { simulatorIssues } from '../../demo/simulator-config.js';
import { buildDag } from '../../engine/dag.js';
import { createEngine } from '../../engine/registry.js';
import { bindModels } from '../../mesh/model-binding.js';
import { printJson, say } from '../output.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check finmesh.yaml, domains, sources, contracts (ODCS v3.1) and models; report every problem')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { project: string; json?: boolean }) => {
      const { project, issues } = inspectProject(opts.project);
      if (project) {
        issues.push(...simulatorIssues(project), ...buildDag(project).issues);
        const engine = await createEngine(project.config.engine);
        try {
          issues.push(...(await bindModels(project, engine)));
        } finally {
          await engine.close();
        }
      }
      if (opts.json) printJson({ valid: issues.length === 0, issues });
      else if (issues.length === 0) {
        const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
        say(
          `${opts.project}: valid — ${n(project?.domains.length ?? 0, 'domain')}, ${n(project?.sources.length ?? 0, 'source')}, ${n(project?.products.length ?? 0, 'product')}`,
        );
      } else {
        say(`${opts.project}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`);
        for (const i of issues) say(`  ${formatIssue(i)}`);
      }
      if (issues.length > 0) process.exitCode = 2;
    });
}
