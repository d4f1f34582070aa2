import { useEffect, useRef, useState } from 'preact/hooks';
import { useApi } from '../api';
import { Page } from '../components/page';

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
    (async () => {
      const { default: mermaid } = await import('mermaid');
      const dark =
        document.documentElement.dataset.theme === 'dark' ||
        (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches);
      mermaid.initialize({
        startOnLoad: false,
        theme: dark ? 'dark' : 'default',
        securityLevel: 'strict',
        flowchart: { htmlLabels: true },
      });
      const { svg } = await mermaid.render(`arch${Date.now()}`, text);
      if (live && ref.current) ref.current.innerHTML = svg;
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
