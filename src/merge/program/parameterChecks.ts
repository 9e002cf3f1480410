/**
 * Whether a number suits a parameter as the registry declares it (kind and range), in words: the one
 * rule the plan (per tensor) and the studio's parameter editors (as a person types) both apply.
 */
import type { ParameterRange, ParameterSpec } from '../methods/types';

/** "[0, 1]", "(0, 1]", "[0, ∞)". */
export function rangeText(r: ParameterRange): string {
  return `${r.min === undefined ? '(−∞' : `${r.minExclusive ? '(' : '['}${r.min}`}, ${r.max === undefined ? '∞)' : `${r.max}${r.maxExclusive ? ')' : ']'}`}`;
}

/** What is wrong with `v` for `spec` ("must be a whole number", "must be in [0, 1]"), or undefined. */
export function numberProblem(spec: ParameterSpec, v: number): string | undefined {
  if (!Number.isFinite(v)) return 'must be a finite number';
  if (spec.kind === 'integer' && !Number.isInteger(v)) return 'must be a whole number';
  const r = spec.range;
  if (r) {
    const low = r.min !== undefined && (r.minExclusive ? v <= r.min : v < r.min);
    const high = r.max !== undefined && (r.maxExclusive ? v >= r.max : v > r.max);
    if (low || high) return `must be in ${rangeText(r)}`;
  }
  return undefined;
}
