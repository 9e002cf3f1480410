import { InputError } from '../errors';

export const MAX_SHAPLEY_PLAYERS = 20;

/**
 * Exact Shapley values of an n-player game given on coalitions as bitmasks (bit i = player i):
 * φᵢ = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)). `value(0)` is the empty coalition.
 * Returns the missing coalitions (non-empty masks where `value` is undefined) instead of values
 * when the game is incomplete: a Shapley value from part of the game would be a guess.
 */
export function shapleyExact(n: number, value: (mask: number) => number | undefined): { values: number[] | null; missing: number[] } {
  if (n > MAX_SHAPLEY_PLAYERS) throw new InputError(`Shapley values for ${n} players need 2^${n} coalitions; at most ${MAX_SHAPLEY_PLAYERS} players`);
  const size = 1 << n;
  const v = new Float64Array(size);
  const missing: number[] = [];
  for (let mask = 0; mask < size; mask++) {
    const x = value(mask);
    if (x === undefined || !Number.isFinite(x)) missing.push(mask);
    else v[mask] = x;
  }
  if (missing.length > 0) return { values: null, missing };
  // weight[s] = s!(n−s−1)!/n!, built by ratios to stay exact-ish for n up to 20.
  const weight = new Float64Array(Math.max(n, 1));
  for (let s = 0; s < n; s++) {
    let w = 1 / n;
    // s!(n−1−s)!/(n−1)! = 1 / C(n−1, s)
    let binom = 1;
    for (let t = 1; t <= s; t++) binom = (binom * (n - t)) / t;
    w /= binom;
    weight[s] = w;
  }
  const values = new Array<number>(n).fill(0);
  for (let mask = 0; mask < size; mask++) {
    const s = popcount(mask);
    for (let i = 0; i < n; i++) {
      const bit = 1 << i;
      if (mask & bit) continue;
      values[i] += weight[s] * (v[mask | bit] - v[mask]);
    }
  }
  return { values, missing: [] };
}

export function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}
