import { Command, CommanderError } from 'commander';
import { ConfigError, FinmeshError } from '../core/errors.js';
import { registerCompletion } from './commands/completion.js';
import { registerCost } from './commands/cost.js';
import { registerDemo } from './commands/demo.js';
import { registerDiagram } from './commands/diagram.js';
import { registerDocs } from './commands/docs.js';
import { registerGenerate } from './commands/generate.js';
import { registerGovernance } from './commands/governance.js';
import { registerIac } from './commands/iac.js';
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
import { EXIT } from './exit-codes.js';
import { examples } from './options.js';
import { printable } from './output.js';

export { EXIT } from './exit-codes.js';

// Command modules import only commander and the CLI's own helpers at load; each action imports what it uses when it
// runs, so `finmesh --help` loads no engine, no server and no SDK (start time is measured by `npm run bench`).

const USER_ERRORS = new Set(['CONFIG_INVALID', 'NOT_FOUND', 'QUERY_INVALID', 'PERMISSION', 'UNAUTHENTICATED', 'CONFLICT', 'NOT_SUPPORTED']);

// A reader that stopped reading (`finmesh lineage export | head -1`) is not an error: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.ok);
  throw e;
});

let commanderPrinted = false;
const program = new Command()
  .name('finmesh')
  .description(
    'A data platform for fintechs: change feeds and partner files into a zoned lake, data products with contracts, lineage and monitoring.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({
    outputError: (text, write) => {
      commanderPrinted = true;
      write(text);
    },
  })
  .exitOverride();
examples(program, [
  'finmesh demo --seconds 30',
  'finmesh query "select * from payments_gold.daily_volume_by_method" --project .finmesh-demo',
  'finmesh <command> --help',
]);
program.addHelpText('after', '\nExit codes: 0 success, 1 failures found, 2 usage or configuration error. NO_COLOR turns colour off.\n');

registerDemo(program);
registerInit(program);
registerValidate(program);
registerGenerate(program);
registerStream(program);
registerIngest(program);
registerRun(program);
registerRuns(program);
registerQuery(program);
registerMesh(program);
registerLineage(program);
registerSlo(program);
registerDiagram(program);
registerDocs(program);
registerServe(program);
registerLake(program);
registerIac(program);
registerCost(program);
registerCompletion(program);
registerGovernance(program);

// A command that reads a project takes --target (options.ts): it reaches project loading through FINMESH_TARGET.
program.hook('preAction', (_program, action) => {
  const target = action.opts().target;
  if (typeof target === 'string') process.env.FINMESH_TARGET = target;
});

/** How long a failed command's leftovers (open sockets, timers) may keep the process before it exits anyway. */
const FAILED_EXIT_GRACE_MS = 3000;

// No top-level await: the built CLI is one CommonJS file (scripts/build.mjs), which Node loads with its V8 code cache.
void program.parseAsync(process.argv).catch((e: unknown) => {
  process.exitCode = exitCodeFor(e);
  // A failed command is over: a socket to a server that stopped answering (whose goodbye was not waited for) must
  // not keep the process alive after its final error.
  setTimeout(() => process.exit(), FAILED_EXIT_GRACE_MS).unref();
});

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return EXIT.ok;
    // A bad value found by an action (not by commander's own parsing, which printed already).
    if (!commanderPrinted) process.stderr.write(`finmesh: ${e.message}\n`);
    return EXIT.usage;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`finmesh: ${printable(e.message)}\n`);
    return EXIT.usage;
  }
  if (e instanceof FinmeshError) {
    process.stderr.write(`finmesh: ${printable(e.message)}\n`);
    return USER_ERRORS.has(e.code) ? EXIT.usage : EXIT.failures;
  }
  process.stderr.write(`finmesh: unexpected error (a bug; please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  if (!process.sourceMapsEnabled && process.env.FINMESH_SOURCE_MAPS !== '1')
    process.stderr.write('finmesh: FINMESH_SOURCE_MAPS=1 gives the stack in the TypeScript sources\n');
  return EXIT.failures;
}
