import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';

/**
 * `--project <dir>` and `--target <name>`, which every command that reads a project takes. The target reaches project
 * loading through FINMESH_TARGET (set by `main.ts` before the action runs).
 */
export function projectOption(cmd: Command): Command {
  return targetOption(
    cmd
      .option('--project <dir>', `project folder (default: ., or the demo's workspace ${DEMO_DIR} when . holds no project)`, '.')
      .hook('preAction', (c) => {
        // After `finmesh demo`, the commands it suggests work from the same folder without --project.
        if (c.getOptionValueSource('project') !== 'default' || existsSync('finmesh.yaml')) return;
        if (!existsSync(join(DEMO_DIR, 'finmesh.yaml'))) return;
        c.setOptionValue('project', DEMO_DIR);
        process.stderr.write(`finmesh: no finmesh.yaml here; using the demo's workspace ${DEMO_DIR} (--project chooses another)\n`);
      }),
  );
}

/** Where `finmesh demo` lays out its workspace unless told otherwise (`--dir`). */
export const DEMO_DIR = '.finmesh-demo';

/** `--target <name>`: the target (finmesh.yaml `targets:`) a command runs on. */
export function targetOption(cmd: Command): Command {
  return cmd.option('--target <name>', 'the target to run on: a name under targets: in finmesh.yaml (default: target:, or local)');
}

/** Help text after the options: a few examples, as `gh` and `dbt` show them. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);
}

export function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, found "${v}"`);
  return n;
}

export function integer(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, found "${v}"`);
  return n;
}

export function isoDateTime(v: string): Date {
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime()))
    throw new InvalidArgumentError(`expected an ISO date-time such as 2026-11-27T12:00:00Z, found "${v}"`);
  return d;
}

/** A parser that accepts one of `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`expected ${choices.map((c) => `"${c}"`).join(' or ')}, found "${v}"`);
    return v as T;
  };
}
