// A batch that can never commit must not hold the stream forever: after `stream.poison.attempts` failures of the same
// kind, its changes that still fail go to quarantine as dead letters (or the stream stops, if so configured), and
// SIGTERM always ends `finmesh stream` within its stop timeout.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseDocument } from 'yaml';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';

/** The example with app traffic in its outbox, one malformed document among it, and `stream` settings on top. */
function poisonedProject(stream: Record<string, unknown>): { dir: string; outbox: number; poisonOffset: number } {
  const dir = copyExample();
  const file = join(dir, 'finmesh.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.set('stream', { batchMaxRecords: 100, ...stream });
  writeFileSync(file, doc.toString());
  const gen = cli(['generate', '--project', dir, '--seconds', '2', '--rate', '150', '--json']);
  assert.equal(gen.status, 0, gen.stderr);
  const db = new Database(join(dir, '.finmesh/app.db'));
  const sample = db.prepare("SELECT payload FROM outbox WHERE aggregate = 'transactions' ORDER BY id LIMIT 1 OFFSET 40").get() as {
    payload: string;
  };
  // The app wrote a document whose amount is not a number: no batch holding it can be typed by the source's schema.
  const bad = { ...JSON.parse(sample.payload), id: 'tx_poison', amount: 'twelve reais' };
  const poisonOffset = Number(
    db
      .prepare('INSERT INTO outbox (aggregate, aggregate_id, op, version, event_time, payload) VALUES (?, ?, ?, ?, ?, ?)')
      .run('transactions', 'tx_poison', 'upsert', 1, Date.now(), JSON.stringify(bad)).lastInsertRowid,
  );
  // More traffic after it: the stream must get past the poison change to reach it.
  assert.equal(cli(['generate', '--project', dir, '--seconds', '1', '--rate', '100', '--json']).status, 0);
  const outbox = (db.prepare("SELECT count(*) AS n FROM outbox WHERE aggregate = 'transactions'").get() as { n: number }).n;
  db.close();
  return { dir, outbox, poisonOffset };
}

const query = (dir: string, sql: string) => {
  const r = cli(['query', sql, '--project', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};

describe('poison batches', () => {
  it('dead-letters only the change that fails, with its reason and offset; every other change loads once; the stream moves on', () => {
    const { dir, outbox, poisonOffset } = poisonedProject({ poison: { attempts: 2, action: 'dead-letter' } });
    const r = cli(['stream', '--project', dir, '--until-caught-up', '--no-models', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.deadLettered, { 'core-transactions': 1 });
    assert.match(
      r.stderr,
      /failed 2 times the same way: .*Failed to cast value to decimal: \\"twelve reais\\".*1 changes dead-lettered to payments_quarantine\.transactions \(kind dead-letter\), \d+ loaded; the stream goes on/s,
    );
    const [bronze] = query(dir, 'select count(*) n, count(distinct _offset) d from payments_bronze.transactions');
    assert.deepEqual([bronze?.n, bronze?.d], [outbox - 1, outbox - 1], 'every other change in bronze, once');
    const dead = query(dir, "select _source_file, _line, reason, raw from payments_quarantine.transactions where kind = 'dead-letter'");
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?._line, poisonOffset);
    assert.match(String(dead[0]?.reason), /core-transactions: .*Failed to cast value to decimal: "twelve reais"/);
    assert.match(String(dead[0]?.raw), /twelve reais/);
    // Started again, the stream has nothing left to do: the checkpoint moved past the poison change.
    const again = cli(['stream', '--project', dir, '--until-caught-up', '--no-models', '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).batches, 0);
  });

  it('with poison.action stop, the stream stops with the reason and commits nothing of the poison batch', () => {
    const { dir } = poisonedProject({ poison: { attempts: 2, action: 'stop' } });
    const r = cli(['stream', '--project', dir, '--until-caught-up', '--no-models']);
    assert.equal(r.status, 1, r.stderr);
    const stopped =
      /core-transactions: a batch of \d+ changes \(offsets (\d+)-(\d+)\) failed 2 times the same way: .*Failed to cast value to decimal.*; stopping \(stream\.poison\.action: stop\)/.exec(
        r.stderr,
      );
    assert.ok(stopped, r.stderr);
    const [inBatch] = query(
      dir,
      `select count(*) n from payments_bronze.transactions where _offset between ${stopped[1]} and ${stopped[2]}`,
    );
    assert.equal(inBatch?.n, 0);
  });

  it('SIGTERM ends a stream stuck on a failing batch within its stop timeout', async () => {
    const { dir } = poisonedProject({ poison: { attempts: 100, action: 'stop' }, stopTimeoutMs: 2000 });
    const child = cliAsync(['stream', '--project', dir, '--no-models', '--json']);
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await waitFor(() => (/Failed to cast value/.test(err) ? true : undefined), 60_000, 'the first failed commit');
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 0, err);
    assert.match(err, /read but not committed; the next start reads them again/);
    assert.ok(JSON.parse(out).uncommitted['core-transactions'] > 0);
  });
});
