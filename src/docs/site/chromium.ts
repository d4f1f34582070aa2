import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { FinmeshError } from '../../core/errors.js';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** How to get a browser, for messages. */
export const CHROMIUM_HINT =
  'install Chromium (Debian/Ubuntu: apt-get install chromium) or set FINMESH_CHROMIUM to a Chromium or Chrome executable';

/** Flags for a headless browser that talks to nothing but the page it renders. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium (or Chrome) to render with: `FINMESH_CHROMIUM`, else the first of the usual names on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.FINMESH_CHROMIUM;
  if (explicit) {
    if (!existsSync(explicit)) throw new FinmeshError('CONFIG_INVALID', `FINMESH_CHROMIUM=${explicit}: no such file`);
    return explicit;
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean))
    for (const name of NAMES) {
      const p = join(dir, name);
      if (existsSync(p)) return p;
    }
  return undefined;
}

/** Mermaid's browser bundle, shipped in the `mermaid` package (no network at render time). */
export function mermaidBundle(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('mermaid/package.json');
  const file = join(dirname(pkg), 'dist', 'mermaid.min.js');
  if (!existsSync(file)) throw new FinmeshError('NOT_FOUND', `the mermaid package has no dist/mermaid.min.js (${readVersion(pkg)})`);
  return file;
}

function readVersion(pkg: string): string {
  try {
    return `version ${JSON.parse(readFileSync(pkg, 'utf8')).version}`;
  } catch {
    return 'version unknown';
  }
}

type Browser = import('playwright-core').Browser;

/**
 * Runs in the page (plain JavaScript: the page has the DOM, this process does not). Mermaid serialises as HTML; the
 * SVG is parsed and serialised again as XML so that `<br>` and friends become well-formed.
 */
const RENDER_IN_PAGE = `async (defs) => {
  const out = [];
  for (const [i, d] of defs.entries()) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: 'strict',
      theme: d.theme || 'default',
      htmlLabels: false,
      flowchart: { htmlLabels: false, useMaxWidth: false },
      sequence: { useMaxWidth: false },
      fontFamily: 'Arial, Helvetica, sans-serif',
    });
    try {
      const { svg } = await mermaid.render('d' + i, d.mermaid);
      const holder = document.createElement('div');
      holder.innerHTML = svg;
      const el = holder.querySelector('svg');
      if (!el) throw new Error('no <svg> in the output');
      out.push({ name: d.name, svg: new XMLSerializer().serializeToString(el) });
    } catch (e) {
      out.push({ name: d.name, error: String((e && e.message) || e) });
    }
  }
  return out;
}`;

/** Launches headless Chromium through playwright-core (loaded only here, when documents are rendered). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  try {
    return await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
  } catch (cause) {
    throw new FinmeshError('UNAVAILABLE', `cannot start Chromium at ${executablePath}: ${(cause as Error).message.split('\n')[0]}`, {
      cause,
    });
  }
}

/**
 * Renders Mermaid sources to standalone SVG documents in one page of headless Chromium: labels as SVG text (no HTML
 * inside foreignObject), re-serialised as XML so each file opens on its own in any viewer. Mermaid's `default` theme
 * unless a source names another.
 */
export async function renderMermaid(
  browser: Browser,
  sources: { name: string; mermaid: string; theme?: 'default' | 'dark' }[],
): Promise<Map<string, string>> {
  const page = await browser.newPage();
  try {
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
    await page.addScriptTag({ path: mermaidBundle() });
    const svgs = (await page.evaluate(`(${RENDER_IN_PAGE})(${JSON.stringify(sources)})`)) as {
      name: string;
      svg?: string;
      error?: string;
    }[];
    const result = new Map<string, string>();
    for (const s of svgs) {
      if (s.error !== undefined || s.svg === undefined)
        throw new FinmeshError('DATA_INVALID', `diagram ${s.name}: Mermaid could not render it: ${s.error ?? 'no SVG'}`);
      result.set(s.name, `<?xml version="1.0" encoding="UTF-8"?>\n${compactGeometry(s.svg)}\n`);
    }
    return result;
  } finally {
    await page.close();
  }
}

/**
 * Mermaid draws shapes as many path segments with 15-digit coordinates; a tenth of a pixel is finer than any screen
 * or printer shows, and rounding geometry attributes (never text) makes the files several times smaller.
 */
export function compactGeometry(svg: string): string {
  return svg.replace(/ (d|points|transform|viewBox)="([^"]*)"/g, (_m, attr: string, value: string) => {
    const rounded = value.replace(/-?\d+\.\d+/g, (n) => {
      const r = Math.round(Number(n) * 10) / 10;
      return Object.is(r, -0) ? '0' : String(r);
    });
    return ` ${attr}="${rounded}"`;
  });
}
