// The web console on the demo's data: each main page's time from navigation until it shows its data (no "Loading…"
// left), in Debian's Chromium through playwright-core, against the time of the API route(s) the pages read. A sample
// loads every page once; its figure is the slowest page (the bar: each page interactive in under 1 s locally), and
// each page's own time, and when its graph or diagram is drawn, are printed beside it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/docs/site/chromium.js';
import { type BenchRow, units, valueBar } from '../harness.js';

const BIN = fileURLToPath(new URL('../../bin/finmesh.js', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

const PAGES: { path: string; api: string[]; ready?: string }[] = [
  { path: '/', api: ['/api/v1/overview'] },
  { path: '/products/payments.daily_volume_by_method', api: ['/api/v1/products/payments.daily_volume_by_method'] },
  {
    path: '/lineage?dataset=payments_gold.daily_volume_by_method',
    api: ['/api/v1/lineage/graph', '/api/v1/lineage/explore?target=payments_gold.daily_volume_by_method'],
    ready: 'svg.graph',
  },
  { path: '/runs', api: ['/api/v1/runs?limit=50'] },
  { path: '/partner-files', api: ['/api/v1/partner-files'] },
  { path: '/slos', api: ['/api/v1/slos', '/api/v1/alerts'] },
  { path: '/architecture', api: ['/api/v1/architecture'], ready: '[data-testid=diagram] svg' },
  { path: '/cost', api: ['/api/v1/costs?by=product', '/api/v1/costs/benefit'] },
];

export const consolePages: BenchRow = {
  id: 'console',
  title: 'web console: slowest main page until interactive, in Chromium',
  unit: units.seconds,
  bar: valueBar('<', 1, units.seconds),
  async open(env) {
    if (!existsSync(CHROMIUM)) return { skip: `Chromium not found at ${CHROMIUM} (Debian: apt-get install chromium)` };
    const demo = join(env.work, 'console-demo');
    execFileSync(process.execPath, [BIN, 'demo', '--seconds', '10', '--dir', demo, '--port', '0', '--json'], { stdio: 'ignore' });
    // serve checks callers: the demo's access model takes the platform token from FINMESH_TOKEN_PLATFORM (without it
    // every route answers 401 and the pages show the sign-in form, not their data).
    const token = randomBytes(24).toString('hex');
    const serve: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--project', demo, '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, FINMESH_TOKEN_PLATFORM: token },
    });
    const browser = await launchChromium(CHROMIUM);
    const close = async () => {
      await browser.close();
      serve.kill('SIGTERM');
    };
    try {
      const url = await new Promise<string>((done, fail) => {
        let err = '';
        serve.stderr?.on('data', (d) => {
          err += d;
          const m = /console (http:\/\/[^ /]+)\//.exec(err);
          if (m?.[1]) done(m[1]);
        });
        serve.on('exit', (code) => fail(new Error(`finmesh serve exited ${code}: ${err}`)));
      });
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      await context.addInitScript(`localStorage.setItem('finmesh.token', ${JSON.stringify(token)})`);
      const page = await context.newPage();
      // Interactive: the page's data is on it (its tables and links work; ELK and Mermaid draw in the background).
      const show = async (p: (typeof PAGES)[number]) => {
        const t = performance.now();
        await page.goto(`${url}${p.path}`);
        await page.waitForSelector('main h1');
        await page.waitForFunction("!document.body.textContent.includes('Loading…')");
        const interactive = (performance.now() - t) / 1000;
        if (p.ready) await page.waitForSelector(p.ready);
        return { interactive, drawn: (performance.now() - t) / 1000 };
      };
      // The first load of each page fetches its chunks; later ones are what a user moving between pages sees.
      for (const p of PAGES) await show(p);
      return {
        finmesh: {
          label: 'each main console page in Chromium, until interactive (the slowest)',
          async sample() {
            const extra: Record<string, number> = {};
            let slowest = 0;
            for (const p of PAGES) {
              const { interactive, drawn } = await show(p);
              extra[`${p.path} s`] = interactive;
              if (p.ready) extra[`${p.path} drawn s`] = drawn;
              slowest = Math.max(slowest, interactive);
            }
            return { value: slowest, extra };
          },
        },
        reference: {
          label: 'the API routes those pages read (the slowest page’s routes)',
          async sample() {
            let slowest = 0;
            for (const p of PAGES) {
              const t = performance.now();
              await Promise.all(
                p.api.map(async (a) => (await fetch(`${url}${a}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer()),
              );
              slowest = Math.max(slowest, (performance.now() - t) / 1000);
            }
            return slowest;
          },
        },
        close,
      };
    } catch (e) {
      await close();
      throw e;
    }
  },
};
