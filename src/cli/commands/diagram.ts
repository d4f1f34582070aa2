import type { Command } from 'commander';
import { examples, oneOf, projectOption } from '../options.js';

export function registerDiagram(program: Command): void {
  const cmd = program
    .command('diagram')
    .description("the project's architecture, generated from it: sources → lake zones → products → consumers, by domain");
  projectOption(cmd)
    .option('--format <format>', 'output format (mermaid)', oneOf(['mermaid'] as const), 'mermaid')
    .action(async (opts: { project: string }) => {
      const [{ loadProject }, { mermaidDiagram }] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../docs/diagram.js'),
      ]);
      process.stdout.write(mermaidDiagram(await loadProject(opts.project)));
    });
  examples(cmd, ['finmesh diagram > architecture.mmd', 'finmesh diagram --project examples/fintech']);
}
