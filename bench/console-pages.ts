// The web console on the demo's data: for each main page, the time from navigation until the page shows its data
// (no "Loading…" left, and its graph or diagram drawn), in Debian's Chromium through playwright-core; beside it the
// time of the API route(s) the page reads. The bar: each page interactive in under 1 s locally.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface PageRow {
  benchmark: string;
  finmesh: string;
  reference: string;
  ratio: number;
  bar: string;
}

const BIN = resolve('bin/finmesh.js');
const CHROMIUM = '/usr/bin/chromium';
export const PAGE_BAR_MS = 1000;

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
];

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function benchConsolePages(work: string, loads = 5): Promise<PageRow[]> {
  if (!existsSync(CHROMIUM)) {
    console.error(`console pages: skipped — Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    return [];
  }
  const demo = join(work, 'console-demo');
  execFileSync(process.execPath, [BIN, 'demo', '--seconds', '10', '--dir', demo, '--port', '0', '--json'], { stdio: 'ignore' });
  const serve: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--project', demo, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
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
    const rows: PageRow[] = [];
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    for (const p of PAGES) {
      const page = await context.newPage();
      // Interactive: the page's data is on it (its tables and links work; ELK and Mermaid draw in the background).
      const show = async () => {
        const t = performance.now();
        await page.goto(`${url}${p.path}`);
        await page.waitForSelector('main h1');
        await page.waitForFunction("!document.body.textContent.includes('Loading…')");
        const interactive = performance.now() - t;
        if (p.ready) await page.waitForSelector(p.ready);
        return { interactive, drawn: performance.now() - t };
      };
      await show(); // the first load fetches the page's chunks; later ones are what a user moving between pages sees
      const pageMs: number[] = [];
      const drawnMs: number[] = [];
      const apiMs: number[] = [];
      for (let i = 0; i < loads; i++) {
        const { interactive, drawn } = await show();
        pageMs.push(interactive);
        drawnMs.push(drawn);
        const t = performance.now();
        await Promise.all(p.api.map(async (a) => (await fetch(`${url}${a}`)).arrayBuffer()));
        apiMs.push(performance.now() - t);
      }
      await page.close();
      rows.push({
        benchmark: `console page ${p.path} (ms until interactive, ${loads} loads)`,
        finmesh: `${Math.round(median(pageMs))} median, ${Math.round(Math.min(...pageMs))} min`,
        reference: `${Math.round(median(apiMs))} median (${p.api.length === 1 ? 'its API route' : `its ${p.api.length} API routes`})`,
        ratio: median(pageMs) / median(apiMs),
        bar: `< ${PAGE_BAR_MS} ms`,
      });
      if (p.ready)
        rows.push({
          benchmark: `console page ${p.path} (ms until its ${p.ready.includes('diagram') ? 'diagram' : 'graph'} is drawn)`,
          finmesh: `${Math.round(median(drawnMs))} median, ${Math.round(Math.min(...drawnMs))} min`,
          reference: '-',
          ratio: Number.NaN,
          bar: '-',
        });
    }
    return rows;
  } finally {
    await browser.close();
    serve.kill('SIGTERM');
  }
}
