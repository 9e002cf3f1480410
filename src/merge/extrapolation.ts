/**
 * Negative weights: legal (task arithmetic subtracts on purpose), but in a linear soup they make an
 * extrapolation, not an average: −1 / 0.3 / 0.2 normalised gives 200 % / −60 % / −40 %. The studio asks
 * the person to confirm such a soup; the CLI says so on stderr. Weights that add up to 0 are refused
 * elsewhere (nothing to normalise by).
 */
export interface WeightedModel {
  name: string;
  weight: number;
}

const percent = (x: number) => `${(x * 100).toFixed(Math.abs(x) < 0.1 ? 1 : 0).replace('-', '−')} %`;
const num = (x: number) => String(x).replace('-', '−');

/** A sentence about the negative weights, or undefined when there are none (or they add up to 0). */
export function negativeWeightsWarning(models: WeightedModel[], normalise: boolean): string | undefined {
  const negative = models.filter((m) => m.weight < 0);
  if (negative.length === 0) return undefined;
  const sum = models.reduce((a, m) => a + m.weight, 0);
  const which = negative.map((m) => `${m.name} (${num(m.weight)})`).join(', ');
  const head = `Negative weight${negative.length > 1 ? 's' : ''}: ${which}.`;
  if (normalise) {
    if (sum === 0) return undefined;
    const shares = models.map((m) => `${m.name} ${percent(m.weight / sum)}`).join(', ');
    const flipped = sum < 0 ? ' The weights add up to less than 0, so normalising flips every sign.' : '';
    return `${head} Normalised, the shares become ${shares}: an extrapolation beyond the models, not an average of them.${flipped}`;
  }
  return `${head} The soup subtracts ${negative.length > 1 ? 'those models' : 'that model'}: an extrapolation beyond the models, not an average of them.`;
}
