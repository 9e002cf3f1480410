/**
 * The SoCE search loop, for the CLI and the studio alike: for each point, soup the models into the
 * loaded model (SoupLoader), score the prepared tasks, record the trial (TrialStore) — baselines first,
 * then the plan (grid, a list, or the adaptive pattern search), then the coalitions Shapley values need.
 *
 * Nothing is evaluated twice: a point whose key is already in the store (a resumed search, or a point
 * two plans share) is taken from it. Cancelling stops between or inside points; every finished trial
 * is already stored.
 *
 * Scores: every task is scored on all its items at every point; each category's score (a percentage,
 * objective.ts) is then taken on the tune split (what the objective sums and the plan optimises) and on the held-out split (what
 * is reported beside it: weights chosen on some items look better on those items than they are).
 */
import { throwIfAborted } from '../errors';
import type { CausalLM } from '../model/types';
import { scoreTasks, type PreparedTask, type TaskResult } from '../eval/evaluate';
import { linesOf, splitTask, type ChoiceMetric, type TaskSplit } from '../eval/scores';
import { searchCategoryScore } from './objective';
import { patternSearch } from './adaptive';
import { baselinePoints, coalitionPoints, gridPoints, onModels, pointKey, type PointKind, type SearchPoint } from './points';

/** Puts the soup of a weight vector (aligned with the search's models) into the evaluator's model. */
export interface SoupLoader {
  /** How points are souped, for people: "in memory: 3 models (1.2 GB) + the soup". */
  readonly description: string;
  load(weights: number[], signal?: AbortSignal): Promise<void>;
}

export interface TrialRecord {
  key: string;
  /** Aligned with the search's models, summing to 1. */
  weights: number[];
  /** Why it was evaluated (a point can be a baseline and a grid point). */
  kinds: PointKind[];
  label?: string;
  /** Category → score on the tune split. */
  tune: Record<string, number>;
  /** Category → score on the held-out split. */
  heldOut: Record<string, number>;
  objective: number;
  heldOutObjective: number;
  soupSeconds: number;
  evalSeconds: number;
  /** Per multiple-choice category: one character per item in file order, '1' solved (pred under the metric is gold), '0' not. */
  solved: Record<string, string>;
}

export interface TrialStore {
  load(): Promise<TrialRecord[]>;
  append(record: TrialRecord): Promise<void>;
}

export type SearchPlan = { kind: 'grid'; step: number } | { kind: 'adaptive'; step: number } | { kind: 'list'; points: SearchPoint[] };

export interface SearchSpec {
  models: string[];
  /** Indices of the experts among models: the plan's ingredients. */
  experts: number[];
  plan: SearchPlan;
  metric: ChoiceMetric;
  /** Seed of the per-task 50/50 split. */
  splitSeed: number;
  /** Share of each task's items used to tune (default 0.5; 1 = no held-out split). */
  tuneShare?: number;
  /** Players of the Shapley game (indices into models; default: all models when at most 5, else the experts; [] for none). */
  shapleyPlayers?: number[];
}

export type SearchEvent =
  | { type: 'trial'; record: TrialRecord; reused: boolean; done: number; planned: number; etaSeconds: number | undefined }
  | { type: 'phase'; phase: 'baselines' | 'plan' | 'coalitions'; planned: number }
  | { type: 'scoring'; key: string; tokensDone: number; tokensTotal: number };

/** A point that could not be evaluated (an external evaluator's job failed every try); it is not a trial. */
export interface PointFailure {
  key: string;
  weights: number[];
  kinds: PointKind[];
  failed: { attempts: number; reason: string; logTail: string };
}

/**
 * Evaluates points somewhere else (an external evaluator, jobs on a cluster) instead of souping into
 * the loaded model: up to `concurrency` points of a phase at once.
 */
export interface PointEvaluator {
  readonly description: string;
  readonly concurrency: number;
  evaluate(point: SearchPoint, key: string, signal?: AbortSignal): Promise<TrialRecord | PointFailure>;
}

export interface RunSearchOptions {
  spec: SearchSpec;
  tasks: PreparedTask[];
  /** The in-process evaluator (not needed with `evaluator`). */
  model?: CausalLM;
  loader?: SoupLoader;
  evaluator?: PointEvaluator;
  onFailure?: (f: PointFailure) => void;
  store: TrialStore;
  signal?: AbortSignal;
  onEvent?: (e: SearchEvent) => void;
}

export interface SearchOutcome {
  trials: TrialRecord[];
  /** Points evaluated in this run (not taken from the store). */
  evaluated: number;
  /** Distinct points the plan asked for (adaptive: the points its path visited). */
  planPoints: number;
  /** The keys of those points: the best soup is chosen among them. */
  planKeys: Set<string>;
  splits: TaskSplit[];
  shapleyPlayers: number[];
  /** Points an external evaluator failed on (not in trials). */
  failed: PointFailure[];
}

export function defaultShapleyPlayers(spec: SearchSpec): number[] {
  if (spec.shapleyPlayers) return spec.shapleyPlayers;
  return spec.models.length <= 5 ? [...spec.models.keys()] : spec.experts.length <= 5 ? spec.experts : [];
}

export function splitsFor(tasks: PreparedTask[], spec: SearchSpec): TaskSplit[] {
  return tasks.map((t) => {
    const lines = t.kind === 'multiple_choice' ? t.items.map((i) => i.item.line) : t.documents.map((d) => d.line);
    return splitTask(t.name, lines, spec.splitSeed, spec.tuneShare ?? 0.5);
  });
}

export async function runSearch(opts: RunSearchOptions): Promise<SearchOutcome> {
  const { spec, tasks, model, loader, store, signal, onEvent } = opts;
  const splits = splitsFor(tasks, spec);
  const known = new Map<string, TrialRecord>((await store.load()).map((r) => [r.key, r]));
  const modelCount = spec.models.length;
  let evaluated = 0;
  let done = 0;
  let spent = 0; // seconds spent on points evaluated in this run
  const visited = new Set<string>();
  const failed: PointFailure[] = [];
  const inProcess = async (point: SearchPoint, key: string): Promise<TrialRecord> => {
    if (!model || !loader) throw new Error('runSearch: no model to evaluate in (give model and loader, or an evaluator)');
    const t0 = performance.now();
    await loader.load(point.weights, signal);
    const t1 = performance.now();
    const results = await scoreTasks(model, tasks, {
      signal,
      onProgress: (p) => onEvent?.({ type: 'scoring', key, tokensDone: p.tokensDone, tokensTotal: p.tokensTotal }),
    });
    return recordOf(key, point, results, splits, spec.metric, (t1 - t0) / 1000, (performance.now() - t1) / 1000);
  };

  // Every point the run will visit, known before the first one (the adaptive path adds its points as it
  // goes): the progress counts against the whole, and the ETA against what is left, from the start.
  const baselines = baselinePoints(spec.experts, modelCount);
  const planPoints = spec.plan.kind === 'grid' ? gridPoints(spec.experts, modelCount, spec.plan.step) : spec.plan.kind === 'list' ? spec.plan.points : [];
  const uniform = spec.plan.kind === 'adaptive' ? gridPoints(spec.experts, modelCount, spec.plan.step).find((p) => p.kind === 'uniform-experts') : undefined;
  const players = defaultShapleyPlayers(spec);
  const coalitions = players.length >= 2 ? coalitionPoints(players, modelCount) : [];
  const plannedPoints = [...baselines, ...planPoints, ...(uniform ? [uniform] : []), ...coalitions];
  const plannedKeys = new Set(plannedPoints.map((p) => pointKey(p.weights)));
  const planned = () => plannedKeys.size;
  // Every role the run plans for a point (the uniform soup of a two-model grid of step 0.5 is a baseline
  // and the grid's point): its record lists them all from its first line in trials.jsonl, so that results
  // read back from that file alone (the studio's import) find the plan's points as this run does.
  const plannedKinds = new Map<string, PointKind[]>();
  for (const p of plannedPoints) {
    const k = pointKey(p.weights);
    const kinds = plannedKinds.get(k) ?? [];
    if (!kinds.includes(p.kind)) kinds.push(p.kind);
    plannedKinds.set(k, kinds);
  }

  const visit = async (point: SearchPoint): Promise<TrialRecord> => {
    throwIfAborted(signal);
    const key = pointKey(point.weights);
    plannedKeys.add(key);
    const have = known.get(key);
    // A point visited again in this run (the adaptive search retracing, two plans sharing it) is not news:
    // its record keeps the kind it was first evaluated for (the plan's points are known from the plan).
    if (have && visited.has(key)) return have;
    visited.add(key);
    if (have) {
      if (!have.kinds.includes(point.kind)) have.kinds.push(point.kind);
      if (point.label && !have.label) have.label = point.label;
      done++;
      onEvent?.({ type: 'trial', record: have, reused: true, done, planned: planned(), etaSeconds: eta() });
      return have;
    }
    const t0 = performance.now();
    const record = opts.evaluator ? await opts.evaluator.evaluate(point, key, signal) : await inProcess(point, key);
    const t2 = performance.now();
    throwIfAborted(signal);
    if ('failed' in record) {
      failed.push(record);
      opts.onFailure?.(record);
      done++;
      // The adaptive search never moves to a point it could not score.
      return { ...record, label: point.label, tune: {}, heldOut: {}, objective: -Infinity, heldOutObjective: -Infinity, soupSeconds: 0, evalSeconds: 0, solved: {} };
    }
    for (const kind of plannedKinds.get(key) ?? []) if (!record.kinds.includes(kind)) record.kinds.push(kind);
    await store.append(record);
    known.set(key, record);
    evaluated++;
    done++;
    spent += (t2 - t0) / 1000;
    onEvent?.({ type: 'trial', record, reused: false, done, planned: planned(), etaSeconds: eta() });
    return record;
  };
  // Seconds left at this run's measured pace per evaluated point, over the planned points still to evaluate
  // (those in the stored results cost nothing).
  const eta = (): number | undefined => {
    if (evaluated === 0) return undefined;
    let left = 0;
    for (const k of plannedKeys) if (!visited.has(k) && !known.has(k)) left++;
    return (spent / evaluated) * left;
  };
  const visitAll = async (phase: 'baselines' | 'plan' | 'coalitions', points: SearchPoint[]) => {
    const fresh = dedupe(points).filter((p) => !visited.has(pointKey(p.weights)));
    onEvent?.({ type: 'phase', phase, planned: planned() });
    await eachAtOnce(fresh, opts.evaluator?.concurrency ?? 1, visit);
  };

  // Baselines first: they are what every later number is compared with.
  await visitAll('baselines', baselines);

  // The plan.
  const planKeys = new Set<string>();
  if (spec.plan.kind === 'grid' || spec.plan.kind === 'list') {
    planPoints.forEach((p) => planKeys.add(pointKey(p.weights)));
    await visitAll('plan', planPoints);
  } else {
    const steps = Math.round(1 / spec.plan.step);
    onEvent?.({ type: 'phase', phase: 'plan', planned: planned() });
    planKeys.add(pointKey(uniform!.weights));
    await visit(uniform!);
    await patternSearch(
      spec.experts.length,
      async (units) => {
        const weights = onModels(units.map((u) => u / steps), spec.experts, modelCount);
        planKeys.add(pointKey(weights));
        return (await visit({ weights, kind: 'adaptive' })).objective;
      },
      { steps },
    );
  }

  // Every uniform coalition of the players, so that their Shapley values are exact.
  if (coalitions.length > 0) await visitAll('coalitions', coalitions);

  return { trials: [...known.values()], evaluated, planPoints: planKeys.size, planKeys, splits, shapleyPlayers: players, failed };
}

/**
 * Runs `work` over the items, up to `limit` at once, starting them in order. After a failure no more
 * are started; those running are waited for (what they finish is kept), then the first error is thrown.
 */
async function eachAtOnce<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let error: { e: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !error) {
      const item = items[next++];
      try {
        await work(item);
      } catch (e) {
        error ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (error) throw error.e;
}

function dedupe(points: SearchPoint[]): SearchPoint[] {
  const seen = new Set<string>();
  return points.filter((p) => {
    const k = pointKey(p.weights);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A trial from one point's task results. */
export function recordOf(
  key: string,
  point: SearchPoint,
  results: TaskResult[],
  splits: TaskSplit[],
  metric: ChoiceMetric,
  soupSeconds: number,
  evalSeconds: number,
): TrialRecord {
  const tune: Record<string, number> = {};
  const heldOut: Record<string, number> = {};
  const solved: Record<string, string> = {};
  results.forEach((r, i) => {
    const split = splits[i] ?? splitTask(r.name, linesOf(r), 0);
    tune[r.name] = searchCategoryScore(r, split.tune, metric);
    heldOut[r.name] = searchCategoryScore(r, split.heldOut, metric);
    if (r.kind === 'multiple_choice') solved[r.name] = r.items.map((it) => ((metric === 'acc' ? it.pred : it.pred_norm) === it.gold ? '1' : '0')).join('');
  });
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  return {
    key,
    weights: point.weights,
    kinds: [point.kind],
    label: point.label,
    tune,
    heldOut,
    objective: sum(tune),
    heldOutObjective: sum(heldOut),
    soupSeconds,
    evalSeconds,
    solved,
  };
}
