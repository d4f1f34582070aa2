import { EXIT } from './exit-codes.js';
import { say } from './output.js';

/**
 * SIGTERM and Ctrl-C for a long command: the first asks it to stop (`stop`: finish or commit what it can), and a
 * timer makes sure it ends within `graceMs` whatever it is waiting for; a second signal ends it at once. What was
 * committed stays committed; what was not is done again by the next run (checkpoints, the ledger, deterministic
 * file names). Returns the function that removes the handlers once the command is done.
 */
export function handleStopSignals(command: string, stop: () => void, graceMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (timer) {
      say(`finmesh ${command}: ${signal} again; exiting now`);
      process.exit(EXIT.failures);
    }
    say(
      `finmesh ${command}: ${signal}; stopping (committing what was read, at most ${Math.round(graceMs / 1000)} s; ${signal} again exits now)`,
    );
    timer = setTimeout(() => {
      say(
        `finmesh ${command}: did not stop within ${Math.round(graceMs / 1000)} s; exiting (what was not committed is done again by the next run)`,
      );
      process.exit(EXIT.failures);
    }, graceMs);
    timer.unref();
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (timer) clearTimeout(timer);
  };
}
