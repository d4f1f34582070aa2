import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { FinmeshError } from '../../src/core/errors.js';
import { type LakeObject, type LakeStorage, STAGING_PREFIX } from '../../src/lake/storage.js';

/** Reads an object's bytes through the path the engine would read it from (local adapters: a file path). */
export type ReadObject = (storage: LakeStorage, key: string) => Promise<Buffer | undefined>;

const readLocal: ReadObject = async (storage, key) => {
  try {
    return await readFile(storage.readPath(key));
  } catch {
    return undefined;
  }
};

/**
 * The behaviour every lake storage adapter must show. `make` returns a fresh, empty lake; `read` reads an object's
 * bytes the way the engine would (default: the file at `readPath`). Keys are unique per test.
 */
export function describeLakeStorageContract(
  name: string,
  make: () => Promise<LakeStorage>,
  /**
   * `stagingInLake: false` for adapters whose staging folders are local while the lake is remote (GCS): staging is
   * then not among the lake's objects, and only the folder itself is checked.
   */
  options: { skip?: string; read?: ReadObject; stagingInLake?: boolean } = {},
): void {
  const stagingInLake = options.stagingInLake ?? true;
  const read = options.read ?? readLocal;
  describe(`lake storage contract: ${name}`, { skip: options.skip }, () => {
    let storage: LakeStorage;
    const dataset = () => `d${randomUUID().slice(0, 8)}/silver/things`;
    before(async () => {
      storage = await make();
    });

    async function stage(content: string | Buffer): Promise<{ dir: string; file: string }> {
      const dir = await storage.stagingDir();
      const file = join(dir, 'part.parquet');
      writeFileSync(file, content);
      return { dir, file };
    }

    async function listAll(prefix: string): Promise<LakeObject[]> {
      const out: LakeObject[] = [];
      for await (const o of storage.list(prefix)) out.push(o);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }

    it('commits a staged file under its key: the staged file is gone, the object is whole, its size returned', async () => {
      const key = `${dataset()}/dt=2026-11-27/part-a.parquet`;
      const { dir, file } = await stage('hello lake');
      assert.equal(await storage.commit(file, key), 'hello lake'.length);
      assert.equal(existsSync(file), false, 'the staged file moved, it was not copied');
      assert.equal((await read(storage, key))?.toString(), 'hello lake');
      await storage.discard(dir);
    });

    it('is atomic: while a large object replaces another, a reader sees the old whole or the new whole, never part', async () => {
      const key = `${dataset()}/part-big.parquet`;
      const small = Buffer.alloc(1024, 1);
      const big = Buffer.alloc(8 << 20, 2);
      const first = await stage(small);
      await storage.commit(first.file, key);
      const second = await stage(big);
      const seen = new Set<number>();
      let done = false;
      const reader = (async () => {
        while (!done) {
          const b = await read(storage, key);
          if (b) {
            seen.add(b.length);
            assert.equal(b[0], b[b.length - 1], 'one version, not a mix');
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      await storage.commit(second.file, key);
      done = true;
      await reader;
      assert.ok(seen.size > 0, 'the reader read while the commit ran');
      for (const n of seen) assert.ok(n === small.length || n === big.length, `a reader saw ${n} bytes`);
      assert.equal((await read(storage, key))?.length, big.length);
      await storage.discard(first.dir);
      await storage.discard(second.dir);
    });

    it('replaces an object with the same key (a replayed batch overwrites itself)', async () => {
      const key = `${dataset()}/part-replayed.parquet`;
      for (const content of ['first', 'the replay']) {
        const { dir, file } = await stage(content);
        await storage.commit(file, key);
        await storage.discard(dir);
      }
      assert.equal((await read(storage, key))?.toString(), 'the replay');
      assert.deepEqual(
        (await listAll(key)).map((o) => [o.key, o.size]),
        [[key, 'the replay'.length]],
      );
    });

    it('refuses a commit of a missing staged file with NOT_FOUND, and leaves the object under the key as it was', async () => {
      const key = `${dataset()}/part-kept.parquet`;
      const { dir, file } = await stage('kept');
      await storage.commit(file, key);
      await assert.rejects(storage.commit(join(dir, 'never-written.parquet'), key), (e: unknown) => {
        assert.ok(e instanceof FinmeshError && e.code === 'NOT_FOUND', String(e));
        return true;
      });
      assert.equal((await read(storage, key))?.toString(), 'kept');
      await storage.discard(dir);
    });

    it('deletes idempotently: a deleted or never-written key is not an error', async () => {
      const key = `${dataset()}/part-gone.parquet`;
      const { dir, file } = await stage('bye');
      await storage.commit(file, key);
      await storage.delete(key);
      assert.equal(await read(storage, key), undefined);
      await storage.delete(key);
      await storage.delete(`${dataset()}/never/was.parquet`);
      assert.deepEqual(await listAll(key), []);
      await storage.discard(dir);
    });

    it('lists objects by prefix with size and mtime, hidden names and staging included', async () => {
      const ds = dataset();
      const keys = [`${ds}/dt=2026-11-26/part-1.parquet`, `${ds}/dt=2026-11-27/part-2.parquet`, `${ds}/_tmp-part.parquet`];
      const before = Date.now() - 2000;
      for (const [i, key] of keys.entries()) {
        const { dir, file } = await stage('x'.repeat(i + 1));
        await storage.commit(file, key);
        await storage.discard(dir);
      }
      const listed = await listAll(`${ds}/`);
      assert.deepEqual(
        listed.map((o) => [o.key, o.size]),
        [
          [keys[2], 3],
          [keys[0], 1],
          [keys[1], 2],
        ],
      );
      for (const o of listed) assert.ok(o.mtime.getTime() >= before && o.mtime.getTime() <= Date.now() + 2000, `${o.key} mtime`);
      assert.deepEqual(
        (await listAll(`${ds}/dt=2026-11-2`)).map((o) => o.key),
        [keys[0], keys[1]],
        'a prefix need not end at a folder',
      );
      assert.deepEqual(await listAll(`${ds}/dt=1999`), [], 'an absent prefix lists nothing');
      const everything = (await listAll('')).map((o) => o.key);
      for (const k of keys) assert.ok(everything.includes(k), `the whole lake lists ${k}`);

      if (!stagingInLake) return;
      const staging = await stage('half-written');
      const inStaging = await listAll(STAGING_PREFIX);
      assert.ok(
        inStaging.some((o) => o.key.startsWith(STAGING_PREFIX) && o.key.endsWith('/part.parquet') && o.size === 'half-written'.length),
        `staging is listed: ${JSON.stringify(inStaging.map((o) => o.key))}`,
      );
      await storage.discard(staging.dir);
    });

    it('stages in a fresh folder per call, and discard removes it with what is left in it (idempotently)', async () => {
      const a = await stage('a');
      const b = await storage.stagingDir();
      assert.notEqual(a.dir, b);
      const folderOf = (dir: string) => dir.split(/[\\/]/).pop() ?? '';
      const staged = async () =>
        stagingInLake
          ? new Set((await listAll(STAGING_PREFIX)).map((o) => o.key.split('/')[1]))
          : new Set([a.dir, b].filter((d) => existsSync(d)).map(folderOf));
      assert.ok((await staged()).has(folderOf(a.dir)));
      await storage.discard(a.dir);
      await storage.discard(a.dir);
      await storage.discard(b);
      assert.equal((await staged()).has(folderOf(a.dir)), false);
      assert.equal((await staged()).has(folderOf(b)), false);
      assert.equal(existsSync(a.file), false);
    });

    it('deletes every object under a prefix and says how many; refuses the whole lake', async () => {
      const ds = dataset();
      for (const key of [`${ds}/a/1.parquet`, `${ds}/a/2.parquet`, `${ds}/b/3.parquet`]) {
        const { dir, file } = await stage(key);
        await storage.commit(file, key);
        await storage.discard(dir);
      }
      assert.equal(await storage.deletePrefix(`${ds}/a/`), 2);
      assert.equal(await storage.deletePrefix(`${ds}/a/`), 0, 'idempotent');
      assert.deepEqual(
        (await listAll(`${ds}/`)).map((o) => o.key),
        [`${ds}/b/3.parquet`],
      );
      await assert.rejects(storage.deletePrefix(''), (e: unknown) => e instanceof FinmeshError && e.code === 'PERMISSION');
    });

    it('refuses keys that escape the lake root, in every member that takes one', async () => {
      const { dir, file } = await stage('escape');
      const bad = ['../outside.parquet', 'a/../../outside.parquet', '/etc/passwd', 'a//b.parquet', './a.parquet'];
      const refused = (e: unknown) => e instanceof FinmeshError && e.code === 'PERMISSION' && /escapes the lake root/.test(e.message);
      for (const key of bad) {
        assert.throws(() => storage.readPath(key), refused, `readPath ${key}`);
        await assert.rejects(storage.commit(file, key), refused, `commit ${key}`);
        await assert.rejects(storage.delete(key), refused, `delete ${key}`);
        await assert.rejects(storage.deletePrefix(`${key}/`), refused, `deletePrefix ${key}`);
        await assert.rejects(listAll(`${key}/`), refused, `list ${key}`);
      }
      assert.equal(readFileSync(file, 'utf8'), 'escape', 'nothing was moved');
      await storage.discard(dir);
    });
  });
}
