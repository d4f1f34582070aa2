import { type Block, type Cell, type Inline, isFig, type Page } from './blocks.js';

export interface HtmlFrame {
  lang: string;
  /** The whole site's pages, for the navigation. */
  nav: { slug: string; title: string }[];
  /** Other languages of the same page: label → path relative to this page. */
  otherLanguages: { label: string; href: string }[];
  /** "Generated … from …" under every page. */
  footer: string;
  siteTitle: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A link target as written by the templates: a page slug (`mesh`, `mesh#gaps`) or a file of the site (`diagrams/x.svg`). */
export function hrefFor(target: string, ext: '.html' | '.md'): string {
  const [path = '', anchor] = target.split('#');
  if (path === '') return `#${anchor}`;
  const file = /\.[a-z]+$/.test(path) ? path : `${path}${ext}`;
  return anchor ? `${file}#${anchor}` : file;
}

function inline(i: Inline): string {
  if (typeof i === 'string') return esc(i);
  if (isFig(i)) return `<span class="fig" data-figure="${esc(i.fig)}" data-value="${esc(JSON.stringify(i.value))}">${esc(i.text)}</span>`;
  if ('link' in i) return `<a href="${esc(hrefFor(i.link, '.html'))}">${esc(i.text)}</a>`;
  return `<code>${esc(i.code)}</code>`;
}

const inlines = (xs: Inline[]) => xs.map(inline).join('');
const cell = (c: Cell) => (Array.isArray(c) ? inlines(c) : inline(c));

function block(b: Block): string {
  switch (b.kind) {
    case 'p':
      return `<p>${inlines(b.content)}</p>`;
    case 'missing':
      return `<p class="missing">${inlines(b.content)}</p>`;
    case 'h':
      return `<h3 id="${esc(b.id)}">${esc(b.text)}</h3>`;
    case 'list': {
      const tag = b.ordered ? 'ol' : 'ul';
      return `<${tag}>${b.items.map((it) => `<li>${inlines(it)}</li>`).join('')}</${tag}>`;
    }
    case 'table': {
      const cls = (i: number) => (b.align?.[i] === 'right' ? ' class="num"' : '');
      return `<table><thead><tr>${b.head.map((x, i) => `<th${cls(i)}>${esc(x)}</th>`).join('')}</tr></thead><tbody>${b.rows
        .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${cell(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`;
    }
    case 'diagram':
      return b.rendered
        ? `<figure><a href="${esc(b.svg)}"><img src="${esc(b.svg)}" alt="${esc(b.caption)}"></a><figcaption>${esc(b.caption)} · <a href="${esc(b.source)}">Mermaid</a></figcaption></figure>`
        : `<figure><pre><code class="language-mermaid">${esc(b.mermaid)}</code></pre><figcaption>${esc(b.caption)} · <a href="${esc(b.source)}">Mermaid</a></figcaption></figure>`;
    case 'code':
      return `<pre><code class="language-${esc(b.lang)}">${esc(b.text)}</code></pre>`;
  }
}

const CSS = `
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;display:flex}
nav{width:15rem;flex:none;padding:1rem;background:#f4f6f8;min-height:100vh;box-sizing:border-box}
nav a{display:block;padding:.2rem 0;color:#0b5cad;text-decoration:none}nav a.here{font-weight:600;color:#1b1f24}
nav .langs{margin-top:1rem;font-size:.9em}
main{padding:1rem 2rem;max-width:62rem}
h1{margin-top:.5rem}.lead{color:#57606a;font-size:1.05em}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92em}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}.num{text-align:right}
code{background:#f6f8fa;padding:0 .2em;border-radius:3px;font-size:.92em}pre{background:#f6f8fa;padding:.6rem;overflow:auto}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #d0d7de}figcaption{color:#57606a;font-size:.9em}
.missing{border-left:4px solid #d4a72c;background:#fff8c5;padding:.4rem .6rem}
footer{color:#57606a;font-size:.85em;margin:2rem 0}
@media print{nav{display:none}main{max-width:none}a{color:inherit}section{break-inside:avoid-page}}
`;

/** One page as a standalone HTML document. */
export function renderHtml(page: Page, frame: HtmlFrame): string {
  const nav = frame.nav
    .map((n) => `<a href="${esc(n.slug)}.html"${n.slug === page.slug ? ' class="here"' : ''}>${esc(n.title)}</a>`)
    .join('');
  const langs = frame.otherLanguages.map((l) => `<a href="${esc(l.href)}" hreflang="${esc(l.label)}">${esc(l.label)}</a>`).join(' ');
  const toc = page.sections.map((s) => `<li><a href="#${esc(s.id)}">${esc(s.title)}</a></li>`).join('');
  const sections = page.sections
    .map(
      (s) => `<section id="${esc(s.id)}" data-section="${esc(s.id)}"><h2>${esc(s.title)}</h2>${s.blocks.map(block).join('\n')}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="${esc(frame.lang)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(page.title)} · ${esc(frame.siteTitle)}</title><style>${CSS}</style></head>
<body><nav><strong>${esc(frame.siteTitle)}</strong>${nav}${langs ? `<div class="langs">${langs}</div>` : ''}</nav>
<main><h1>${esc(page.title)}</h1><p class="lead">${esc(page.lead)}</p><ul class="toc">${toc}</ul>
${sections}
<footer>${esc(frame.footer)}</footer></main></body></html>
`;
}

/** Every page in one document, for printing to PDF: each page starts on a new sheet; ids are kept. */
export function renderPrintHtml(pages: Page[], frame: { lang: string; siteTitle: string; footer: string }): string {
  const body = pages
    .map(
      (page) =>
        `<article style="break-before:page"><h1 id="${esc(page.slug)}">${esc(page.title)}</h1><p class="lead">${esc(page.lead)}</p>${page.sections
          .map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>${s.blocks.map(block).join('\n')}</section>`)
          .join('\n')}</article>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="${esc(frame.lang)}"><head><meta charset="utf-8"><title>${esc(frame.siteTitle)}</title><style>${CSS}body{display:block}</style></head>
<body><main>${body}<footer>${esc(frame.footer)}</footer></main></body></html>
`;
}
