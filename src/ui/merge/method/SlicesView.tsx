import type { RecipeSlice } from '../../../merge/recipeTypes';
import type { ParameterMap } from '../../../merge/params';
import { conditionsText, paramInputOf } from './paramInput';

function paramsText(m: ParameterMap): string {
  return Object.entries(m)
    .map(([k, v]) => {
      const shown = paramInputOf(v);
      return `${k} ${typeof shown === 'string' ? shown : conditionsText(shown.conditions)}`;
    })
    .join(', ');
}

/**
 * The layer slices of an imported `slices:` recipe (a frankenmerge), shown as they will be written: the
 * studio keeps them whole rather than editing them. "Use the models list" goes back to the cards.
 */
export function SlicesView({ slices, onDrop }: { slices: RecipeSlice[]; onDrop: () => void }) {
  return (
    <div className="slices" role="group" aria-label="Layer slices">
      <p className="small">
        Layer slices from the recipe (the output's layers, in order); the cards' weights are not used while they are set.{' '}
        <button type="button" onClick={onDrop}>
          Use the models list
        </button>
      </p>
      <ol className="small">
        {slices.map((sl, i) => (
          <li key={i}>
            {sl.sources.map((src) => `${src.model.path} layers [${src.layerRange[0]}, ${src.layerRange[1]})${Object.keys(src.parameters).length > 0 ? ` (${paramsText(src.parameters)})` : ''}`).join(' + ')}
            {Object.keys(sl.parameters).length > 0 ? ` — ${paramsText(sl.parameters)}` : ''}
          </li>
        ))}
      </ol>
    </div>
  );
}
