// The app under load, in its own process (as an app is): appends transaction changes to the outbox of the app's
// SQLite database at a paced rate, each stamped with the time it is written (the event time latency is measured
// from). Only the outbox is written (finmesh reads nothing else), documents are made before the clock starts and
// changes are made by SQLite from templates: on two cores the load generator takes as little CPU from the stream as it can.
// Protocol: prints `ready` once prepared, starts on a line on stdin, prints `{"written":n,"seconds":s}` at the end.
// Usage: node --import tsx bench/load/outbox-writer.ts <app.db> <changes per second> <seconds>
import { createInterface } from 'node:readline';
import { FintechSimulator } from '../../src/demo/simulator/fintech-simulator.js';
import { SqliteApp } from '../../src/demo/simulator/sqlite-app.js';

const [db = '', rateArg = '200000', secondsArg = '10'] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);

// The app's schema, made by the simulated app itself.
new SqliteApp(db).close();
const { default: Database } = await import('better-sqlite3');
const conn = new Database(db);
conn.pragma('journal_mode = WAL');
conn.pragma('synchronous = NORMAL');
// Templates: real documents with their id cut out, so each change gets a fresh id for the price of a concatenation
// — done by SQLite itself, in one statement per transaction: no change is built or bound in JS, so this process
// offers far more than the bar's rate while taking little of the two cores the stream runs on.
const sim = new FintechSimulator({ seed: 7, customers: 5000, merchants: 500, transactionsPerSecond: 20_000, start: new Date() });
const TEMPLATES = 20_000;
conn.exec('CREATE TEMP TABLE template (i INTEGER PRIMARY KEY, version INTEGER NOT NULL, head TEXT NOT NULL, tail TEXT NOT NULL)');
const addTemplate = conn.prepare('INSERT INTO template (i, version, head, tail) VALUES (?, ?, ?, ?)');
conn.transaction(() => {
  let made = 0;
  while (made < TEMPLATES) {
    for (const e of sim.advance(1000)) {
      if (e.entity !== 'transactions' || made >= TEMPLATES) continue;
      const json = JSON.stringify({ ...e.doc, id: '\u0000' });
      const [head = '', tail = ''] = json.split('"\\u0000"');
      addTemplate.run(made++, e.doc.version, head, tail);
    }
  }
})();
// Changes `from` … `from + n - 1`, all stamped `at`: one INSERT … SELECT over a counter.
const insert = conn.prepare<[{ from: number; count: number; at: number }]>(
  `INSERT INTO outbox (aggregate, aggregate_id, op, version, event_time, payload)
   WITH RECURSIVE n(i) AS (SELECT CAST(@from AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < @from + @count - 1)
   SELECT 'transactions', 'load_' || n.i, 'upsert', t.version, @at, t.head || '"load_' || n.i || '"' || t.tail
   FROM n JOIN template t ON t.i = n.i % ${TEMPLATES}`,
);
let seq = 0;
/** Writes `count` changes in one transaction, all stamped `at`. */
const write = (count: number, at: number) => {
  insert.run({ from: seq, count, at });
  seq += count;
};

process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.once('line', () => {
    rl.close();
    process.stdin.destroy();
    resolve();
  });
});
const cpu0 = process.cpuUsage();
const start = performance.now();
const end = start + seconds * 1000;
let written = 0;
for (let now = performance.now(); now < end; now = performance.now()) {
  const due = Math.floor(((now - start) / 1000) * rate) - written;
  // At most 10 ms of changes per database transaction, as a busy app's group commit would hold.
  if (due >= 100) {
    const count = Math.min(due, Math.ceil(rate / 100));
    write(count, Date.now());
    written += count;
  } else await new Promise((r) => setTimeout(r, 1));
}
const elapsed = (performance.now() - start) / 1000;
conn.close();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ written, seconds: elapsed, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
