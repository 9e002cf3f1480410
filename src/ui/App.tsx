import { lazy, Suspense, type ComponentType, type LazyExoticComponent } from 'react';
import { BackendLine } from './BackendLine';
import { ThemeToggle } from './components/ThemeToggle';
import { ViewErrorBoundary } from './components/ViewErrorBoundary';
import { ViewTabs } from './components/ViewTabs';
import { useNavigationStore, VIEW_LABELS, type ViewName } from './state/navigationStore';

// Each view is its own chunk, loaded when first shown: the first screen loads only what it shows
// (the engine, the charts and the workers' clients come with the views that use them).
const PANELS: Record<ViewName, LazyExoticComponent<ComponentType>> = {
  scores: lazy(() => import('./views/ScoresView').then((m) => ({ default: m.ScoresView }))),
  ingredients: lazy(() => import('./views/IngredientsView').then((m) => ({ default: m.IngredientsView }))),
  taste: lazy(() => import('./views/TasteView').then((m) => ({ default: m.TasteView }))),
  search: lazy(() => import('./views/SearchView').then((m) => ({ default: m.SearchView }))),
  merge: lazy(() => import('./views/MergeView').then((m) => ({ default: m.MergeView }))),
  trials: lazy(() => import('./views/TrialsView').then((m) => ({ default: m.TrialsView }))),
};

export function App() {
  const view = useNavigationStore((s) => s.view);
  const Panel = PANELS[view];
  return (
    <div className="app">
      <header className="app-header">
        <div className="brand">
          <h1>SoupLab</h1>
          <p className="tagline">Soup fine-tunes of one base model into one better model, on your own GPU. Nothing leaves this page.</p>
        </div>
        <ThemeToggle />
      </header>
      <BackendLine />
      <nav>
        <ViewTabs />
      </nav>
      <main>
        <section role="tabpanel" id={`panel-${view}`} aria-labelledby={`tab-${view}`} className="panel">
          <h2 className="visually-hidden">{VIEW_LABELS[view]}</h2>
          <ViewErrorBoundary key={view} view={VIEW_LABELS[view]}>
            <Suspense fallback={<p className="muted">Loading {VIEW_LABELS[view]}…</p>}>
              <Panel />
            </Suspense>
          </ViewErrorBoundary>
        </section>
      </main>
    </div>
  );
}
