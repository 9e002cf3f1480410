import { useMethodStore } from '../state/methodStore';
import { readyNames, useSoupStore } from '../state/soupStore';
import { useTrialsStore } from '../state/trialsStore';
import { matchExperts } from './names';
import { weightOf } from './soup';
import { roundWeight, sumOf } from './weights';

/** Normalise switch, the sum of weights, Uniform, and the best trial's weights when trials exist. */
export function WeightsBar() {
  const ingredients = useSoupStore((s) => s.ingredients);
  const weights = useSoupStore((s) => s.weights);
  const normalise = useSoupStore((s) => s.normalise);
  const setNormalise = useSoupStore((s) => s.setNormalise);
  const uniform = useSoupStore((s) => s.uniform);
  const setWeights = useSoupStore((s) => s.setWeights);
  const bestTrial = useTrialsStore((s) => s.bestTrial);
  // The Normalise switch and the sum's meaning belong to the linear soup; other methods read normalize from their parameters.
  const linear = useMethodStore((s) => s.method) === 'linear';
  const names = readyNames(ingredients);
  const sum = sumOf(names.map((n) => weightOf(weights, n)));

  const useBest = () => {
    if (!bestTrial) return;
    const models = Object.keys(bestTrial.weights);
    const matches = matchExperts(models, names);
    const next: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    matches.forEach((m, i) => {
      if (m !== undefined) next[m] = roundWeight(bestTrial.weights[models[i]]);
    });
    setWeights(next);
  };
  const bestMatched = bestTrial ? matchExperts(Object.keys(bestTrial.weights), names).filter((m) => m !== undefined).length : 0;

  return (
    <div className="weights-bar" role="group" aria-label="Weights">
      {linear && (
        <label className="switch">
          <input type="checkbox" checked={normalise} onChange={(e) => setNormalise(e.currentTarget.checked)} /> Normalise weights
        </label>
      )}
      {linear && (
        <span className={`num${normalise || Math.abs(sum - 1) < 1e-9 ? '' : ' warning'}`} aria-live="polite">
          Sum of weights: {roundWeight(sum)}
          {normalise ? ' (divided by the sum)' : Math.abs(sum - 1) < 1e-9 ? '' : ' (not 1: the soup is scaled)'}
        </span>
      )}
      <button type="button" onClick={uniform} disabled={names.length === 0}>Uniform</button>
      {bestTrial && (
        <button type="button" onClick={useBest} disabled={bestMatched === 0} title={`objective ${bestTrial.objective}`}>
          Use best trial ({bestMatched} matched)
        </button>
      )}
    </div>
  );
}
