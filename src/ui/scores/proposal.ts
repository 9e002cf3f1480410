import type { AnalysisResult } from '../../analysis';

/** The best evaluated trial, as the trials store publishes it (CONTRACTS.md). */
export interface BestTrial {
  weights: Record<string, number>;
  objective: number;
}

export interface ProposedWeights {
  weights: number[];
  /** 'best trial' only when the best trial weighs exactly the expert set (no more, no fewer models). */
  source: 'uniform' | 'best trial';
}

/**
 * Weights for "Use these experts": the best trial's, normalised, when that trial is a soup of exactly
 * these experts; otherwise uniform. A trial over other models says nothing about this set's weights.
 */
export function proposedWeights(experts: string[], best: BestTrial | null): ProposedWeights {
  const uniform = { weights: experts.map(() => 1 / experts.length), source: 'uniform' as const };
  if (best === null || experts.length === 0) return uniform;
  const used = Object.entries(best.weights).filter(([, w]) => w > 0);
  if (used.length !== experts.length || !experts.every((e) => (best.weights[e] ?? 0) > 0)) return uniform;
  const total = experts.reduce((s, e) => s + best.weights[e], 0);
  return { weights: experts.map((e) => best.weights[e] / total), source: 'best trial' };
}

/** The paper soups 3 or 4 experts: a grid of step 0.1 weighs that many in 36 or 84 points. */
const SOUPABLE_EXPERTS = 4;

/**
 * When the grid cannot weigh the expert set — more experts than can each get two steps of weight (step
 * 0.1: more than 5; with 10 or more, the grid holds only the uniform soup) — the experts that lead the
 * most categories (ties: the expert set's order), at most 4.
 */
export function smallerExpertSet(analysis: AnalysisResult): string[] | null {
  const { expertSet, grid } = analysis;
  if (expertSet.length < 2 || 2 * expertSet.length <= grid.steps) return null;
  const led = new Map<string, number>();
  for (const p of analysis.experts) if (p.model !== null) led.set(p.model, (led.get(p.model) ?? 0) + p.categories.length);
  const k = Math.min(SOUPABLE_EXPERTS, Math.floor(grid.steps / 2), expertSet.length - 1);
  if (k < 2) return null;
  return [...expertSet].sort((a, b) => (led.get(b) ?? 0) - (led.get(a) ?? 0) || expertSet.indexOf(a) - expertSet.indexOf(b)).slice(0, k);
}
