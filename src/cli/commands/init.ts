import { cpSync, existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { FinmeshError } from '../../core/errors.js';
import { say } from '../output.js';

const TEMPLATE = fileURLToPath(new URL('../../../templates/starter', import.meta.url));

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('scaffold a new project: one domain, one source, one product and a README')
    .argument('<dir>', 'folder to create (must be absent or empty)')
    .action((dir: string) => {
      if (existsSync(dir) && readdirSync(dir).length > 0) {
        throw new FinmeshError('CONFLICT', `${dir} exists and is not empty; choose a new folder`);
      }
      cpSync(TEMPLATE, dir, { recursive: true });
      renameSync(join(dir, 'gitignore'), join(dir, '.gitignore'));
      say(
        `created a finmesh project in ${dir}\nnext: cd ${dir} && npx finmesh validate && npx finmesh generate --seconds 30 && npx finmesh stream --until-caught-up`,
      );
    });
}
