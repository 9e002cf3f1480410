/**
 * The adaptive plan: a pattern search on the grid's lattice (weights in step multiples, each ≥ one
 * step, summing to 1 — the same points as the paper's grid), so its answer is always a grid point
 * and can be compared with the full grid's.
 *
 * From the lattice point nearest the uniform soup it looks at every move of `d` steps of weight from
 * one expert to another and takes the best one while it improves the objective (steepest ascent); when
 * no move of d steps helps, d shrinks (coarse moves first: 3, 2, 1 steps for the 0.1 grid) until moves
 * of one step do not help either. Every objective comes from `evaluate`, which a search answers from its
 * results when the point was evaluated before: a resumed adaptive search retraces its path for free.
 */
export interface AdaptiveOptions {
  /** Steps per whole (10 for the paper's 0.1 grid). */
  steps: number;
  /** Largest move in steps (default: max(1, round(steps / (2·experts))) ). */
  firstMove?: number;
  /** A move must gain more than this to be taken (default 1e-9: ties keep the current point). */
  minGain?: number;
}

/** Runs the search over `n` experts; resolves with the best lattice point's units and objective. */
export async function patternSearch(
  n: number,
  evaluate: (units: number[]) => Promise<number>,
  options: AdaptiveOptions,
): Promise<{ units: number[]; objective: number }> {
  const { steps } = options;
  const minGain = options.minGain ?? 1e-9;
  if (n < 2 || steps < n) {
    const units = n === 1 ? [steps] : [];
    return { units, objective: n === 1 ? await evaluate(units) : -Infinity };
  }
  let current = balanced(n, steps);
  let best = await evaluate(current);
  let move = Math.max(1, options.firstMove ?? Math.round(steps / (2 * n)));
  while (move >= 1) {
    let improved = false;
    let bestNeighbour: number[] | null = null;
    let bestValue = -Infinity;
    for (let from = 0; from < n; from++) {
      for (let to = 0; to < n; to++) {
        if (from === to || current[from] - move < 1) continue;
        const next = [...current];
        next[from] -= move;
        next[to] += move;
        const v = await evaluate(next);
        if (v > bestValue) {
          bestValue = v;
          bestNeighbour = next;
        }
      }
    }
    if (bestNeighbour && bestValue > best + minGain) {
      current = bestNeighbour;
      best = bestValue;
      improved = true;
    }
    if (!improved) move--;
  }
  return { units: current, objective: best };
}

/** The lattice point nearest the uniform soup: steps spread as evenly as possible, the remainder on the last experts. */
export function balanced(n: number, steps: number): number[] {
  const base = Math.floor(steps / n);
  const extra = steps - base * n;
  return Array.from({ length: n }, (_, i) => base + (i >= n - extra ? 1 : 0));
}
