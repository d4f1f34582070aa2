import { useEffect, useRef, useState } from 'preact/hooks';
import { useApi } from '../api';
import { Page } from '../components/page';

// Mermaid (the page's heaviest part) starts loading with the page's chunk, while its route is read, not after.
const mermaidModule = import('mermaid');

/** Where a drawing is kept for this tab: the same diagram in the same theme is shown again without Mermaid's work. */
const CACHE_PREFIX = 'finmesh.architecture.';

function cacheKey(text: string, dark: boolean): string {
  // FNV-1a over the diagram's text: a changed project draws anew.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return `${CACHE_PREFIX}${dark ? 'dark' : 'light'}.${text.length}.${(h >>> 0).toString(36)}`;
}

/** The project's architecture, generated from the project itself, drawn by Mermaid (loaded with this page only). */
export function Architecture() {
  const state = useApi<{ mermaid: string }>('/architecture');
  return (
    <Page title="Architecture" state={state}>
      {(d) => <Diagram text={d.mermaid} />}
    </Page>
  );
}

function Diagram({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const dark =
      document.documentElement.dataset.theme === 'dark' ||
      (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches);
    const key = cacheKey(text, dark);
    const cached = readCache(key);
    if (cached !== null && ref.current) {
      ref.current.innerHTML = cached;
      return;
    }
    (async () => {
      const { default: mermaid } = await mermaidModule;
      mermaid.initialize({
        startOnLoad: false,
        theme: dark ? 'dark' : 'default',
        securityLevel: 'strict',
        flowchart: { htmlLabels: true },
      });
      const { svg } = await mermaid.render(`arch${Date.now()}`, text);
      if (live && ref.current) ref.current.innerHTML = svg;
      writeCache(key, svg);
    })().catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [text]);
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
      <div ref={ref} class="diagram" role="img" aria-label="architecture diagram of the project" data-testid="diagram" />
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
