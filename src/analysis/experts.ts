/** The paper's set L: categories with |ρ| < τ against at least one other category (undefined ρ never counts). */
export function lowCorrelationSet(categories: string[], r: (number | null)[][], tau: number): string[] {
  return categories.filter((_, i) => r[i].some((v, j) => j !== i && v !== null && Math.abs(v) < tau));
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
  const order = [...candidates].sort((a, b) => a - b);
  const scored = order.flatMap((m) => {
    const s = scoreOf(m);
    return s === null ? [] : [{ m, s }];
  });
  if (scored.length === 0) return { key, categories, model: null, score: null, runnerUp: null, tiedWith: [] };
  let best = scored[0];
  for (const e of scored) if (e.s > best.s) best = e;
  const tiedWith = scored.filter((e) => e.s === best.s && e.m !== best.m).map((e) => models[e.m]);
  let runner: { m: number; s: number } | null = null;
  for (const e of scored) if (e.m !== best.m && (runner === null || e.s > runner.s)) runner = e;
  return {
    key,
    categories,
    model: models[best.m],
    score: best.s,
    runnerUp: runner ? { model: models[runner.m], score: runner.s } : null,
    tiedWith,
  };
}

/** The distinct experts, in order of first appearance among the picks. */
export function expertSetOf(picks: ExpertPick[]): string[] {
  const out: string[] = [];
  for (const p of picks) if (p.model !== null && !out.includes(p.model)) out.push(p.model);
  return out;
}
