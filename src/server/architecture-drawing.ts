import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { findChromium, launchChromium, renderMermaid } from '../docs/site/chromium.js';

export const ARCHITECTURE_THEMES = ['light', 'dark'] as const;
export type ArchitectureTheme = (typeof ARCHITECTURE_THEMES)[number];

/**
 * The architecture diagram drawn on the server, once per project state: headless Chromium renders the Mermaid text as
 * `finmesh docs` renders its diagrams, in the console's light and dark themes, and the SVGs are kept in
 * `.finmesh/cache/architecture/` under a hash of the text, the theme and Mermaid's version (a later `serve` of the
 * same project shows them at once). Mermaid's layout in the browser took 1.5–2.5 s a visit; an inline SVG takes none.
 * Until drawn (the first visit after a change, or a machine without Chromium), `svg()` is undefined and the console
 * draws in the browser as before.
 */
export class ArchitectureDrawing {
  private readonly drawn = new Map<ArchitectureTheme, string>();
  private drawing: Promise<void> | undefined;

  constructor(
    private readonly mermaid: string,
    private readonly cacheDir: string,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /** The drawing in a theme, when there is one; otherwise starts drawing (once) and answers undefined. */
  svg(theme: ArchitectureTheme): string | undefined {
    const known = this.drawn.get(theme) ?? this.fromDisk(theme);
    if (known !== undefined) return known;
    this.start();
    return undefined;
  }

  /** Draws both themes in the background unless drawn already; a failure is logged and leaves the browser's drawing. */
  start(): void {
    if (this.drawing || ARCHITECTURE_THEMES.every((t) => this.drawn.has(t) || this.fromDisk(t) !== undefined)) return;
    this.drawing = this.draw().catch((e: unknown) =>
      this.log.warn({ err_message: e instanceof Error ? e.message : String(e) }, 'architecture diagram not drawn on the server'),
    );
  }

  /** Waits for a drawing under way (its browser closes with it). */
  async close(): Promise<void> {
    await this.drawing;
  }

  private async draw(): Promise<void> {
    const chromium = findChromium();
    if (!chromium) return;
    const browser = await launchChromium(chromium);
    try {
      const svgs = await renderMermaid(
        browser,
        ARCHITECTURE_THEMES.map((t) => ({ name: t, mermaid: this.mermaid, theme: t === 'dark' ? 'dark' : 'default' })),
      );
      mkdirSync(this.cacheDir, { recursive: true });
      for (const t of ARCHITECTURE_THEMES) {
        // Inline in the page: without the XML declaration the standalone file carries.
        const svg = (svgs.get(t) ?? '').replace(/^<\?xml[^>]*>\s*/, '').trim();
        this.drawn.set(t, svg);
        const file = this.file(t);
        writeFileSync(`${file}.tmp`, svg);
        renameSync(`${file}.tmp`, file);
      }
    } finally {
      await browser.close();
    }
  }

  private fromDisk(theme: ArchitectureTheme): string | undefined {
    try {
      const svg = readFileSync(this.file(theme), 'utf8');
      this.drawn.set(theme, svg);
      return svg;
    } catch {
      return undefined;
    }
  }

  private file(theme: ArchitectureTheme): string {
    const key = createHash('sha256').update(`${mermaidVersion()}\n${theme}\n${this.mermaid}`).digest('hex').slice(0, 24);
    return join(this.cacheDir, `${key}.${theme}.svg`);
  }
}

let version: string | undefined;
function mermaidVersion(): string {
  if (version === undefined) {
    try {
      version = String(createRequire(import.meta.url)('mermaid/package.json').version);
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
