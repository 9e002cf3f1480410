/** Weight arithmetic for the Ingredients view (display only: the plan computes the real coefficients). */

export function sumOf(weights: number[]): number {
  return weights.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
}

/** Each weight's share of the sum, as the merge will use it when normalising; undefined when the sum is 0. */
export function sharesOf(weights: number[]): number[] | undefined {
  const s = sumOf(weights);
  if (s === 0) return undefined;
  return weights.map((w) => w / s);
}

/** 1/n each: the uniform soup. */
export function uniformWeights(names: string[]): Record<string, number> {
  const n = names.length;
  return Object.fromEntries(names.map((name) => [name, n > 0 ? roundWeight(1 / n) : 0]));
}

/** Weights shown and written with at most 4 decimals; 1/3 → 0.3333. */
export function roundWeight(w: number): number {
  return Math.round(w * 1e4) / 1e4;
}

/** A weight typed or slid by a person: a finite number, or undefined to ignore the keystroke. */
export function parseWeight(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}
