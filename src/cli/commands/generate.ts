import type { Command } from 'commander';
import { examples, integer, isoDateTime, positive, projectOption } from '../options.js';
import { formatCount, Progress, print, printJson } from '../output.js';

interface GenerateOptions {
  project: string;
  seconds: number;
  rate?: number;
  seed?: number;
  start?: Date;
  out?: string;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description(
      "simulate the fintech app (customers, merchants, PIX/card/boleto payments) into the databases behind the project's change feeds, or to an NDJSON file",
    );
  projectOption(cmd)
    .option('--seconds <n>', 'seconds of activity (real time when writing to the app database)', positive, 10)
    .option('--rate <n>', 'new transactions per simulated second (default: finmesh.yaml simulator.transactionsPerSecond)', positive)
    .option('--seed <n>', 'PRNG seed (default: finmesh.yaml simulator.seed)', integer)
    .option('--start <iso>', 'simulated start time, for reproducible output (default: now)', isoDateTime)
    .option('--out <file>', 'write the change events as NDJSON to this file instead of the lake')
    .option('--json', 'print the counts as JSON')
    .action(async (opts: GenerateOptions) => {
      const [{ createWriteStream }, { loadProject }, { sleep }, { openAppWriters }, { FintechSimulator }, { simulatorConfig }] =
        await Promise.all([
          import('node:fs'),
          import('../../config/project-cache.js'),
          import('../../core/sleep.js'),
          import('../../demo/app-writers.js'),
          import('../../demo/simulator/fintech-simulator.js'),
          import('../../demo/simulator-config.js'),
        ]);
      const project = await loadProject(opts.project);
      const cfg = simulatorConfig(project);
      const start = opts.start ?? new Date();
      const sim = new FintechSimulator({
        ...cfg,
        seed: opts.seed ?? cfg.seed,
        transactionsPerSecond: opts.rate ?? cfg.transactionsPerSecond,
        start,
      });
      const counts = { transactions: 0, changes: 0, customers: cfg.customers, merchants: cfg.merchants };
      const progress = new Progress();
      if (opts.out) {
        const out = createWriteStream(opts.out);
        for (const e of sim.referenceData()) out.write(`${JSON.stringify({ entity: e.entity, ...e.doc })}\n`);
        for (let s = 0; s < opts.seconds; s++) {
          const events = sim.advance(1000);
          counts.changes += events.length;
          for (const e of events)
            if (!out.write(`${JSON.stringify({ entity: e.entity, ...e.doc })}\n`))
              await new Promise<void>((r) => out.once('drain', () => r()));
          progress.update(`generated ${s + 1}/${opts.seconds} s, ${formatCount(counts.changes)} changes`);
        }
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      } else {
        // The app's own database: each change and its outbox row (or WAL record) commit together, in real time.
        const app = await openAppWriters(project);
        try {
          if (!(await app.hasReferenceData())) await app.apply(sim.referenceData(), 500);
          const started = Date.now();
          let simulated = start.getTime();
          const end = start.getTime() + opts.seconds * 1000;
          while (simulated < end) {
            await sleep(Math.min(100, Math.max(0, started + opts.seconds * 1000 - Date.now())));
            // Exactly --seconds of simulated activity, however the sleeps fall: the same seed gives the same changes.
            const now = Math.min(end, start.getTime() + (Date.now() - started));
            const events = sim.advance(now - simulated);
            simulated = now;
            await app.apply(events);
            counts.changes += events.length;
            progress.update(
              `${Math.floor((Date.now() - started) / 1000)}/${opts.seconds} s, ${formatCount(counts.changes)} changes written to the app database`,
            );
          }
        } finally {
          await app.close();
        }
      }
      progress.done();
      counts.transactions = sim.transactionsCreated;
      if (opts.json) printJson(counts);
      else
        print(
          `generated ${formatCount(counts.transactions)} transactions (${formatCount(counts.changes)} changes) for ${formatCount(counts.customers)} customers and ${formatCount(counts.merchants)} merchants${opts.out ? ` into ${opts.out}` : ''}`,
        );
    });
  examples(cmd, [
    'finmesh generate --seconds 30',
    'finmesh generate --seconds 60 --rate 500 --seed 7 --start 2026-11-27T12:00:00Z --out changes.ndjson',
  ]);
}
