#!/usr/bin/env node
// How long the console's architecture page takes to show its diagram, in Debian's Chromium: a measurement to read,
// not a test. Runs a short demo in a temporary folder (or uses --project <dir> of a project that ran), starts
// `finmesh serve`, and opens /architecture in a fresh browser context each time (no cache of the tab), from navigation
// until the diagram's <svg> is on the page.
//   node scripts/measure-architecture.mjs [--project <dir>] [--times 7]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = fileURLToPath(new URL('../bin/finmesh.js', import.meta.url));
const { values } = parseArgs({
  options: { project: { type: 'string' }, times: { type: 'string', default: '7' }, chromium: { type: 'string' } },
});
const chromiumPath = values.chromium ?? process.env.FINMESH_CHROMIUM ?? '/usr/bin/chromium';
const times = Number(values.times);

let work;
let project = values.project;
if (!project) {
  work = mkdtempSync(join(tmpdir(), 'finmesh-arch-'));
  project = join(work, 'demo');
  execFileSync(process.execPath, [BIN, 'demo', '--seconds', '5', '--dir', project, '--port', '0', '--json'], { stdio: 'ignore' });
}
// The demo's access model names its tokens by environment variable: the platform token signs the browser in.
const token = randomBytes(24).toString('hex');
const serve = spawn(process.execPath, [BIN, 'serve', '--project', project, '--port', '0'], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, FINMESH_TOKEN_PLATFORM: token },
});
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const url = await new Promise((done, fail) => {
    let err = '';
    serve.stderr.on('data', (d) => {
      err += d;
      const m = /console (http:\/\/[^ /]+)\//.exec(err);
      if (m) done(m[1]);
    });
    serve.on('exit', (code) => fail(new Error(`finmesh serve exited ${code}: ${err}`)));
  });
  const sample = async (dark) => {
    const context = await browser.newContext({ colorScheme: dark ? 'dark' : 'light', viewport: { width: 1400, height: 1000 } });
    await context.addInitScript(`localStorage.setItem('finmesh.token', ${JSON.stringify(token)})`);
    const page = await context.newPage();
    const t = performance.now();
    await page.goto(`${url}/architecture`);
    await page.waitForSelector('[data-testid=diagram] svg', { timeout: 60_000 });
    const ms = performance.now() - t;
    const how = await page.getAttribute('[data-testid=diagram]', 'data-drawn');
    await context.close();
    return { ms, how: how ?? 'browser' };
  };
  // The first visit loads the page's scripts into the HTTP cache and lets the server draw; it is reported apart.
  const first = await sample(false);
  console.log(`first visit: ${first.ms.toFixed(0)} ms (drawn by ${first.how})`);
  for (const dark of [false, true]) {
    const all = [];
    for (let i = 0; i < times; i++) all.push(await sample(dark));
    const ms = all.map((s) => s.ms).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    console.log(
      `${dark ? 'dark ' : 'light'}: median ${median.toFixed(0)} ms [${ms[0].toFixed(0)}–${ms.at(-1).toFixed(0)}] over ${times} fresh tabs (drawn by ${[...new Set(all.map((s) => s.how))].join(', ')})`,
    );
  }
} finally {
  await browser.close();
  serve.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
}
