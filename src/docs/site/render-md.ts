import { type Block, type Cell, type Inline, isFig, type Page } from './blocks.js';
import { hrefFor } from './render-html.js';

export interface MdFrame {
  nav: { slug: string; title: string }[];
  otherLanguages: { label: string; href: string }[];
  footer: string;
}

const escCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Text that GitHub would otherwise read as HTML (`<domain>` is a placeholder, not a tag). */
const escText = (s: string) => s.replace(/</g, '&lt;').replace(/>/g, '&gt;');

function inline(i: Inline): string {
  if (typeof i === 'string') return escText(i);
  if (isFig(i)) return escText(i.text);
  if ('link' in i) return `[${i.text}](${hrefFor(i.link, '.md')})`;
  return `\`${i.code.replace(/`/g, "'")}\``;
}

const inlines = (xs: Inline[]) => xs.map(inline).join('');
const cell = (c: Cell) => (Array.isArray(c) ? inlines(c) : inline(c));

function block(b: Block): string {
  switch (b.kind) {
    case 'p':
      return inlines(b.content);
    case 'missing':
      return `> **${inlines(b.content)}**`;
    case 'h':
      return `<a id="${b.id}"></a>\n\n### ${escText(b.text)}`;
    case 'list':
      return b.items.map((it, n) => `${b.ordered ? `${n + 1}.` : '-'} ${inlines(it)}`).join('\n');
    case 'table': {
      const sep = b.head.map((_h, i) => (b.align?.[i] === 'right' ? '---:' : '---'));
      return [
        `| ${b.head.map(escCell).join(' | ')} |`,
        `| ${sep.join(' | ')} |`,
        ...b.rows.map((r) => `| ${r.map((c) => escCell(cell(c))).join(' | ')} |`),
      ].join('\n');
    }
    case 'diagram':
      return b.rendered
        ? `![${b.caption}](${b.svg})\n\n*${b.caption}* · [Mermaid](${b.source})`
        : `\`\`\`mermaid\n${b.mermaid.trimEnd()}\n\`\`\`\n\n*${b.caption}* · [Mermaid](${b.source})`;
    case 'code':
      return `\`\`\`${b.lang}\n${b.text}\n\`\`\``;
  }
}

/** One page as Markdown (GitHub flavour: tables, fenced code). */
export function renderMarkdown(page: Page, frame: MdFrame): string {
  const nav = frame.nav.map((n) => (n.slug === page.slug ? `**${n.title}**` : `[${n.title}](${n.slug}.md)`)).join(' · ');
  const langs = frame.otherLanguages.map((l) => `[${l.label}](${l.href})`).join(' · ');
  const out = [`${nav}${langs ? ` — ${langs}` : ''}`, `# ${page.title}`, `*${page.lead}*`];
  for (const s of page.sections) {
    out.push(`<a id="${s.id}"></a>\n\n## ${s.title}`);
    for (const b of s.blocks) out.push(block(b));
  }
  out.push(`---\n\n${frame.footer}`);
  return `${out.join('\n\n')}\n`;
}
