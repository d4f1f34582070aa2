import type { Command } from 'commander';
import { examples } from '../options.js';
import { print } from '../output.js';

export function registerInit(program: Command): void {
  const cmd = program
    .command('init')
    .description('scaffold a new project: one domain, one source, one product and a README')
    .argument('<dir>', 'folder to create (must be absent or empty)')
    .action(async (dir: string) => {
      const [{ cpSync, existsSync, readdirSync, renameSync }, { join }, { fileURLToPath }, { FinmeshError }] = await Promise.all([
        import('node:fs'),
        import('node:path'),
        import('node:url'),
        import('../../core/errors.js'),
      ]);
      const template = fileURLToPath(new URL('../../../templates/starter', import.meta.url));
      if (existsSync(dir) && readdirSync(dir).length > 0) {
        throw new FinmeshError('CONFLICT', `${dir} exists and is not empty; choose a new folder`);
      }
      cpSync(template, dir, { recursive: true });
      renameSync(join(dir, 'gitignore'), join(dir, '.gitignore'));
      print(
        `created a finmesh project in ${dir}\nnext: cd ${dir} && npx finmesh validate && npx finmesh generate --seconds 30 && npx finmesh stream --until-caught-up`,
      );
    });
  examples(cmd, ['finmesh init my-platform', 'cd my-platform && finmesh validate']);
}
