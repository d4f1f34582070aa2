// The app under load, in its own process (as an app is): appends transaction changes to the outbox of the app's
// SQLite database at a paced rate, each stamped with the time it is written (the event time latency is measured
// from). Only the outbox is written (finmesh reads nothing else), documents are made before the clock starts and
// rows go 200 to a statement: on two cores the load generator takes as little CPU from the stream as it can.
// Protocol: prints `ready` once prepared, starts on a line on stdin, prints `{"written":n,"seconds":s}` at the end.
// Usage: node --import tsx bench/load/outbox-writer.ts <app.db> <changes per second> <seconds>
import { createInterface } from 'node:readline';
import { FintechSimulator } from '../../src/demo/simulator/fintech-simulator.js';
import { SqliteApp } from '../../src/demo/simulator/sqlite-app.js';

const [db = '', rateArg = '200000', secondsArg = '10'] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);

// The app's schema, made by the simulated app itself; then the same two statements it runs per change.
new SqliteApp(db).close();
const { default: Database } = await import('better-sqlite3');
const conn = new Database(db);
conn.pragma('journal_mode = WAL');
conn.pragma('synchronous = NORMAL');
const PER_STATEMENT = 200;
const outbox = conn.prepare(
  `INSERT INTO outbox (aggregate, aggregate_id, op, version, event_time, payload) VALUES ${Array(PER_STATEMENT).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
);

// Templates: real documents with their id cut out, so each change gets a fresh id for the price of a concatenation.
const sim = new FintechSimulator({ seed: 7, customers: 5000, merchants: 500, transactionsPerSecond: 20_000, start: new Date() });
const templates: { pk: string; version: number; before: string; after: string }[] = [];
while (templates.length < 20_000) {
  for (const e of sim.advance(1000)) {
    if (e.entity !== 'transactions') continue;
    const json = JSON.stringify({ ...e.doc, id: '\u0000' });
    const [before = '', after = ''] = json.split('"\\u0000"');
    templates.push({ pk: e.doc.pk, version: e.doc.version, before, after });
  }
}
let seq = 0;
/** Writes `statements` × PER_STATEMENT changes in one transaction, all stamped `at`. */
const write = conn.transaction((statements: number, at: number) => {
  const args: (string | number)[] = new Array(PER_STATEMENT * 6);
  for (let s = 0; s < statements; s++) {
    for (let i = 0; i < PER_STATEMENT; i++) {
      const t = templates[seq % templates.length] as (typeof templates)[number];
      const id = `load_${seq++}`;
      args[i * 6] = 'transactions';
      args[i * 6 + 1] = id;
      args[i * 6 + 2] = 'upsert';
      args[i * 6 + 3] = t.version;
      args[i * 6 + 4] = at;
      args[i * 6 + 5] = `${t.before}"${id}"${t.after}`;
    }
    outbox.run(...args);
  }
});

process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.once('line', () => {
    rl.close();
    process.stdin.destroy();
    resolve();
  });
});
const start = performance.now();
const end = start + seconds * 1000;
let written = 0;
for (let now = performance.now(); now < end; now = performance.now()) {
  const due = Math.floor(((now - start) / 1000) * rate) - written;
  // At most 10 ms of changes per database transaction, as a busy app's group commit would hold.
  if (due >= PER_STATEMENT) {
    const statements = Math.min(Math.floor(due / PER_STATEMENT), Math.ceil(rate / 100 / PER_STATEMENT));
    write(statements, Date.now());
    written += statements * PER_STATEMENT;
  } else await new Promise((r) => setTimeout(r, 1));
}
const elapsed = (performance.now() - start) / 1000;
conn.close();
process.stdout.write(`${JSON.stringify({ written, seconds: elapsed })}\n`);
