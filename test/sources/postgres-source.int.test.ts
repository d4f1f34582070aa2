import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ChangeRecord } from '../../src/sources/changefeed/change-feed-source.js';
import { lsnToNumber, numberToLsn, PostgresSource } from '../../src/sources/changefeed/postgres/postgres-source.js';
import { waitFor } from '../helpers.js';
import { type Launched, POSTGRES_BIN_DIR, skipUnless, startPostgres } from '../launchers.js';

const skip = skipUnless(POSTGRES_BIN_DIR !== undefined, 'PostgreSQL', 'Debian: apt-get install postgresql');

describe('LSN arithmetic', () => {
  it('maps LSNs to numbers and back', () => {
    assert.equal(lsnToNumber('16/B374D848'), 0x16b374d848);
    assert.equal(numberToLsn(0x16b374d848), '16/B374D848');
    assert.ok(lsnToNumber('1/0') > lsnToNumber('0/FFFFFFFF'));
  });
});

describe('PostgresSource against a server that stopped answering', () => {
  it('fails UNAVAILABLE, naming the table, instead of waiting forever for a server that accepts and never answers', {
    timeout: 60_000,
  }, async () => {
    // A listener that takes connections and says nothing: a hung server, or a network path that black-holes packets.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const source = new PostgresSource({
        connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
        table: 'public.accounts',
        documentColumn: 'doc',
        publication: 'p',
        slot: 's',
        keyColumns: ['id'],
      });
      await assert.rejects(source.open(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'UNAVAILABLE');
        assert.match(e.message, /PostgreSQL \(public\.accounts\): .*timeout/i);
        return true;
      });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('PostgresSource (logical replication, pgoutput) against a real PostgreSQL', skip, () => {
  let server: (Launched & { connectionString: string }) | undefined;
  let client: pg.Client;
  before(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: server.connectionString });
    await client.connect();
    await client.query('CREATE TABLE accounts (id text PRIMARY KEY, doc jsonb NOT NULL)');
    await client.query('ALTER TABLE accounts REPLICA IDENTITY FULL');
    await client.query('CREATE TABLE other (id int)');
  });
  after(async () => {
    await client?.end();
    await server?.stop();
  });

  const make = () =>
    new PostgresSource({
      connectionString: server?.connectionString ?? '',
      table: 'public.accounts',
      documentColumn: 'doc',
      publication: 'finmesh_accounts',
      slot: 'finmesh_accounts',
      keyColumns: ['id'],
    });
  const doc = (id: string, version: number, status: string) =>
    JSON.stringify({ id, version, status, updated_at: new Date().toISOString() });

  async function readAll(
    src: PostgresSource,
    checkpoint: string | undefined,
    want: number,
  ): Promise<{ records: ChangeRecord[]; checkpoint: string | undefined }> {
    const records: ChangeRecord[] = [];
    let cp = checkpoint;
    await waitFor(
      async () => {
        const page = await src.read(cp, 100);
        records.push(...page.records);
        if (page.records.length > 0) cp = page.checkpoint;
        return records.length >= want ? true : undefined;
      },
      15_000,
      `${want} changes`,
    );
    return { records, checkpoint: cp };
  }

  it('snapshots existing rows once, then streams inserts, updates and deletes in commit order, and resumes after acknowledge', async () => {
    await client.query('INSERT INTO accounts VALUES ($1, $2), ($3, $4)', ['a', doc('a', 1, 'open'), 'b', doc('b', 1, 'open')]);
    const src = make();
    await src.open(undefined);
    const snap = await readAll(src, undefined, 2);
    assert.deepEqual(
      snap.records.map((r) => [r.key, r.op]),
      [
        ['a', 'upsert'],
        ['b', 'upsert'],
      ],
    );

    await client.query('BEGIN');
    await client.query('INSERT INTO accounts VALUES ($1, $2)', ['c', doc('c', 1, 'open')]);
    await client.query('UPDATE accounts SET doc = $2 WHERE id = $1', ['a', doc('a', 2, 'frozen')]);
    await client.query('COMMIT');
    await client.query('INSERT INTO other VALUES (1)');
    await client.query('DELETE FROM accounts WHERE id = $1', ['b']);
    const live = await readAll(src, snap.checkpoint, 3);
    assert.deepEqual(
      live.records.map((r) => [r.key, r.op, JSON.parse(r.json).version]),
      [
        ['c', 'upsert', 1],
        ['a', 'upsert', 2],
        ['b', 'delete', 2],
      ],
    );
    const offsets = live.records.map((r) => r.offset);
    assert.deepEqual(
      offsets,
      [...offsets].sort((x, y) => x - y),
      'offsets follow the WAL',
    );
    // Inside the two-change transaction only its last record carries its commit as checkpoint.
    assert.ok(lsnToNumber(live.records[0]?.checkpoint ?? '0/0') < lsnToNumber(live.records[1]?.checkpoint ?? '0/0'));
    const lagBefore = await src.lag();
    assert.ok((lagBefore.bytes ?? 0) > 0, 'the slot retains WAL until acknowledged');
    const last = live.records[live.records.length - 1]?.checkpoint as string;
    await src.acknowledge(last);
    await src.close();

    // Restart from the committed checkpoint: no snapshot again, nothing already acknowledged comes back.
    await client.query('INSERT INTO accounts VALUES ($1, $2)', ['d', doc('d', 1, 'open')]);
    const again = make();
    await again.open(last);
    const resumed = await readAll(again, last, 1);
    assert.deepEqual(
      resumed.records.map((r) => r.key),
      ['d'],
    );
    await again.close();
  });
});
