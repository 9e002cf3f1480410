/**
 * Which partners put a category into L. `signed` (the default): ρ < τ, a weakly or negatively correlated
 * partner — the paper describes its experts as coming from weakly *or anti-*correlated categories, and two
 * categories that run against each other are the clearest case for two experts. `absolute`: |ρ| < τ, the
 * formula as printed in Algorithm 1, which leaves strongly anti-correlated pairs out.
 */
export type LowCorrelationRule = 'signed' | 'absolute';

export const LOW_CORRELATION_RULES: readonly LowCorrelationRule[] = ['signed', 'absolute'];

/** Whether ρ between two categories qualifies them for L under `rule` (undefined ρ never does). */
export function qualifiesForL(rho: number | null, tau: number, rule: LowCorrelationRule): boolean {
  if (rho === null) return false;
  return rule === 'signed' ? rho < tau : Math.abs(rho) < tau;
}

/** The rule as people read it: "ρ < τ" or "|ρ| < τ". */
export function ruleFormula(rule: LowCorrelationRule): string {
  return rule === 'signed' ? 'ρ < τ' : '|ρ| < τ';
}

/** The set L: categories that qualify (see `qualifiesForL`) against at least one other category. */
export function lowCorrelationSet(categories: string[], r: (number | null)[][], tau: number, rule: LowCorrelationRule = 'signed'): string[] {
  return categories.filter((_, i) => r[i].some((v, j) => j !== i && qualifiesForL(v, tau, rule)));
}

/** The best candidate for one category (paper mode) or one cluster (clusters mode). */
export interface ExpertPick {
  /** The category name, or the cluster label in clusters mode. */
  key: string;
  /** The categories it stands for (one in paper mode). */
  categories: string[];
  /** The expert; null when no candidate has a score there. */
  model: string | null;
  /** Its score: the category score, or its mean over the cluster's categories. */
  score: number | null;
  /** The best other candidate (null when there is none), to show the margin. */
  runnerUp: { model: string; score: number } | null;
  /** Other candidates with exactly the expert's score; the expert is the first of them in table order. */
  tiedWith: string[];
}

/**
 * Picks the best of `candidates` (model indices, any order) by `scoreOf`; candidates are considered in
 * table order so that a tie goes to the first in the table. Missing scores (null) never win.
 */
export function pickExpert(
  key: string,
  categories: string[],
  models: string[],
  candidates: number[],
  scoreOf: (model: number) => number | null,
): ExpertPick {
  const order = isSorted(candidates) ? candidates : [...candidates].sort((a, b) => a - b);
  // One pass, no allocation per candidate: tables can have thousands of candidates.
  let best = -1;
  let bestScore = -Infinity;
  let runner = -1;
  let runnerScore = -Infinity;
  for (const m of order) {
    const s = scoreOf(m);
    if (s === null) continue;
    if (best < 0 || s > bestScore) {
      if (best >= 0) {
        runner = best;
        runnerScore = bestScore;
      }
      best = m;
      bestScore = s;
    } else if (runner < 0 || s > runnerScore) {
      runner = m;
      runnerScore = s;
    }
  }
  if (best < 0) return { key, categories, model: null, score: null, runnerUp: null, tiedWith: [] };
  const tiedWith: string[] = [];
  for (const m of order) if (m !== best && scoreOf(m) === bestScore) tiedWith.push(models[m]);
  return {
    key,
    categories,
    model: models[best],
    score: bestScore,
    runnerUp: runner >= 0 ? { model: models[runner], score: runnerScore } : null,
    tiedWith,
  };
}

function isSorted(a: number[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i - 1] > a[i]) return false;
  return true;
}

/** The distinct experts, in order of first appearance among the picks. */
export function expertSetOf(picks: ExpertPick[]): string[] {
  const out: string[] = [];
  for (const p of picks) if (p.model !== null && !out.includes(p.model)) out.push(p.model);
  return out;
}
