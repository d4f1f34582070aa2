// The machine under finmesh fails while data flows: the metadata store locked by another process, the lake's disk
// full (a filesystem mounted under the lake, filled by another process, then freed), the clock jumping hours forward and back
// (libfaketime, mid-process). finmesh waits, retries or stops and is started again; every row ends in the lake once.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { copyExample, ROOT, tempDir, waitFor } from '../helpers.js';
import { REQUIRE_SERVICES } from '../launchers.js';
import {
  bronzeChanges,
  catchUp,
  exited,
  randomMs,
  report,
  scale,
  silverFigures,
  sleep,
  sqliteApp,
  start,
  superviseStream,
} from './chaos-kit.js';

/** Another process holding an exclusive transaction on a SQLite database until it is told to let go. */
async function lockDatabase(path: string): Promise<{ release(): Promise<void> }> {
  const holder: ChildProcess = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import Database from 'better-sqlite3';
       const db = new Database(process.argv[1]);
       db.exec('BEGIN EXCLUSIVE');
       process.stdout.write('locked\\n');
       process.stdin.resume();
       process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`,
      path,
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  holder.stdout?.on('data', (d) => {
    out += d;
  });
  await waitFor(() => (out.includes('locked') ? true : holder.exitCode !== null ? false : undefined), 30_000, 'the lock');
  assert.ok(out.includes('locked'), 'the other process holds the lock');
  return {
    async release() {
      holder.stdin?.end();
      assert.equal(await exited(holder), 0);
    },
  };
}

function canMount(): string | undefined {
  if (process.platform !== 'linux') return 'mounting a small filesystem needs Linux';
  if (process.getuid?.() !== 0) return 'mounting a small filesystem (tmpfs) needs root';
  const probe = tempDir('chaos-mount-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'this machine does not let the tests mount a tmpfs (a container without CAP_SYS_ADMIN)';
  }
}

/** Parquet files in the lake's bronze zones. */
function bronzeParquet(lake: string): number {
  return readdirSync(lake, { recursive: true }).filter((f) => /\/bronze\/.*\.parquet$/.test(String(f))).length;
}

/**
 * Appends to `path` until the filesystem under it has no space left; returns the bytes still free. Append, not
 * truncate: called again, it tops the disk up after finmesh freed some (a staging folder swept), as a runaway writer would.
 */
function fillUp(path: string): number {
  for (const size of [256 * 1024, 512]) {
    const chunk = Buffer.alloc(size, 0x5a);
    const fd = openSync(path, 'a');
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
  }
  const fs = statfsSync(path);
  return fs.bavail * fs.bsize;
}

const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime']
  .map((d) => join(d, 'libfaketime.so.1'))
  .find((p) => existsSync(p));

describe('chaos: the machine fails mid-stream', () => {
  it('the metadata store locked by another process, again and again', { timeout: 900_000 }, async () => {
    const dir = copyExample();
    const locks = scale(5, 2);
    const gen = start(['generate', '--project', dir, '--seconds', String(locks * 7 + 4), '--rate', '150']);
    const stream = superviseStream(dir);
    await waitFor(() => (existsSync(join(dir, '.finmesh/metadata.db')) ? true : undefined), 60_000, 'the metadata store');
    for (let i = 0; i < locks; i++) {
      await sleep(randomMs(1000, 2500));
      const lock = await lockDatabase(join(dir, '.finmesh/metadata.db'));
      // Held longer than a metadata write waits for a lock.
      await sleep(randomMs(4000, 7000));
      await lock.release();
    }
    assert.equal(await exited(gen.child), 0, gen.output());
    await stream.stop();
    await catchUp(dir);
    const app = sqliteApp(dir);
    assert.equal((await bronzeChanges(dir)).d, app.changes, 'bronze holds every change the app committed');
    report({
      fault: 'metadata store locked by another process',
      injected: locks,
      kills: 0,
      ...(await silverFigures(dir, app.transactions)),
    });
    process.stdout.write(`# chaos: the stream ended on its own ${stream.restarts.length} times and was started again\n`);
  });

  const noMount = canMount();
  // CI runs every fault: a machine that cannot mount the small filesystem fails the suite rather than skipping it.
  if (noMount && REQUIRE_SERVICES) throw new Error(`FINMESH_REQUIRE_SERVICES=1 but ${noMount}`);
  it('the lake disk full, then space freed again', { timeout: 900_000, ...(noMount ? { skip: noMount } : {}) }, async () => {
    const dir = copyExample();
    const lake = join(dir, '.finmesh/lake');
    mkdirSync(lake, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', lake]);
    try {
      const gen = start(['generate', '--project', dir, '--seconds', '20', '--rate', '150']);
      const stream = superviseStream(dir);
      // Some batches committed first: what is already in the lake must survive the full disk.
      await waitFor(() => (bronzeParquet(lake) > 0 ? true : undefined), 120_000, 'the stream to commit a batch');
      // Another process fills the disk to its last byte (a runaway log, a big copy): every write of finmesh fails.
      const ballast = join(lake, '.chaos-ballast');
      // The stream may free space between the fill and the check (it removes a batch's staging folder when its write
      // fails): the filler tops up again, a few times, before the check is final.
      let free = fillUp(ballast);
      for (let i = 0; i < 20 && free >= 64 * 1024; i++) free = fillUp(ballast);
      assert.ok(free < 64 * 1024, `the lake's disk is full (${free} bytes free)`);
      // The app goes on writing; the stream cannot commit until space returns, and must say why. The filler keeps the
      // disk full meanwhile.
      await waitFor(
        () => {
          fillUp(ballast);
          return /no space left on device|ENOSPC/i.test(stream.output()) ? true : undefined;
        },
        120_000,
        'the stream to report the full disk',
      );
      // Full for a while, as when an operator takes minutes to notice.
      for (let i = 0; i < 40; i++) {
        fillUp(ballast);
        await sleep(100);
      }
      rmSync(ballast);
      assert.equal(await exited(gen.child), 0, gen.output());
      await stream.stop();
      await catchUp(dir);
      const said = stream.output();
      assert.doesNotMatch(said, /unexpected error|a bug/, 'the full disk is reported as such, not as a bug');
      const app = sqliteApp(dir);
      assert.equal((await bronzeChanges(dir)).d, app.changes, 'bronze holds every change the app committed');
      report({ fault: "the lake's disk full", injected: 1, kills: 0, ...(await silverFigures(dir, app.transactions)) });
      process.stdout.write(`# chaos: the stream ended on its own ${stream.restarts.length} times and was started again\n`);
    } finally {
      execFileSync('umount', ['-l', lake]);
    }
  });

  it('the clock jumps hours forward and back under a running stream', {
    timeout: 900_000,
    ...(FAKETIME_LIB ? {} : { skip: 'libfaketime not found — install it (Debian: apt-get install faketime) to run this test' }),
  }, async () => {
    assert.ok(FAKETIME_LIB);
    const dir = copyExample();
    const clock = join(tempDir('chaos-clock-'), 'offset');
    writeFileSync(clock, '+0\n');
    // libfaketime reads the offset again at every clock read: writing the file jumps the stream's clock at once.
    // Monotonic clocks stay real (the event loop's timers), as when NTP steps the wall clock.
    const faked = {
      LD_PRELOAD: FAKETIME_LIB,
      FAKETIME_TIMESTAMP_FILE: clock,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
    const jumps = scale(6, 3);
    const gen = start(['generate', '--project', dir, '--seconds', String(jumps * 3 + 4), '--rate', '150']);
    const stream = superviseStream(dir, faked);
    const offsets = ['+3h', '-2h', '+1d', '-1d', '+0', '-30m'];
    for (let i = 0; i < jumps; i++) {
      await sleep(randomMs(1500, 3500));
      writeFileSync(clock, `${offsets[i % offsets.length]}\n`);
    }
    assert.equal(await exited(gen.child), 0, gen.output());
    await stream.stop();
    await catchUp(dir);
    const app = sqliteApp(dir);
    assert.equal((await bronzeChanges(dir)).d, app.changes, 'bronze holds every change the app committed');
    report({ fault: 'clock jumps under the stream', injected: jumps, kills: 0, ...(await silverFigures(dir, app.transactions)) });
    process.stdout.write(`# chaos: the stream ended on its own ${stream.restarts.length} times and was started again\n`);
  });
});
