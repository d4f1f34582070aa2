import { Command, CommanderError } from 'commander';
import { ConfigError, FinmeshError } from '../core/errors.js';
import { registerDemo } from './commands/demo.js';
import { registerDiagram } from './commands/diagram.js';
import { registerGenerate } from './commands/generate.js';
import { registerIngest } from './commands/ingest.js';
import { registerInit } from './commands/init.js';
import { registerLake } from './commands/lake.js';
import { registerLineage } from './commands/lineage.js';
import { registerMesh } from './commands/mesh.js';
import { registerQuery } from './commands/query.js';
import { registerRun } from './commands/run.js';
import { registerRuns } from './commands/runs.js';
import { registerServe } from './commands/serve.js';
import { registerSlo } from './commands/slo.js';
import { registerStream } from './commands/stream.js';
import { registerValidate } from './commands/validate.js';

/** Exit codes (DESIGN §7): 0 success, 1 failures found, 2 usage or configuration error. */
export const EXIT = { ok: 0, failures: 1, usage: 2 } as const;

const USER_ERRORS = new Set(['CONFIG_INVALID', 'NOT_FOUND', 'QUERY_INVALID', 'PERMISSION', 'CONFLICT']);

const program = new Command()
  .name('finmesh')
  .description(
    'A data platform for fintechs: change feeds and partner files into a zoned lake, data products with contracts, lineage and monitoring.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerDemo(program);
registerValidate(program);
registerRun(program);
registerRuns(program);
registerStream(program);
registerGenerate(program);
registerQuery(program);
registerDiagram(program);
registerLineage(program);
registerMesh(program);
registerServe(program);
registerSlo(program);
registerInit(program);
registerIngest(program);
registerLake(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = exitCodeFor(e);
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`finmesh: ${e.message}\n`);
    return EXIT.usage;
  }
  if (e instanceof FinmeshError) {
    process.stderr.write(`finmesh: ${e.message}\n`);
    return USER_ERRORS.has(e.code) ? EXIT.usage : EXIT.failures;
  }
  process.stderr.write(`finmesh: unexpected error (a bug; please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.failures;
}
