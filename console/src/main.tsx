import './styles.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBoundary, LocationProvider, lazy, Route, Router, useLocation } from 'preact-iso';
import { Overview } from './pages/overview';

// The overview comes with the first load; every other page is its own chunk, loaded when first opened.
const Product = lazy(() => import('./pages/product').then((m) => m.Product));
const Lineage = lazy(() => import('./pages/lineage').then((m) => m.Lineage));
const Runs = lazy(() => import('./pages/runs').then((m) => m.Runs));
const Run = lazy(() => import('./pages/runs').then((m) => m.Run));
const PartnerFiles = lazy(() => import('./pages/partner-files').then((m) => m.PartnerFiles));
const Slos = lazy(() => import('./pages/slos').then((m) => m.Slos));
const Architecture = lazy(() => import('./pages/architecture').then((m) => m.Architecture));
const Access = lazy(() => import('./pages/access').then((m) => m.Access));
const Audit = lazy(() => import('./pages/access').then((m) => m.Audit));
const Cost = lazy(() => import('./pages/cost').then((m) => m.Cost));

const NAV = [
  ['/', 'Overview'],
  ['/lineage', 'Lineage'],
  ['/runs', 'Runs'],
  ['/partner-files', 'Partner files'],
  ['/slos', 'SLOs & alerts'],
  ['/architecture', 'Architecture'],
  ['/cost', 'Cost'],
  ['/access', 'Access'],
  ['/audit', 'Audit trail'],
] as const;

function Shell() {
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const [theme, setTheme] = useState(() => localStorage.getItem('finmesh.theme') ?? '');
  useEffect(() => {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }, [theme]);
  // A new page moves focus to its content, as a full page load would (screen readers announce it).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [path]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <nav class="nav" aria-label="Console">
        <a class="brand" href="/">
          finmesh
        </a>
        <ul>
          {NAV.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={(href === '/' ? path === '/' : path.startsWith(href)) ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
        <button
          type="button"
          class="theme"
          onClick={() => {
            const dark =
              document.documentElement.dataset.theme === 'dark' || (!theme && matchMedia('(prefers-color-scheme: dark)').matches);
            const next = dark ? 'light' : 'dark';
            localStorage.setItem('finmesh.theme', next);
            setTheme(next);
          }}
        >
          Light / dark
        </button>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        <ErrorBoundary>
          <Router>
            <Route path="/" component={Overview} />
            <Route path="/products/:id" component={Product} />
            <Route path="/lineage" component={Lineage} />
            <Route path="/runs" component={Runs} />
            <Route path="/runs/:runId" component={Run} />
            <Route path="/partner-files" component={PartnerFiles} />
            <Route path="/slos" component={Slos} />
            <Route path="/architecture" component={Architecture} />
            <Route path="/cost" component={Cost} />
            <Route path="/access" component={Access} />
            <Route path="/audit" component={Audit} />
            <Route default component={NotFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        No page here. <a href="/">Back to the overview</a>.
      </p>
    </>
  );
}

render(
  <LocationProvider>
    <Shell />
  </LocationProvider>,
  document.getElementById('app') as HTMLElement,
);
