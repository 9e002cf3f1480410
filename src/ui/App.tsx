import type { ComponentType } from 'react';
import { BackendLine } from './BackendLine';
import { ThemeToggle } from './components/ThemeToggle';
import { ViewErrorBoundary } from './components/ViewErrorBoundary';
import { ViewTabs } from './components/ViewTabs';
import { useNavigationStore, VIEW_LABELS, type ViewName } from './state/navigationStore';
import { IngredientsView } from './views/IngredientsView';
import { MergeView } from './views/MergeView';
import { ScoresView } from './views/ScoresView';
import { SearchView } from './views/SearchView';
import { TasteView } from './views/TasteView';
import { TrialsView } from './views/TrialsView';

const PANELS: Record<ViewName, ComponentType> = {
  scores: ScoresView,
  ingredients: IngredientsView,
  taste: TasteView,
  search: SearchView,
  merge: MergeView,
  trials: TrialsView,
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
            <Panel />
          </ViewErrorBoundary>
        </section>
      </main>
    </div>
  );
}
