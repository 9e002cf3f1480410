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
