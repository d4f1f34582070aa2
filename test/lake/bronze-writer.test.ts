import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { openContext } from '../../src/jobs/context.js';
import { writeBronzeBatch } from '../../src/lake/bronze-writer.js';
import { prepareSession } from '../../src/lake/session.js';
import { copyExample } from '../helpers.js';

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
