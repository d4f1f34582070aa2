import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CHROMIUM_HINT, findChromium, launchChromium } from '../../src/docs/site/chromium.js';
import { cli, copyExample, tempDir } from '../helpers.js';
import { skipUnless } from '../launchers.js';

const CHROMIUM = findChromium();

/** Every file under `dir`, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p, base) : [relative(base, p)];
  });
}

/** The figures a page carries: `data-figure` key → every `data-value` under it (parsed JSON). */
function figures(html: string): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const m of html.matchAll(/data-figure="([^"]*)" data-value="([^"]*)"/g)) {
    const key = unescapeHtml(m[1] as string);
    out.set(key, [...(out.get(key) ?? []), JSON.parse(unescapeHtml(m[2] as string))]);
  }
  return out;
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The text each figure shows, by key (for figures compared as a person reads them). */
function figureTexts(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/data-figure="([^"]*)" data-value="[^"]*">([^<]*)</g))
    out.set(unescapeHtml(m[1] as string), unescapeHtml(m[2] as string));
  return out;
}

/** Money as the English pages show it (and `finmesh cost` prints it): cents from one unit up, three significant digits below. */
function money(v: number, currency: string): string {
  if (v === 0) return `${currency} 0`;
  const digits = Math.abs(v) >= 1 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumSignificantDigits: 3 };
  return `${currency} ${new Intl.NumberFormat('en', digits).format(v)}`;
}

function one(figs: Map<string, unknown[]>, key: string): unknown {
  const v = figs.get(key);
  assert.ok(v && v.length === 1, `one figure ${key} on the page (found ${JSON.stringify(v)})`);
  return v[0];
}

function json(args: string[], allowFindings = false): Record<string, unknown> {
  const r = cli(args);
  assert.ok(r.status === 0 || (allowFindings && r.status === 1), `finmesh ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('finmesh docs after the demo', () => {
  const dir = join(tempDir(), 'demo');
  const site = join(tempDir(), 'site');
  let written: { languages: string[]; pages: { lang: string; slug: string; sections: string[] }[]; diagrams: { rendered: number } };

  before(() => {
    const demo = cli(['demo', '--seconds', '20', '--dir', dir, '--port', '0', '--json']);
    assert.equal(demo.status, 0, demo.stderr);
    const r = cli(['docs', '--project', dir, '--out', site, '--json']);
    assert.equal(r.status, 0, r.stderr);
    written = JSON.parse(r.stdout);
  });

  it('writes the same pages and sections in pt-BR and in English', () => {
    assert.deepEqual(written.languages, ['pt-BR', 'en']);
    const sections = (lang: string) =>
      readdirSync(join(site, lang))
        .filter((f) => f.endsWith('.html'))
        .sort()
        .map((f) => [f, [...readFileSync(join(site, lang, f), 'utf8').matchAll(/data-section="([^"]+)"/g)].map((m) => m[1])]);
    const en = sections('en');
    assert.deepEqual(
      en.map(([f]) => f),
      ['architecture.html', 'governance.html', 'index.html', 'mesh.html', 'monitoring.html', 'preparation.html'],
    );
    assert.deepEqual(sections('pt-BR'), en);
    // The languages differ in words, not in figures.
    for (const [f] of en) {
      const a = figures(readFileSync(join(site, 'en', f as string), 'utf8'));
      const b = figures(readFileSync(join(site, 'pt-BR', f as string), 'utf8'));
      assert.deepEqual([...b.entries()], [...a.entries()], `figures of ${f}`);
    }
    assert.match(readFileSync(join(site, 'pt-BR', 'monitoring.html'), 'utf8'), /Estratégia de monitoramento/);
    assert.match(readFileSync(join(site, 'pt-BR', 'monitoring.html'), 'utf8'), /<html lang="pt-BR">/);
  });

  it("shows the same figures as the CLI's --json outputs", () => {
    const page = (slug: string) => figures(readFileSync(join(site, 'en', `${slug}.html`), 'utf8'));
    const catalog = json(['catalog', '--project', dir, '--json']).products as {
      product: string;
      contract: { version: string };
      quality: { score: number | null };
    }[];
    const index = page('index');
    assert.equal(one(index, 'products.count'), catalog.length);
    const mesh = page('mesh');
    assert.deepEqual(
      mesh.get('product'),
      catalog.map((c) => c.product),
    );
    for (const c of catalog) {
      assert.equal(one(mesh, `product.${c.product}.quality`), c.quality.score, c.product);
      assert.equal(one(mesh, `product.${c.product}.version`), c.contract.version, c.product);
    }
    assert.ok(
      catalog.some((c) => c.quality.score !== null),
      'the demo ran checks',
    );

    const gaps = json(['gaps', '--project', dir, '--json'], true).gaps as { kind: string; subject: string; detail: string }[];
    assert.equal(one(index, 'gaps.count'), gaps.length);
    assert.deepEqual([...(mesh.get('gap') ?? [])].sort(), gaps.map((g) => `${g.kind}|${g.subject}|${g.detail}`).sort());

    const slos = json(['slo', '--project', dir, '--json'], true).slos as {
      name: string;
      sli: string;
      objective: number;
      sliValue: number | null;
      errorBudgetRemaining: number | null;
    }[];
    const monitoring = page('monitoring');
    assert.equal(one(index, 'slos.count'), slos.length);
    for (const s of slos) {
      assert.equal(one(monitoring, `slo.${s.name}.objective`), s.objective, s.name);
      // Freshness is measured against the clock: a later `finmesh slo` may see the products a little older.
      if (s.sli === 'freshness') continue;
      assert.equal(one(monitoring, `slo.${s.name}.sli`), s.sliValue, s.name);
      assert.equal(one(monitoring, `slo.${s.name}.budget`), s.errorBudgetRemaining, s.name);
    }
    assert.ok(
      slos.some((s) => s.sli === 'pipeline-success' && s.sliValue !== null),
      'the demo ran models',
    );

    const jobs = json(['runs', '--project', dir, '--limit', '100000', '--json']).jobs as {
      job: string;
      runs: { status: string; rowsOut: number }[];
    }[];
    const pipelines = jobs.filter((j) => /^(stream|ingest|model|check):/.test(j.job));
    assert.ok(pipelines.length > 0);
    for (const j of pipelines) {
      assert.equal(one(monitoring, `job.${j.job}.runs`), j.runs.length, j.job);
      assert.equal(one(monitoring, `job.${j.job}.failed`), j.runs.filter((r) => r.status === 'failed').length, j.job);
      assert.equal(
        one(monitoring, `job.${j.job}.rowsOut`),
        j.runs.reduce((n, r) => n + r.rowsOut, 0),
        j.job,
      );
    }
    const total = jobs.reduce((n, j) => n + j.runs.length, 0);
    assert.equal(one(index, 'runs.count'), total);

    const violations = json(['policy', 'check', '--project', dir, '--json'], true).violations as { policy: string }[];
    const governance = page('governance');
    const policies = [...governance.keys()].filter((k) => /^policy\..+\.violations$/.test(k));
    assert.ok(policies.length >= 6, policies.join(', '));
    for (const k of policies) {
      const id = k.slice(7, -11);
      // The project's own policies (policies/*.yaml) report as `<id> (<file>)`.
      assert.equal(one(governance, k), violations.filter((v) => v.policy === id || v.policy.startsWith(`${id} (`)).length, k);
    }
    // Governance: the access matrix and the audit log as `finmesh access matrix` and `finmesh audit verify` report them.
    const matrix = JSON.parse(cli(['access', 'matrix', '--project', dir, '--format', 'json']).stdout) as {
      persona: string;
      dataset: string;
      access: string;
      rowFilter: boolean;
    }[];
    assert.ok(matrix.length > 0);
    for (const r of matrix) assert.equal(one(governance, `access.${r.persona}.${r.dataset}`), `${r.access}${r.rowFilter ? '+rows' : ''}`);
    const audit = json(['audit', 'verify', '--project', dir, '--json']) as { ok: boolean; records: number };
    assert.equal(one(governance, 'audit.records'), audit.records);
    assert.equal(one(governance, 'audit.ok'), audit.ok);
    // Costs: month to date as `finmesh cost` prints it. (The forecast is not compared: it extrapolates to the month's
    // end from now, so a later command forecasts from a later moment.)
    const cost = json(['cost', '--project', dir, '--json']) as {
      currency: string;
      rows: { name: string; monthToDate: number }[];
      total: { monthToDate: number };
    };
    const meshText = figureTexts(readFileSync(join(site, 'en', 'mesh.html'), 'utf8'));
    assert.ok(cost.rows.length > 0 && cost.total.monthToDate > 0, 'the demo metered its cost');
    for (const r of cost.rows)
      assert.equal(meshText.get(`cost.product.${r.name}.monthToDate`), money(r.monthToDate, cost.currency), r.name);
    const benefit = json(['cost', 'benefit', '--project', dir, '--json']) as {
      products: { product: string; rank: number; verdict: string }[];
    };
    for (const b of benefit.products) {
      assert.equal(one(mesh, `benefit.${b.product}.verdict`), b.verdict, b.product);
      assert.equal(one(mesh, `benefit.${b.product}.rank`), b.rank, b.product);
    }
  });

  it('resolves every internal link and anchor', () => {
    const files = walk(site).filter((f) => f.endsWith('.html'));
    assert.ok(files.length >= 13, `${files.length} HTML files`);
    let checked = 0;
    for (const f of files) {
      const html = readFileSync(join(site, f), 'utf8');
      for (const m of html.matchAll(/(?:href|src)="([^"]+)"/g)) {
        const target = unescapeHtml(m[1] as string);
        if (/^[a-z]+:/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? join(site, f) : resolve(dirname(join(site, f)), path);
        assert.ok(existsSync(file), `${f}: link ${target} → no file ${relative(site, file)}`);
        if (anchor) assert.ok(readFileSync(file, 'utf8').includes(`id="${anchor}"`), `${f}: link ${target} → no #${anchor}`);
        checked++;
      }
    }
    assert.ok(checked > 100, `${checked} links checked`);
  });

  it('draws the diagrams as SVG files that render in Chromium', skipUnless(CHROMIUM !== undefined, 'chromium', CHROMIUM_HINT), async () => {
    assert.ok(written.diagrams.rendered >= 10, `${written.diagrams.rendered} diagrams rendered (5 per language)`);
    const svgs = walk(site).filter((f) => f.endsWith('.svg'));
    assert.equal(svgs.length, written.diagrams.rendered);
    const browser = await launchChromium(CHROMIUM as string);
    try {
      const page = await browser.newPage();
      for (const f of svgs) {
        const text = readFileSync(join(site, f), 'utf8');
        assert.match(text, /^<\?xml[^>]*>\s*<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, f);
        await page.goto(pathToFileURL(join(site, f)).href);
        const shown = (await page.evaluate(`(() => {
          const root = document.documentElement;
          const box = root.getBBox();
          return { tag: root.tagName, errors: document.getElementsByTagName('parsererror').length, width: box.width, height: box.height, text: root.textContent };
        })()`)) as { tag: string; errors: number; width: number; height: number; text: string };
        assert.equal(shown.tag, 'svg', f);
        assert.equal(shown.errors, 0, f);
        assert.ok(shown.width > 100 && shown.height > 50, `${f} drawn ${shown.width}×${shown.height}`);
      }
      // The diagrams say what the project holds: its domains, its sources, in the page's language.
      await page.goto(pathToFileURL(join(site, 'pt-BR', 'diagrams', 'architecture-cloud.svg')).href);
      const cloud = String(await page.evaluate('document.documentElement.textContent'));
      for (const word of ['payments', 'partners', 'acquirer-settlements', 'Cosmos DB', 'BigQuery', 'Domínios da data mesh'])
        assert.ok(cloud.includes(word), word);
      // And the pages show them: every <img> of the architecture page loads.
      await page.goto(pathToFileURL(join(site, 'en', 'architecture.html')).href);
      const images = (await page.evaluate(
        `Promise.all([...document.images].map((i) => i.decode().then(() => i.naturalWidth, () => 0)))`,
      )) as number[];
      assert.ok(images.length >= 4 && images.every((w) => w > 0), `image widths ${images.join(', ')}`);
    } finally {
      await browser.close();
    }
  });

  it('prints the documents to PDF', skipUnless(CHROMIUM !== undefined, 'chromium', CHROMIUM_HINT), () => {
    const out = join(tempDir(), 'pdf');
    const r = cli(['docs', '--project', dir, '--out', out, '--lang', 'en', '--format', 'pdf']);
    assert.equal(r.status, 0, r.stderr);
    const pdf = readFileSync(join(out, 'en', 'fintech.pdf'));
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.ok(pdf.length > 50_000, `${pdf.length} bytes`);
  });
});

describe('finmesh docs before the project ran', () => {
  it('writes Markdown whose sections say what is missing instead of inventing it, and Mermaid where no browser draws SVG', () => {
    const project = copyExample();
    const out = join(tempDir(), 'md');
    // No Chromium on this PATH: the diagrams stay Mermaid, drawn by whoever reads the Markdown (GitHub does).
    const r = cli(['docs', '--project', project, '--out', out, '--lang', 'en', '--format', 'md'], {
      env: { PATH: tempDir('finmesh-empty-path-'), FINMESH_CHROMIUM: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Chromium not found.*apt-get install chromium/);
    assert.deepEqual(
      readdirSync(join(out, 'en', 'diagrams')).filter((f) => f.endsWith('.svg')),
      [],
    );
    const architecture = readFileSync(join(out, 'en', 'architecture.md'), 'utf8');
    assert.match(architecture, /```mermaid\nflowchart LR\n/);
    assert.match(architecture, /\[Mermaid\]\(diagrams\/architecture-cloud\.mmd\)/);
    assert.deepEqual(
      readdirSync(join(out, 'en'))
        .filter((f) => f.endsWith('.md'))
        .sort(),
      ['architecture.md', 'governance.md', 'index.md', 'mesh.md', 'monitoring.md', 'preparation.md'],
    );
    const monitoring = readFileSync(join(out, 'en', 'monitoring.md'), 'utf8');
    assert.match(monitoring, /has not run yet/);
    assert.match(monitoring, /\| `finmesh_source_lag_records` \| gauge \|/);
    const mesh = readFileSync(join(out, 'en', 'mesh.md'), 'utf8');
    assert.match(mesh, /lineage and check history were not evaluated/);
    for (const f of readdirSync(join(out, 'en')).filter((x) => x.endsWith('.md'))) {
      const text = readFileSync(join(out, 'en', f), 'utf8');
      for (const m of text.matchAll(/\]\(([^)]+)\)/g)) {
        const [path = ''] = (m[1] as string).split('#');
        if (/^[a-z]+:/.test(path) || path === '') continue;
        assert.ok(existsSync(join(out, 'en', path)), `${f}: link ${m[1]}`);
      }
    }
  });
});
