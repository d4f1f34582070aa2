// SIGKILL of `stream`, `ingest` and `run` at random moments while data flows, then a last clean pass: every row the
// source held is in the lake once, and `lake gc` leaves no staging folder and no file the metadata does not record.
// `npm run chaos` kills ≥ 50 times in all; CI's bounded form fewer.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedSftpServer } from '../../src/sources/files/sftp/embedded-sftp-server.js';
import { copyExample, tempDir, waitFor } from '../helpers.js';
import {
  assertLakeSwept,
  bronzeChanges,
  catchUp,
  exited,
  killAtRandom,
  partnerFile,
  partnerProject,
  query,
  report,
  run,
  scale,
  silverFigures,
  sqliteApp,
  start,
} from './chaos-kit.js';

describe('chaos: SIGKILL', () => {
  it('of `stream` while the app writes: every transaction in silver once, every change in bronze', { timeout: 900_000 }, async () => {
    const dir = copyExample();
    const kills = scale(25, 6);
    const gen = start(['generate', '--project', dir, '--seconds', String(kills * 3 + 4), '--rate', '150', '--json']);
    await waitFor(() => (existsSync(join(dir, '.finmesh/app.db')) ? true : undefined), 60_000, 'the app database');
    let killed = 0;
    for (let i = 0; i < kills; i++) if (await killAtRandom(['stream', '--project', dir], {}, 400, 3000)) killed++;
    assert.equal(await exited(gen.child), 0, gen.output());
    await catchUp(dir);
    const app = sqliteApp(dir);
    assert.ok(app.transactions > 500, `the app wrote ${app.transactions} transactions`);
    assert.equal((await bronzeChanges(dir)).d, app.changes, 'bronze holds every change the app committed');
    report({ fault: 'SIGKILL of stream', injected: kills, kills: killed, ...(await silverFigures(dir, app.transactions)) });
    await assertLakeSwept(dir);
  });

  describe('of `ingest` while partner files arrive', () => {
    let server: EmbeddedSftpServer;
    let root: string;
    before(async () => {
      root = tempDir('chaos-sftp-');
      mkdirSync(join(root, 'drop'), { recursive: true });
      server = await EmbeddedSftpServer.start({ root, username: 'partner', password: 'pw-chaos', hostKeyFile: join(tempDir(), 'hk') });
    });
    after(async () => {
      await server?.close();
    });

    it('every line of every file in bronze once', { timeout: 900_000 }, async () => {
      const dir = partnerProject(server, 'drop');
      const env = { CHAOS_SFTP_PASSWORD: 'pw-chaos' };
      const kills = scale(18, 4);
      let lines = 0;
      let files = 0;
      // Three complete files more before each kill, so there is always work to be killed in.
      const more = () => {
        for (let k = 0; k < 3; k++) lines += partnerFile(root, 'drop', files++, 400);
      };
      let killed = 0;
      for (let i = 0; i < kills; i++) {
        more();
        if (await killAtRandom(['ingest', 'acquirer-settlements', '--project', dir], env, 300, 2500)) killed++;
      }
      // Not `cli` (spawnSync): this process serves the SFTP server the command reads.
      const last = await run(['ingest', 'acquirer-settlements', '--project', dir], env);
      assert.equal(last.code, 0, last.output);
      const [b] = await query<{ n: number; d: number }>(
        dir,
        'select count(*) n, count(distinct id) d from partners_bronze.settlements',
        env,
      );
      assert.ok(b);
      report({ fault: 'SIGKILL of ingest', injected: kills, kills: killed, expected: lines, lost: lines - b.d, duplicated: b.n - b.d });
      await assertLakeSwept(dir);
    });
  });

  it('of `run`: every model dataset ends as an uninterrupted run leaves it', { timeout: 900_000 }, async () => {
    const dir = copyExample();
    assert.equal((await run(['generate', '--project', dir, '--seconds', '4', '--rate', '200'])).code, 0);
    const s = await run(['stream', '--project', dir, '--until-caught-up', '--no-models']);
    assert.equal(s.code, 0, s.output);
    // The same lake and metadata, run once without a fault: what every dataset must end as.
    const ref = join(tempDir(), 'reference');
    cpSync(dir, ref, { recursive: true });
    const startedAt = Date.now();
    const clean = await run(['run', '--project', ref, '--json']);
    assert.equal(clean.code, 0, clean.output);
    const datasets = (JSON.parse(clean.stdout).models as { dataset: string; status: string }[]).map((m) => m.dataset);
    assert.ok(datasets.length >= 5, `${datasets.length} models`);
    // A kill lands at a random moment within a run's time (a fixed window missed most runs once they got fast): the
    // window is the uninterrupted run's time, shortened to any run that ended before its kill; attempts are bounded.
    const kills = scale(12, 3);
    let window = Date.now() - startedAt;
    let killed = 0;
    let attempts = 0;
    while (killed < kills && attempts < 3 * kills) {
      attempts++;
      const at = Date.now();
      if (await killAtRandom(['run', '--project', dir], {}, 100, Math.max(150, 0.9 * window))) killed++;
      else window = Math.min(window, Date.now() - at);
    }
    const last = await run(['run', '--project', dir]);
    assert.equal(last.code, 0, last.output);
    let expected = 0;
    let lost = 0;
    let duplicated = 0;
    for (const ds of datasets) {
      // Rows and distinct rows, leaving out the columns that name a run or a load time (they differ between the two).
      const sql = `select count(*) n, count(distinct row(columns(c -> not starts_with(c, '_')))) d from ${ds}`;
      const [want] = await query<{ n: number; d: number }>(ref, sql);
      const [got] = await query<{ n: number; d: number }>(dir, sql);
      assert.ok(want && got);
      expected += want.n;
      lost += Math.max(0, want.d - got.d);
      duplicated += Math.max(0, got.n - got.d - (want.n - want.d));
    }
    report({ fault: 'SIGKILL of run', injected: attempts, kills: killed, expected, lost, duplicated });
    await assertLakeSwept(dir);
  });
});
