/**
 * The evidence a search gives for its soup, as the paper gives it (../shared/notes/soce.md): the best
 * soup beside the baselines (each model alone, the uniform soup of all, of the experts) with the gain,
 * Shapley values of the models from the uniform coalitions, the category-correlation matrix of the
 * ingredients beside that of the soups, and the items the best soup solves that every one of its
 * ingredients fails (and the reverse). Plain data: the CLI writes it, the studio draws it.
 */
import { correlationMatrix, type CorrelationMatrix } from '../analysis/correlation';
import { shapleyExact } from '../analysis/shapley';
import type { PreparedTask } from '../eval/evaluate';
import { gridPoints, pointKey, uniformOf } from './points';
import type { SearchPlan, SearchSpec, TrialRecord } from './runSearch';

export interface ScoredPoint {
  key: string;
  weights: number[];
  objective: number;
  heldOutObjective: number;
}

export interface SearchEvidence {
  models: string[];
  experts: string[];
  categories: string[];
  best: ScoredPoint | null;
  baselines: {
    singles: (ScoredPoint & { model: string })[];
    bestSingle: (ScoredPoint & { model: string }) | null;
    uniformAll: ScoredPoint | null;
    uniformExperts: ScoredPoint | null;
  };
  /** best − best single, on the tune and the held-out split. */
  gain: { tune: number; heldOut: number } | null;
  shapley: { players: string[]; values: number[] | null; missing: string[][] };
  consistency: { ingredients: CorrelationMatrix; soups: CorrelationMatrix; meanIngredients: number | null; meanSoups: number | null };
  items: { solvedOnlyBySoup: ItemNote[]; lostBySoup: ItemNote[] };
}

export interface ItemNote {
  task: string;
  line: number;
  query: string;
  answer: string;
}

const scored = (r: TrialRecord): ScoredPoint => ({ key: r.key, weights: r.weights, objective: r.objective, heldOutObjective: r.heldOutObjective });

/**
 * `planKeys`: the points the plan evaluated, among which the best soup is chosen (the grid, a list, the
 * adaptive path). `tasks` gives the items' text.
 */
export function searchEvidence(
  trials: TrialRecord[],
  models: string[],
  experts: number[],
  planKeys: Set<string>,
  shapleyPlayers: number[],
  tasks: PreparedTask[],
): SearchEvidence {
  const byKey = new Map(trials.map((t) => [t.key, t]));
  const categories = tasks.map((t) => t.name);
  const n = models.length;
  const at = (weights: number[]) => byKey.get(pointKey(weights));

  const singles = models.flatMap((m, i) => {
    const r = at(uniformOf([i], n));
    return r ? [{ ...scored(r), model: m }] : [];
  });
  const bestSingle = singles.reduce<(ScoredPoint & { model: string }) | null>((b, s) => (b === null || s.objective > b.objective ? s : b), null);
  const uniformAllRecord = n > 1 ? at(uniformOf([...Array(n).keys()], n)) : undefined;
  const uniformExpertsRecord = experts.length > 1 ? at(uniformOf(experts, n)) : undefined;
  let best: TrialRecord | null = null;
  for (const t of trials) if (planKeys.has(t.key) && (best === null || t.objective > best.objective)) best = t;

  // Shapley: a coalition's value is the tune objective of its uniform soup; the empty soup scores 0.
  const { values, missing } = shapleyExact(shapleyPlayers.length, (mask) => {
    if (mask === 0) return 0;
    return at(uniformOf(shapleyPlayers.filter((_, i) => mask & (1 << i)), n))?.objective;
  });
  const memberNames = (mask: number) => shapleyPlayers.filter((_, i) => mask & (1 << i)).map((m) => models[m]);

  // Consistency: the category correlations across the models beside those across the soups.
  const isSingle = (t: TrialRecord) => t.weights.filter((w) => w > 0).length === 1;
  const matrixOf = (rows: TrialRecord[]) => correlationMatrix(categories, categories.map((c) => Float64Array.from(rows.map((r) => r.tune[c] ?? NaN))));
  const ingredients = matrixOf(trials.filter(isSingle));
  const soups = matrixOf(trials.filter((t) => !isSingle(t)));

  return {
    models,
    experts: experts.map((e) => models[e]),
    categories,
    best: best ? scored(best) : null,
    baselines: {
      singles,
      bestSingle,
      uniformAll: uniformAllRecord ? scored(uniformAllRecord) : null,
      uniformExperts: uniformExpertsRecord ? scored(uniformExpertsRecord) : null,
    },
    gain: best && bestSingle ? { tune: best.objective - bestSingle.objective, heldOut: best.heldOutObjective - bestSingle.heldOutObjective } : null,
    shapley: { players: shapleyPlayers.map((p) => models[p]), values, missing: missing.filter((m) => m !== 0).map(memberNames) },
    consistency: { ingredients, soups, meanIngredients: meanOffDiagonal(ingredients), meanSoups: meanOffDiagonal(soups) },
    items: best ? itemNotes(best, n, tasks, at) : { solvedOnlyBySoup: [], lostBySoup: [] },
  };
}

function itemNotes(best: TrialRecord, n: number, tasks: PreparedTask[], at: (w: number[]) => TrialRecord | undefined): SearchEvidence['items'] {
  const ingredients = best.weights.flatMap((w, i) => (w > 0 ? [at(uniformOf([i], n))] : []));
  const solvedOnlyBySoup: ItemNote[] = [];
  const lostBySoup: ItemNote[] = [];
  if (ingredients.some((r) => r === undefined)) return { solvedOnlyBySoup, lostBySoup };
  for (const task of tasks) {
    if (task.kind !== 'multiple_choice') continue;
    const soup = best.solved[task.name];
    const alone = ingredients.map((r) => r!.solved[task.name]);
    if (soup === undefined || alone.some((s) => s === undefined)) continue;
    task.items.forEach((it, i) => {
      const note = (): ItemNote => ({ task: task.name, line: it.item.line, query: it.item.query, answer: it.item.choices[it.item.gold] });
      if (soup[i] === '1' && alone.every((s) => s![i] === '0')) solvedOnlyBySoup.push(note());
      if (soup[i] === '0' && alone.every((s) => s![i] === '1')) lostBySoup.push(note());
    });
  }
  return { solvedOnlyBySoup, lostBySoup };
}

/** Mean of the defined off-diagonal correlations (how uniformly good the rows are across categories). */
export function meanOffDiagonal(m: CorrelationMatrix): number | null {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < m.r.length; i++)
    for (let j = i + 1; j < m.r.length; j++) {
      const v = m.r[i][j];
      if (v !== null) {
        sum += v;
        count++;
      }
    }
  return count > 0 ? sum / count : null;
}

/**
 * The trials the plan asked for, among which the best soup is chosen: the grid's and a list's points
 * from the plan itself (a point the plan shares with a baseline, such as the uniform soup of a
 * two-model grid of step 0.5, counts), the adaptive path's by the kinds its trials record.
 */
export function planKeysOf(trials: TrialRecord[], spec: Pick<SearchSpec, 'plan' | 'experts' | 'models'>): Set<string> {
  const { plan, experts } = spec;
  const n = spec.models.length;
  const wanted =
    plan.kind === 'list'
      ? new Set(plan.points.map((p) => pointKey(p.weights)))
      : plan.kind === 'grid'
        ? new Set(gridPoints(experts, n, plan.step).map((p) => pointKey(p.weights)))
        : new Set([pointKey(uniformOf(experts, n))]);
  return new Set(trials.filter((t) => wanted.has(t.key) || (plan.kind === 'adaptive' && t.kinds.includes('adaptive'))).map((t) => t.key));
}

/**
 * The plan's trials read from the kinds the trials record, for results whose plan is not known in full
 * (a results folder imported from a cluster): a point the plan shared with a baseline counts only if
 * its record says so.
 */
export function planKeysByKind(trials: TrialRecord[], plan: SearchPlan['kind']): Set<string> {
  const kinds = plan === 'list' ? ['list'] : plan === 'grid' ? ['grid', 'uniform-experts'] : ['adaptive', 'uniform-experts'];
  return new Set(trials.filter((t) => t.kinds.some((k) => kinds.includes(k))).map((t) => t.key));
}
