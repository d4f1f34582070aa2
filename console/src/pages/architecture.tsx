import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useApi } from '../api';
import { Page } from '../components/page';

/** Where a drawing made in this tab is kept: the same diagram in the same theme is shown again without Mermaid's work. */
const CACHE_PREFIX = 'finmesh.architecture.';

function cacheKey(text: string, dark: boolean): string {
  // FNV-1a over the diagram's text: a changed project draws anew.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return `${CACHE_PREFIX}${dark ? 'dark' : 'light'}.${text.length}.${(h >>> 0).toString(36)}`;
}

function prefersDark(): boolean {
  const theme = document.documentElement.dataset.theme;
  return theme === 'dark' || (!theme && matchMedia('(prefers-color-scheme: dark)').matches);
}

/**
 * The project's architecture, generated from the project itself. The server draws it once per project state (as
 * `finmesh docs` does, in headless Chromium) and the page shows that SVG; only until it is drawn, or on a server
 * without Chromium, is Mermaid loaded into the page to draw it here.
 */
export function Architecture() {
  const theme = useMemo(() => (prefersDark() ? 'dark' : 'light'), []);
  const state = useApi<{ mermaid: string; svg: string | null }>(`/architecture?theme=${theme}`);
  return (
    <Page title="Architecture" state={state}>
      {(d) => <Diagram text={d.mermaid} svg={d.svg} dark={theme === 'dark'} />}
    </Page>
  );
}

function Diagram({ text, svg, dark }: { text: string; svg: string | null; dark: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | undefined>();
  const [drawn, setDrawn] = useState<'server' | 'browser' | undefined>();
  useEffect(() => {
    let live = true;
    if (svg !== null) {
      if (ref.current) ref.current.innerHTML = svg;
      setDrawn('server');
      return;
    }
    const key = cacheKey(text, dark);
    const cached = readCache(key);
    if (cached !== null && ref.current) {
      ref.current.innerHTML = cached;
      setDrawn('browser');
      return;
    }
    (async () => {
      // Mermaid (the console's heaviest part) is fetched only when the server had no drawing to give.
      const { default: mermaid } = await import('mermaid');
      mermaid.initialize({
        startOnLoad: false,
        theme: dark ? 'dark' : 'default',
        securityLevel: 'strict',
        flowchart: { htmlLabels: true },
      });
      const { svg: drawing } = await mermaid.render(`arch${Date.now()}`, text);
      if (live && ref.current) {
        ref.current.innerHTML = drawing;
        setDrawn('browser');
      }
      writeCache(key, drawing);
    })().catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [text, svg, dark]);
  return (
    <>
      <p class="lede">
        Per domain: its sources, their bronze datasets and its products; what each model reads; the platform every job reports to.
      </p>
      {error && (
        <p class="note bad" role="alert">
          {error}
        </p>
      )}
      <div ref={ref} class="diagram" role="img" aria-label="architecture diagram of the project" data-testid="diagram" data-drawn={drawn} />
      <details>
        <summary>Mermaid source</summary>
        <pre class="log">{text}</pre>
      </details>
    </>
  );
}

function readCache(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeCache(key: string, svg: string): void {
  try {
    // Only the newest drawing is kept: an older one (another theme, an earlier version of the project) goes.
    for (const k of Object.keys(sessionStorage)) if (k.startsWith(CACHE_PREFIX) && k !== key) sessionStorage.removeItem(k);
    sessionStorage.setItem(key, svg);
  } catch {
    // Storage full or refused: the next visit draws again.
  }
}
