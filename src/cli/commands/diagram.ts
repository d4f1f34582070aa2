import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadProject } from '../../config/load-project.js';
import { mermaidDiagram } from '../../docs/diagram.js';

export function registerDiagram(program: Command): void {
  program
    .command('diagram')
    .description("the project's architecture, generated from it: sources → lake zones → products → consumers, by domain")
    .option('--project <dir>', 'project folder', '.')
    .option(
      '--format <format>',
      'output format (mermaid)',
      (v) => {
        if (v !== 'mermaid') throw new InvalidArgumentError(`expected "mermaid", found "${v}"`);
        return v;
      },
      'mermaid',
    )
    .action((opts: { project: string }) => {
      process.stdout.write(mermaidDiagram(loadProject(opts.project)));
    });
}
