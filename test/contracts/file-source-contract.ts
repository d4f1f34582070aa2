import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FinmeshError } from '../../src/core/errors.js';
import type { FileSource, RemoteFile } from '../../src/sources/files/file-source.js';
import { tempDir } from '../helpers.js';
import { startTcpProxy } from '../tcp-proxy.js';

/** A real server of the adapter under test, and how to open sources on it. */
export interface FileSourceFixture {
  /** The remote folder the suite works in, as the source names it (`/contract`, or an absolute path on sshd). */
  dir: string;
  /** The server's loopback port (the suite puts a proxy in front of it to cut connections). */
  port: number;
  /** Writes a file on the server's side, `rel` below `dir`, with this modification time. */
  put(rel: string, data: Buffer, mtime?: Date): void;
  /** Whether the server holds a file `rel` below `dir`. */
  exists(rel: string): boolean;
  /**
   * Opens a source on the server with the adapter's own settings: through loopback `port` when given (the proxy),
   * making `attempts` attempts at each operation (backoff short, for tests) and calling `onRetry` before each retry.
   */
  open(o?: { port?: number; attempts?: number; onRetry?: (e: unknown) => void }): Promise<FileSource>;
  /** Opens a source whose credentials the server refuses. */
  openWithRefusedCredentials(): Promise<FileSource>;
  /**
   * Opens a source that pins an identity the server does not have (an SSH host key), and names both, as an error
   * should; undefined for an adapter without one.
   */
  impostor?: { open(): Promise<FileSource>; pinned: string; offered: string };
  close(): Promise<void>;
}

const isCode = (code: string) => (e: unknown) => e instanceof FinmeshError && e.code === code;

/**
 * The behaviour every file-source adapter must show, against its real server. `make` starts the server; each test
 * works in its own folder below the fixture's `dir`.
 */
export function describeFileSourceContract(name: string, make: () => Promise<FileSourceFixture>, options: { skip?: string } = {}): void {
  describe(`file source contract: ${name}`, { skip: options.skip }, () => {
    let fx: FileSourceFixture;
    let source: FileSource;
    let n = 0;
    const folder = () => `t${n++}`;
    const local = tempDir('file-source-contract-');
    const localFile = (what: string) => join(local, `${what}-${n++}`);
    // Whole seconds: SFTP keeps modification times to the second.
    const t1 = new Date(Date.UTC(2026, 10, 26, 10, 0, 0));
    const t2 = new Date(Date.UTC(2026, 10, 27, 23, 59, 59));
    before(async () => {
      fx = await make();
      source = await fx.open();
    });
    after(async () => {
      await source?.close();
      await fx?.close();
    });

    it('lists the regular files of a folder with sizes and modification times, sorted by path; subfolders only when recursive', async () => {
      const f = folder();
      fx.put(`${f}/b.csv`, Buffer.from('bb\n'), t2);
      fx.put(`${f}/a.csv`, Buffer.from('a\n'), t1);
      fx.put(`${f}/sub/c.csv`, Buffer.alloc(1000, 'c'), t1);
      fx.put(`${f}/sub/deeper/d.csv`, Buffer.alloc(0), t2);
      const flat = await source.list(`${fx.dir}/${f}`);
      assert.deepEqual(flat, [
        { path: `${fx.dir}/${f}/a.csv`, size: 2, mtime: t1 },
        { path: `${fx.dir}/${f}/b.csv`, size: 3, mtime: t2 },
      ]);
      const all = await source.list(`${fx.dir}/${f}`, { recursive: true });
      assert.deepEqual(
        all.map((x) => [x.path.slice(fx.dir.length + 1), x.size, x.mtime.toISOString()]),
        [
          [`${f}/a.csv`, 2, t1.toISOString()],
          [`${f}/b.csv`, 3, t2.toISOString()],
          [`${f}/sub/c.csv`, 1000, t1.toISOString()],
          [`${f}/sub/deeper/d.csv`, 0, t2.toISOString()],
        ],
      );
      assert.deepEqual(await source.list(`${fx.dir}/${f}/`), flat, 'a trailing slash names the same folder');
    });

    it('says NOT_FOUND for a folder that is not there, at once', async () => {
      const retried: unknown[] = [];
      const s = await fx.open({ onRetry: (e) => retried.push(e) });
      try {
        await assert.rejects(s.list(`${fx.dir}/no-such-folder`), isCode('NOT_FOUND'));
        assert.equal(retried.length, 0, 'a missing folder is not retried');
      } finally {
        await s.close();
      }
    });

    it('stats a file; a missing path or a folder is undefined, not an error', async () => {
      const f = folder();
      fx.put(`${f}/x.txt`, Buffer.from('hello'), t1);
      assert.deepEqual(await source.stat(`${fx.dir}/${f}/x.txt`), { path: `${fx.dir}/${f}/x.txt`, size: 5, mtime: t1 });
      assert.equal(await source.stat(`${fx.dir}/${f}/missing.txt`), undefined);
      assert.equal(await source.stat(`${fx.dir}/${f}`), undefined);
    });

    it('downloads a whole file byte for byte, and a file already whole moves nothing', async () => {
      const f = folder();
      const data = randomBytes(3 * 2 ** 20 + 12_345);
      fx.put(`${f}/big.bin`, data);
      const file = localFile('whole');
      assert.equal(await source.download(`${fx.dir}/${f}/big.bin`, file, data.length), data.length);
      assert.ok(readFileSync(file).equals(data));
      assert.equal(await source.download(`${fx.dir}/${f}/big.bin`, file, data.length), 0);
      const empty = localFile('empty');
      fx.put(`${f}/empty.bin`, Buffer.alloc(0));
      assert.equal(await source.download(`${fx.dir}/${f}/empty.bin`, empty, 0), 0);
      assert.equal(statSync(empty).size, 0);
    });

    it('downloads several files at once, within its own bound on connections', async () => {
      const f = folder();
      const files = Array.from({ length: 6 }, (_, i) => randomBytes(200_000 + i * 1000));
      files.forEach((d, i) => {
        fx.put(`${f}/p${i}.bin`, d);
      });
      const targets = files.map((_, i) => localFile(`parallel${i}`));
      const moved = await Promise.all(files.map((d, i) => source.download(`${fx.dir}/${f}/p${i}.bin`, targets[i] as string, d.length)));
      assert.deepEqual(
        moved,
        files.map((d) => d.length),
      );
      files.forEach((d, i) => {
        assert.ok(readFileSync(targets[i] as string).equals(d), `file ${i}`);
      });
    });

    it('resumes after an exact prefix: only the rest crosses the wire; a local file longer than the remote starts over', async () => {
      const f = folder();
      const data = randomBytes(2 * 2 ** 20);
      fx.put(`${f}/r.bin`, data);
      const proxy = await startTcpProxy(fx.port);
      const s = await fx.open({ port: proxy.port });
      try {
        const file = localFile('prefix');
        const have = 1_500_000;
        writeFileSync(file, data.subarray(0, have));
        const before = proxy.relayed;
        assert.equal(await s.download(`${fx.dir}/${f}/r.bin`, file, data.length), data.length - have);
        assert.ok(readFileSync(file).equals(data));
        const wire = proxy.relayed - before;
        assert.ok(wire < data.length - have + 256 * 1024, `${wire} bytes crossed the wire for the missing ${data.length - have}`);
        const longer = localFile('longer');
        writeFileSync(longer, Buffer.concat([data, Buffer.from('stale tail of another version')]));
        assert.equal(await s.download(`${fx.dir}/${f}/r.bin`, longer, data.length), data.length);
        assert.ok(readFileSync(longer).equals(data));
      } finally {
        await s.close();
        await proxy.close();
      }
    });

    it('keeps an exact prefix when the connection is cut mid-transfer, and the next download fetches only the rest', async () => {
      const f = folder();
      const data = randomBytes(4 * 2 ** 20);
      fx.put(`${f}/cut.bin`, data);
      const proxy = await startTcpProxy(fx.port);
      const s = await fx.open({ port: proxy.port, attempts: 1 });
      try {
        const file = localFile('cut');
        proxy.cutAfter(data.length / 2);
        await assert.rejects(s.download(`${fx.dir}/${f}/cut.bin`, file, data.length), (e: unknown) => e instanceof FinmeshError);
        assert.ok(proxy.cut, 'the connection was cut');
        const have = statSync(file).size;
        assert.ok(have > 0 && have < data.length, `a partial prefix was kept (${have} of ${data.length})`);
        assert.ok(readFileSync(file).equals(data.subarray(0, have)), 'the partial file is exactly the start of the remote file');
        assert.equal(await s.download(`${fx.dir}/${f}/cut.bin`, file, data.length), data.length - have);
        assert.ok(readFileSync(file).equals(data));
      } finally {
        await s.close();
        await proxy.close();
      }
    });

    it('retries a cut transfer by itself, resuming, when it has attempts left', async () => {
      const f = folder();
      const data = randomBytes(4 * 2 ** 20);
      fx.put(`${f}/retry.bin`, data);
      const proxy = await startTcpProxy(fx.port);
      const retried: unknown[] = [];
      const s = await fx.open({ port: proxy.port, attempts: 3, onRetry: (e) => retried.push(e) });
      try {
        const file = localFile('retry');
        proxy.cutAfter(data.length / 2);
        const before = proxy.relayed;
        assert.equal(await s.download(`${fx.dir}/${f}/retry.bin`, file, data.length), data.length);
        assert.ok(readFileSync(file).equals(data));
        assert.ok(proxy.cut && retried.length >= 1, 'the transfer was cut and retried');
        const wire = proxy.relayed - before;
        assert.ok(wire < data.length * 1.25, `the retry resumed rather than starting over (${wire} bytes for ${data.length})`);
      } finally {
        await s.close();
        await proxy.close();
      }
    });

    it('says NOT_FOUND for a file that is not there, without retrying', async () => {
      const retried: unknown[] = [];
      const s = await fx.open({ onRetry: (e) => retried.push(e) });
      try {
        await assert.rejects(s.download(`${fx.dir}/no-such-file.bin`, localFile('missing'), 10), isCode('NOT_FOUND'));
        assert.equal(retried.length, 0);
      } finally {
        await s.close();
      }
    });

    it('after commit: leaves, moves into an archive folder (made if missing, by default `archive` beside the file) or deletes', async () => {
      const f = folder();
      for (const name of ['leave.csv', 'move.csv', 'move-default.csv', 'delete.csv']) fx.put(`${f}/${name}`, Buffer.from(name), t1);
      await source.afterCommit(`${fx.dir}/${f}/leave.csv`, 'leave');
      assert.ok(fx.exists(`${f}/leave.csv`));
      await source.afterCommit(`${fx.dir}/${f}/move.csv`, 'move', `${fx.dir}/${f}/done/2026`);
      assert.deepEqual([fx.exists(`${f}/move.csv`), fx.exists(`${f}/done/2026/move.csv`)], [false, true]);
      await source.afterCommit(`${fx.dir}/${f}/move-default.csv`, 'move');
      assert.deepEqual([fx.exists(`${f}/move-default.csv`), fx.exists(`${f}/archive/move-default.csv`)], [false, true]);
      await source.afterCommit(`${fx.dir}/${f}/delete.csv`, 'delete');
      assert.equal(fx.exists(`${f}/delete.csv`), false);
      const left: RemoteFile[] = await source.list(`${fx.dir}/${f}`);
      assert.deepEqual(
        left.map((x) => x.path.slice(x.path.lastIndexOf('/') + 1)),
        ['leave.csv'],
      );
      await assert.rejects(source.afterCommit(`${fx.dir}/${f}/delete.csv`, 'delete'), isCode('NOT_FOUND'));
      await assert.rejects(source.afterCommit(`${fx.dir}/${f}/gone.csv`, 'move'), isCode('NOT_FOUND'));
    });

    it('says PERMISSION when the server refuses the credentials, without retrying', async () => {
      const started = Date.now();
      await assert.rejects(
        use(() => fx.openWithRefusedCredentials()),
        (e: unknown) => isCode('PERMISSION')(e) && !/after \d+ attempts/.test((e as Error).message),
      );
      assert.ok(Date.now() - started < 10_000);
    });

    it('refuses a server that does not prove the pinned identity, as PERMISSION naming both', async (t) => {
      const impostor = fx.impostor;
      if (!impostor) return t.skip('the adapter pins no server identity');
      await assert.rejects(
        use(() => impostor.open()),
        (e: unknown) =>
          isCode('PERMISSION')(e) && (e as Error).message.includes(impostor.pinned) && (e as Error).message.includes(impostor.offered),
      );
    });

    it('closes once, however often asked; a closed source does no more work', async () => {
      const s = await fx.open();
      await s.close();
      await s.close();
      await assert.rejects(s.list(fx.dir), (e: unknown) => e instanceof FinmeshError);
    });
  });
}

/** Opens a source and lists with it, so an adapter may refuse at creation or at first use. */
async function use(open: () => Promise<FileSource>): Promise<void> {
  const s = await open();
  try {
    await s.list('/');
  } finally {
    await s.close();
  }
}

/** A fixture's `put` and `exists` over the folder a server serves. */
export function localFolder(root: string): Pick<FileSourceFixture, 'put' | 'exists'> {
  return {
    put(rel, data, mtime) {
      const path = join(root, rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data);
      if (mtime) utimesSync(path, mtime, mtime);
    },
    exists: (rel) => existsSync(join(root, rel)),
  };
}
