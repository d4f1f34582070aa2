// The example project with its app, as the stream, pipeline and BigQuery tests start from it.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryBus } from '../src/bus/memory/memory-bus.js';
import { loadProject } from '../src/config/load-project.js';
import type { ProjectConfig } from '../src/config/schema.js';
import { type ChangeEvent, FintechSimulator, type SimulatorOptions } from '../src/demo/simulator/fintech-simulator.js';
import { SqliteApp } from '../src/demo/simulator/sqlite-app.js';
import { simulatorConfig } from '../src/demo/simulator-config.js';
import { openContext } from '../src/jobs/context.js';
import { StreamJob } from '../src/jobs/stream.js';
import { prepareSession } from '../src/lake/session.js';
import { copyExample } from './helpers.js';

/**
 * A copy of the example project, its context open (secrets read, session prepared), a simulator of its app (the
 * project's settings with `sim` over them) and the app's SQLite database. `streamed` has the app commit events (each
 * with its outbox row) and then streams everything to bronze through the embedded bus. The caller closes `ctx`.
 */
export async function exampleApp(o: { sim: Partial<SimulatorOptions> & { start: Date }; stream?: Partial<ProjectConfig['stream']> }) {
  const project = loadProject(copyExample());
  if (o.stream) project.config.stream = { ...project.config.stream, ...o.stream };
  const ctx = await openContext(project, { secrets: true });
  try {
    await prepareSession(ctx);
  } catch (e) {
    await ctx.close();
    throw e;
  }
  const sim = new FintechSimulator({ ...simulatorConfig(project), ...o.sim });
  const app = new SqliteApp(join(project.root, '.finmesh/app.db'));
  const streamed = async (events: ChangeEvent[]) => {
    app.apply(events, 100);
    const job = new StreamJob(ctx, { bus: new MemoryBus(), untilCaughtUp: true });
    await job.start();
    await job.wait();
    await job.close();
  };
  return { project, ctx, sim, app, streamed };
}

/** The transaction changes in the app's outbox under `root`: how many, and the first and last outbox ids. */
export function transactionsOutbox(root: string): { n: number; first: number; last: number } {
  const db = new Database(join(root, '.finmesh/app.db'), { readonly: true });
  try {
    return db.prepare("SELECT count(*) AS n, min(id) AS first, max(id) AS last FROM outbox WHERE aggregate = 'transactions'").get() as {
      n: number;
      first: number;
      last: number;
    };
  } finally {
    db.close();
  }
}
