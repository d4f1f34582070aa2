import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from './blocks.js';
import { launchChromium, renderMermaid } from './chromium.js';
import type { DocsData } from './data.js';
import { type DiagramSource, diagramSources } from './diagrams.js';
import { en, type Messages } from './messages/en.js';
import { ptBR } from './messages/pt-br.js';
import { buildPages } from './pages.js';
import { renderHtml, renderPrintHtml } from './render-html.js';
import { renderMarkdown } from './render-md.js';

export const DOC_LANGUAGES = ['pt-BR', 'en'] as const;
export type DocLanguage = (typeof DOC_LANGUAGES)[number];
export const DOC_FORMATS = ['html', 'md', 'pdf'] as const;
export type DocFormat = (typeof DOC_FORMATS)[number];

export const CATALOGUES: Record<DocLanguage, Messages> = { 'pt-BR': ptBR, en };

export interface SiteOptions {
  out: string;
  languages: readonly DocLanguage[];
  format: DocFormat;
  /** Chromium to render the diagrams (and PDFs) with; without it the diagrams stay Mermaid sources. */
  chromium: string | undefined;
}

export interface SiteResult {
  out: string;
  languages: DocLanguage[];
  format: DocFormat;
  /** Files written, relative to `out`. */
  files: string[];
  pages: { lang: DocLanguage; slug: string; sections: string[] }[];
  diagrams: { rendered: number; sources: number };
}

/**
 * Writes the documents: per language a folder with one file per page, `diagrams/` (Mermaid sources and, with
 * Chromium, their SVGs), and with two languages an index that links both. PDF: the HTML site plus one printable
 * document per language.
 */
export async function writeSite(data: DocsData, options: SiteOptions): Promise<SiteResult> {
  const { out, format } = options;
  const files: string[] = [];
  const write = (rel: string, text: string | Buffer) => {
    const file = join(out, rel);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    files.push(rel);
  };
  const perLang = options.languages.map((lang) => ({
    lang,
    m: CATALOGUES[lang],
    diagrams: diagramSources(data.project, CATALOGUES[lang]),
  }));
  const needBrowser = options.chromium !== undefined;
  const browser = needBrowser ? await launchChromium(options.chromium as string) : undefined;
  try {
    let rendered = 0;
    let sources = 0;
    const result: SiteResult['pages'] = [];
    const ext = format === 'md' ? '.md' : '.html';
    for (const { lang, m, diagrams } of perLang) {
      const svgs = browser ? await renderMermaid(browser, diagrams) : new Map<string, string>();
      for (const d of diagrams as DiagramSource[]) {
        write(`${lang}/diagrams/${d.name}.mmd`, d.mermaid);
        sources++;
        const svg = svgs.get(d.name);
        if (svg) {
          write(`${lang}/diagrams/${d.name}.svg`, svg);
          rendered++;
        }
      }
      const pages = buildPages(
        data,
        m,
        diagrams.map((d) => ({ name: d.name, rendered: svgs.has(d.name), mermaid: d.mermaid })),
      );
      const nav = pages.map((pg) => ({ slug: pg.slug, title: pg.title }));
      const footer = m.footer(`${data.takenAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
      for (const pg of pages) {
        const otherLanguages = perLang
          .filter((x) => x.lang !== lang)
          .map((x) => ({ label: x.m.label, href: `../${x.lang}/${pg.slug}${ext}` }));
        const text =
          format === 'md'
            ? renderMarkdown(pg, { nav, otherLanguages, footer })
            : renderHtml(pg, { lang: m.lang, nav, otherLanguages, footer, siteTitle: m.siteTitle(data.project.config.name) });
        write(`${lang}/${pg.slug}${ext}`, text);
        result.push({ lang, slug: pg.slug, sections: pg.sections.map((s) => s.id) });
      }
      if (format === 'pdf' && browser) await writePdf(browser, out, lang, pages, m, data, footer, write);
    }
    if (perLang.length > 1)
      write(
        `index${ext}`,
        languageIndex(
          perLang.map((x) => x.m),
          data.project.config.name,
          ext,
        ),
      );
    return {
      out,
      languages: perLang.map((x) => x.lang),
      format,
      files,
      pages: result,
      diagrams: { rendered, sources },
    };
  } finally {
    await browser?.close();
  }
}

async function writePdf(
  browser: import('playwright-core').Browser,
  out: string,
  lang: DocLanguage,
  pages: Page[],
  m: Messages,
  data: DocsData,
  footer: string,
  write: (rel: string, text: string | Buffer) => void,
): Promise<void> {
  const printFile = join(out, lang, '_print.html');
  writeFileSync(printFile, renderPrintHtml(pages, { lang: m.lang, siteTitle: m.siteTitle(data.project.config.name), footer }));
  const page = await browser.newPage();
  try {
    await page.goto(pathToFileURL(printFile).href, { waitUntil: 'load' });
    const pdf = await page.pdf({
      format: 'A4',
      printBackground: true,
      margin: { top: '15mm', bottom: '15mm', left: '12mm', right: '12mm' },
    });
    write(`${lang}/${data.project.config.name}.pdf`, pdf);
  } finally {
    await page.close();
    rmSync(printFile, { force: true });
  }
}

function languageIndex(catalogues: Messages[], name: string, ext: string): string {
  const project = name.replace(/[<>&"]/g, '');
  if (ext === '.md') return `# ${project}\n\n${catalogues.map((m) => `- [${m.label}](${m.lang}/index.md)`).join('\n')}\n`;
  const links = catalogues.map((m) => `<li><a href="${m.lang}/index.html" hreflang="${m.lang}">${m.label}</a></li>`).join('');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${project}</title></head><body style="font-family:system-ui,sans-serif"><h1>${project}</h1><ul>${links}</ul></body></html>\n`;
}
