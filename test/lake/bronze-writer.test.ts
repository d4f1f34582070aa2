import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadProject } from '../../src/config/load-project.js';
import { openContext } from '../../src/jobs/context.js';
import { writeBronzeBatch } from '../../src/lake/bronze-writer.js';
import { prepareSession } from '../../src/lake/session.js';
import { copyExample, ROOT, tempDir } from '../helpers.js';

describe('a stream batch written to bronze', () => {
  it('keeps every line, offset and value of a batch made of 1,500 chunks, bytes and text alike', async () => {
    const ctx = await openContext(loadProject(copyExample()));
    try {
      await prepareSession(ctx);
      const source = ctx.project.sources.find((s) => s.name === 'core-transactions');
      assert.ok(source, 'the example has the core-transactions source');
      // 1500 pieces, a line end between each (as a batch's chunks are staged). Pieces alternate
      // between UTF-8 bytes and text, and hold one or two lines, as a batch's chunks do.
      const pieces: (string | Uint8Array)[] = [];
      let offset = 0;
      const line = () => {
        offset++;
        return `{"_offset":${offset},"_op":"upsert","id":"t${offset}","amount":${offset}.25,"payer":{"cpf":"000","name":"Zoë Ñandú"}}`;
      };
      for (let i = 0; i < 1500; i++) {
        const text = i % 3 === 0 ? `${line()}\n${line()}` : line();
        pieces.push(i % 2 === 0 ? Buffer.from(text) : text);
      }
      const commit = await writeBronzeBatch(ctx, {
        source,
        runId: 'r',
        firstOffset: 1,
        lastOffset: offset,
        input: { lines: pieces, identity: 'test' },
      });
      assert.equal(commit.rows, offset);
      const files = commit.files.map((k) => ctx.engine.dialect.quoteLiteral(ctx.storage.readPath(k))).join(', ');
      const r = await ctx.engine.query(
        `SELECT count(*) AS n, count(DISTINCT _offset) AS offsets, min(_offset) AS first, max(_offset) AS last,
           sum(amount)::VARCHAR AS total, count(*) FILTER (WHERE payer.name = 'Zoë Ñandú') AS names
         FROM read_parquet([${files}])`,
      );
      assert.deepEqual(r.rows[0], {
        n: offset,
        offsets: offset,
        first: 1,
        last: offset,
        total: ((offset * (offset + 1)) / 2 + offset * 0.25).toFixed(2),
        names: offset,
      });
    } finally {
      await ctx.close();
    }
  });
});

describe('a stream batch staged on a disk that fills up', () => {
  // A file-size limit (`ulimit -f`) stops a write short, as a disk filling up does, and the next write fails with the
  // system's error: staging must fail with that error (a stream retries it as a failure of the machinery), not with
  // a count of bytes (which the stream took for a poison batch, and dead-lettered good changes).
  it('fails with the system’s own error, not a short count', { skip: process.platform !== 'linux' }, () => {
    const dir = tempDir('staging-full-');
    const script = join(dir, 'stage.mts');
    writeFileSync(
      script,
      `import { stageBronzeBatch } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/lake/bronze-writer.ts')).href)};
       process.on('SIGXFSZ', () => {}); // the limit answers EFBIG rather than ending the process
       const lines = Array.from({ length: 1500 }, (_, i) => Buffer.from('{"_offset":' + i + ',"_op":"upsert","pad":"' + 'x'.repeat(200) + '"}'));
       const ctx = { storage: { stagingDir: async () => ${JSON.stringify(dir)} } };
       try {
         await stageBronzeBatch(ctx as never, { source: {} as never, runId: 'r', firstOffset: 0, lastOffset: 1499, input: { lines, identity: 'x' } });
         console.log('staged');
       } catch (e) {
         console.log('failed', (e as { code?: string }).code ?? '(no code)', (e as Error).message);
       }`,
    );
    const r = spawnSync('bash', ['-c', `ulimit -f 64 && exec "${process.execPath}" --import tsx "${script}"`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^failed EFBIG /, r.stdout);
  });
});
