import { InputError } from '../errors';

/** One weight vector of the search, aligned with the expert set. */
export interface GridPoint {
  /** Weights summing to 1 (units / steps, computed once, so 0.1 + 0.2 never drifts to 0.30000000000000004). */
  weights: number[];
  /** The weights as integer multiples of the step; null for the uniform point when it is not on the lattice. */
  units: number[] | null;
  /** True for the uniform vector appended at the end. */
  uniform: boolean;
}

export interface WeightGrid {
  step: number;
  /** 1 / step: how many steps make the whole. */
  steps: number;
  points: GridPoint[];
}

export interface GridOptions {
  /** Weight step; must divide 1 (0.1, 0.05, 0.25…). Default 0.1, the paper's. */
  step?: number;
  /** Refuse to build more points than this (default 100,000). */
  maxPoints?: number;
}

/** Number of ways to write `total` as an ordered sum of `parts` positive integers: C(total − 1, parts − 1). */
export function compositionCount(total: number, parts: number): number {
  if (parts <= 0) return 0;
  if (parts > total) return 0;
  let c = 1;
  for (let i = 1; i <= parts - 1; i++) c = (c * (total - i)) / i;
  return Math.round(c);
}

/** Steps per whole for a step, or an error when the step does not divide 1. */
export function stepsFor(step: number): number {
  if (!(step > 0 && step < 1)) throw new InputError(`the weight step must be between 0 and 1, not ${step}`);
  const steps = Math.round(1 / step);
  if (Math.abs(steps * step - 1) > 1e-9) throw new InputError(`the weight step ${step} does not divide 1; use e.g. 0.1, 0.05, 0.2 or 0.25`);
  return steps;
}

/**
 * The paper's grid over `n` experts: every vector with entries in {step, 2·step, …, 1 − step} summing
 * to exactly 1 (enumerated as integer compositions), in lexicographic order of the units, plus the
 * uniform vector last — always appended, even when it is on the lattice (2 experts: 0.5/0.5), so the
 * sizes are the paper's: 2 → 10, 3 → 37, 4 → 85. One expert: [[1]]; none: no points.
 */
export function weightGrid(n: number, options: GridOptions = {}): WeightGrid {
  const step = options.step ?? 0.1;
  const steps = stepsFor(step);
  const maxPoints = options.maxPoints ?? 100_000;
  if (n === 0) return { step, steps, points: [] };
  if (n === 1) return { step, steps, points: [{ weights: [1], units: [steps], uniform: true }] };
  const count = compositionCount(steps, n);
  if (count + 1 > maxPoints)
    throw new InputError(`${n} experts with step ${step} make ${count + 1} grid points, more than ${maxPoints}; use a larger step or fewer experts`);
  const points: GridPoint[] = [];
  const units = new Array<number>(n).fill(0);
  const fill = (i: number, left: number): void => {
    if (i === n - 1) {
      units[i] = left;
      points.push({ weights: units.map((u) => u / steps), units: [...units], uniform: false });
      return;
    }
    // Leave at least one step for each expert after this one.
    for (let u = 1; u <= left - (n - 1 - i); u++) {
      units[i] = u;
      fill(i + 1, left - u);
    }
  };
  fill(0, steps);
  points.push(uniformPoint(n, steps));
  return { step, steps, points };
}

/** The uniform soup of n experts as a grid point (on the lattice when the step count divides evenly). */
export function uniformPoint(n: number, steps: number): GridPoint {
  return {
    weights: new Array<number>(n).fill(1 / n),
    units: steps % n === 0 ? new Array<number>(n).fill(steps / n) : null,
    uniform: true,
  };
}
