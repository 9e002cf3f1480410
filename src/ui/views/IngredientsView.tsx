import { useEffect } from 'react';
import { DropZone } from '../ingredients/DropZone';
import { ExpertsPanel } from '../ingredients/ExpertsPanel';
import { IngredientCard } from '../ingredients/IngredientCard';
import { Notices } from '../ingredients/Notices';
import { PreflightPanel } from '../ingredients/PreflightPanel';
import { RecipeBar } from '../ingredients/RecipeBar';
import { useSoupStatus } from '../ingredients/useSoupStatus';
import { VocabularyChoice } from '../ingredients/VocabularyChoice';
import { WeightsBar } from '../ingredients/WeightsBar';
import { sharesOf } from '../ingredients/weights';
import { MethodPanel } from '../merge/method/MethodPanel';
import { useNavigationStore } from '../state/navigationStore';
import { useSoupStore } from '../state/soupStore';
import './ingredients.css';

/** The Ingredients view: built on the engine modules; no merge or analysis logic here. */
export function IngredientsView() {
  const init = useSoupStore((s) => s.init);
  const ingredients = useSoupStore((s) => s.ingredients);
  const pending = useSoupStore((s) => s.pendingReconnect);
  const reconnect = useSoupStore((s) => s.reconnect);
  const toPickAgain = useSoupStore((s) => s.toPickAgain);
  const dismissToPickAgain = useSoupStore((s) => s.dismissToPickAgain);
  const clear = useSoupStore((s) => s.clear);
  const demoNote = useSoupStore((s) => s.demoNote);
  const show = useNavigationStore((s) => s.show);
  const status = useSoupStatus();
  useEffect(() => {
    void init();
  }, [init]);

  const inSoup = status.spec.models;
  // Shares of the sum are what a linear soup does with the weights; other methods use them otherwise.
  const linear = (status.spec.method?.method ?? 'linear') === 'linear';
  const shares = linear && status.spec.normalise ? sharesOf(inSoup.map((m) => m.weight)) : undefined;
  const shareOf = (name: string) => {
    const k = inSoup.findIndex((m) => m.name === name);
    return k >= 0 && shares ? shares[k] : undefined;
  };
  const hasDemo = ingredients.some((g) => g.input.demo);
  const mismatchOf = (name: string) => status.report?.errors.find((e) => e.code === 'different-model' && e.ingredient === name)?.message;

  return (
    <div className="ingredients-view">
      <DropZone />
      <Notices />
      {pending.length > 0 && (
        <div className="card reconnect" role="region" aria-label="Reconnect files">
          <p>
            {pending.length} checkpoint{pending.length > 1 ? 's' : ''} from your last session ({pending.map((p) => p.name).join(', ')}) need
            {pending.length > 1 ? '' : 's'} permission to be read again.
          </p>
          <button type="button" className="primary" onClick={() => void reconnect()}>
            Reconnect files
          </button>
        </div>
      )}
      {toPickAgain.length > 0 && (
        <div className="card reconnect" role="region" aria-label="Checkpoints to pick again">
          <p className="warning">
            Pick again: {toPickAgain.join(', ')}. {toPickAgain.length > 1 ? 'They were' : 'It was'} added as plain files (the file input), which a browser does not keep across a
            reload. {toPickAgain.length > 1 ? 'Their' : 'Its'} weight and method settings are kept for when {toPickAgain.length > 1 ? 'they are' : 'it is'} added again with Add
            files… or a drop (a drop or Add folder… in Chromium is kept across reloads).
          </p>
          <button type="button" className="link" onClick={dismissToPickAgain}>
            Forget {toPickAgain.length > 1 ? 'them' : 'it'}
          </button>
        </div>
      )}
      <ExpertsPanel />
      {ingredients.length > 0 && (
        <>
          <div className="ingredients-toolbar">
            <h3>
              Ingredients <span className="muted">({ingredients.length})</span>
            </h3>
            <WeightsBar />
            <button type="button" onClick={clear}>Remove all</button>
          </div>
          {hasDemo && demoNote && <p className="demo-note small">{demoNote}</p>}
          <MethodPanel members={inSoup.length} />
          <div className="ingredient-grid">
            {ingredients.map((g) => (
              <IngredientCard key={g.id} ingredient={g} share={shareOf(g.name)} mismatch={mismatchOf(g.name)} />
            ))}
          </div>
          <PreflightPanel report={status.report} brokenCount={ingredients.filter((g) => g.status === 'error').length}>
            <VocabularyChoice vocabularies={status.vocabularies} />
          </PreflightPanel>
          <div className="ingredients-footer">
            <RecipeBar spec={status.spec} />
            <div className="card next">
              {status.blockers.length === 0 && status.extrapolation ? (
                <p className="warning" role="status">
                  {status.extrapolation} You will be asked to confirm before merging.
                </p>
              ) : status.blockers.length === 0 ? (
                <p className="ok">Ready to merge {inSoup.length} ingredient{inSoup.length > 1 ? 's' : ''}.</p>
              ) : (
                <ul className="blockers">
                  {status.blockers.map((b) => (
                    <li key={b}>{b}</li>
                  ))}
                </ul>
              )}
              <button type="button" className="primary" onClick={() => show('merge')}>
                Go to Merge & export →
              </button>
            </div>
          </div>
        </>
      )}
    </div>
  );
}
