/**
 * The documents as data: pages of sections of blocks, written once by the templates (`pages.ts`) in the reader's
 * language and rendered to HTML or Markdown by `render-html.ts` / `render-md.ts`. A figure taken from the project
 * or its history is a `Fig`: its text for the reader, and a key and raw value that the HTML carries
 * (`data-figure`, `data-value`), so a test can compare every figure with the CLI's `--json` output.
 */

/** A figure: the text shown, and the key/value a machine can read back. */
export interface Fig {
  fig: string;
  value: string | number | boolean | null;
  text: string;
}

/** Inline content: plain text, a figure, a link (to a page, a page#section or a file of the site), or code. */
export type Inline = string | Fig | { link: string; text: string } | { code: string };

/** A table cell: one inline, or several shown together. */
export type Cell = Inline | Inline[];

export type Block =
  | { kind: 'p'; content: Inline[] }
  | { kind: 'list'; ordered?: boolean; items: Inline[][] }
  | { kind: 'table'; head: string[]; rows: Cell[][]; align?: ('left' | 'right')[] }
  /**
   * A diagram: the SVG file (relative to the language folder) and its Mermaid source file; when no SVG could be
   * rendered, the Mermaid text is shown instead (GitHub draws it in Markdown).
   */
  | { kind: 'diagram'; svg: string; source: string; caption: string; rendered: boolean; mermaid: string }
  | { kind: 'code'; lang: string; text: string }
  /** A sub-heading inside a section. */
  | { kind: 'h'; text: string; id: string }
  /** A remark that the section's data is missing, and why. */
  | { kind: 'missing'; content: Inline[] };

export interface Section {
  /** Stable across languages: the anchor and the key the language check compares. */
  id: string;
  title: string;
  blocks: Block[];
}

export interface Page {
  /** File name without extension; the same in every language. */
  slug: string;
  title: string;
  /** One line under the title: what the page answers (the brief's ask). */
  lead: string;
  sections: Section[];
}

export const fig = (key: string, value: Fig['value'], text: string): Fig => ({ fig: key, value, text });
export const link = (to: string, text: string) => ({ link: to, text });
export const code = (text: string) => ({ code: text });
export const p = (...content: Inline[]): Block => ({ kind: 'p', content });
export const list = (items: Inline[][], ordered = false): Block => ({ kind: 'list', items, ordered });
export const table = (head: string[], rows: Cell[][], align?: ('left' | 'right')[]): Block => ({
  kind: 'table',
  head,
  rows,
  ...(align ? { align } : {}),
});
/** A remark that data is missing; `backticks` in its text become inline code. */
export const missing = (...content: Inline[]): Block => ({
  kind: 'missing',
  content: content.flatMap((i) =>
    typeof i === 'string'
      ? i
          .split(/(`[^`]+`)/)
          .filter(Boolean)
          .map((part): Inline => (part.startsWith('`') && part.endsWith('`') ? code(part.slice(1, -1)) : part))
      : [i],
  ),
});
export const h = (id: string, text: string): Block => ({ kind: 'h', id, text });

export function isFig(i: Inline): i is Fig {
  return typeof i === 'object' && 'fig' in i;
}
