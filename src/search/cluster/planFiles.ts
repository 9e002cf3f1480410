/**
 * A search handed to a cluster and its results brought back, as files (for the studio, which cannot
 * submit jobs): the plan — every point a search of these settings evaluates, as index.csv (a list plan
 * `souplab search --plan` reads), one mergekit recipe per point and search.json — and, back, a results
 * folder's trials.jsonl read into what the report, the Shapley values and the chart need.
 */
import { csvField, linearRecipeYaml } from '../../analysis/recipes';
import { InputError } from '../../errors';
import type { PreparedTask } from '../../eval/evaluate';
import { planKeysByKind, searchEvidence, type SearchEvidence } from '../evidence';
import { baselinePoints, coalitionPoints, gridPoints, pointKey, type PointKind, type SearchPoint } from '../points';
import { defaultShapleyPlayers, type PointFailure, type SearchPlan, type SearchSpec, type TrialRecord } from '../runSearch';
import { pointId } from './externalEvaluator';

export interface PlanFile {
  name: string;
  text: string;
}

/** Every point of the spec (baselines, the plan — the grid for an adaptive plan, whose path needs scores — and the coalitions), each once. */
export function plannedPoints(spec: SearchSpec): (SearchPoint & { kinds: PointKind[] })[] {
  const n = spec.models.length;
  const plan = spec.plan.kind === 'list' ? spec.plan.points : gridPoints(spec.experts, n, spec.plan.step);
  const players = defaultShapleyPlayers(spec);
  const all = [...baselinePoints(spec.experts, n), ...plan, ...(players.length >= 2 ? coalitionPoints(players, n) : [])];
  const byKey = new Map<string, SearchPoint & { kinds: PointKind[] }>();
  for (const p of all) {
    const k = pointKey(p.weights);
    const have = byKey.get(k);
    if (have) {
      if (!have.kinds.includes(p.kind)) have.kinds.push(p.kind);
    } else byKey.set(k, { ...p, kinds: [p.kind] });
  }
  return [...byKey.values()];
}

/**
 * The plan as files: index.csv (recipe, kind, "weight: <model>" columns), recipes/<point>.yaml and
 * search.json. `paths` are where the models are on the cluster (the recipes' model paths). With a
 * tokenizer source (union or base) every recipe keeps every model, weight 0 included, and says it, as
 * `souplab search --tokenizer-source` writes its points' recipes: the soups' vocabulary is the search's.
 */
export function planFiles(spec: SearchSpec, paths: string[], note: string, tokenizerSource?: 'union' | 'base'): PlanFile[] {
  const points = plannedPoints(spec);
  const files: PlanFile[] = [];
  const header = ['recipe', 'kind', ...spec.models.map((m) => `weight: ${m}`)];
  const rows = points.map((p) => [pointId(p.weights), p.kinds.join('+'), ...p.weights.map((w) => String(Math.round(w * 1e9) / 1e9))]);
  files.push({ name: 'index.csv', text: [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n' });
  for (const p of points) {
    const used = spec.models.flatMap((m, i) => (p.weights[i] > 0 || tokenizerSource !== undefined ? [{ name: m, checkpoint: paths[i], w: p.weights[i] }] : []));
    files.push({ name: `recipes/${pointId(p.weights)}.yaml`, text: linearRecipeYaml(used, used.map((u) => u.w), { comment: `SoupLab search point (${p.kinds.join(', ')})`, tokenizerSource }) });
  }
  const plan = spec.plan.kind === 'list' ? { kind: 'list' } : { kind: spec.plan.kind === 'adaptive' ? 'grid (the adaptive plan needs scores as it goes: run souplab search --plan adaptive there instead)' : 'grid', step: spec.plan.step };
  const json = {
    souplab: 'cluster-plan',
    note,
    models: spec.models.map((name, i) => ({ name, path: paths[i] })),
    experts: spec.experts.map((e) => spec.models[e]),
    plan,
    metric: spec.metric,
    splitSeed: spec.splitSeed,
    tuneShare: spec.tuneShare ?? 0.5,
    ...(tokenizerSource === undefined ? {} : { tokenizerSource }),
    points: points.map((p) => ({ id: pointId(p.weights), kinds: p.kinds, weights: p.weights })),
  };
  files.push({ name: 'search.json', text: `${JSON.stringify(json, null, 2)}\n` });
  return files;
}

export interface ImportedResults {
  models: string[];
  experts: number[];
  trials: TrialRecord[];
  failed: PointFailure[];
  categories: string[];
  planKeys: Set<string>;
  evidence: SearchEvidence;
}

/**
 * A results folder read back: trials.jsonl (trials, and failed points), with the model names from its
 * search.json when given (a CLI search's manifest or an exported plan). The experts are the models the
 * plan's points weigh; the best soup is the best of the plan's points.
 */
export function importResults(trialsJsonl: string, fileName: string, searchJson?: { text: string; name: string }): ImportedResults {
  const trials: TrialRecord[] = [];
  const failed: PointFailure[] = [];
  trialsJsonl.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: TrialRecord | PointFailure;
    try {
      r = JSON.parse(line) as TrialRecord | PointFailure;
    } catch {
      throw new InputError(`${fileName} line ${i + 1}: not a trial record (JSON)`);
    }
    if (typeof r?.key !== 'string' || !Array.isArray(r.weights)) throw new InputError(`${fileName} line ${i + 1}: not a trial record (no key and weights)`);
    if ('failed' in r) failed.push(r);
    else trials.push(r);
  });
  if (trials.length === 0) throw new InputError(`${fileName}: no finished trials`);
  // A point that failed once and was evaluated later is a trial, not a failure.
  const done = new Set(trials.map((t) => t.key));
  const stillFailed = failed.filter((f, i) => !done.has(f.key) && failed.findIndex((g) => g.key === f.key) === i);
  const n = trials[0].weights.length;
  let models = Array.from({ length: n }, (_, i) => `model ${i + 1}`);
  if (searchJson) {
    let doc: { models?: { name?: unknown }[] };
    try {
      doc = JSON.parse(searchJson.text) as typeof doc;
    } catch {
      throw new InputError(`${searchJson.name}: not JSON`);
    }
    const names = (doc.models ?? []).map((m) => m.name);
    if (names.length !== n || names.some((x) => typeof x !== 'string')) throw new InputError(`${searchJson.name}: ${names.length} models, but the trials weigh ${n}`);
    models = names as string[];
  }
  const kinds = new Set(trials.flatMap((t) => t.kinds));
  const plan: SearchPlan = kinds.has('list') ? { kind: 'list', points: [] } : kinds.has('adaptive') ? { kind: 'adaptive', step: 0.1 } : { kind: 'grid', step: 0.1 };
  const planKeys = planKeysByKind(trials, plan.kind);
  const experts = [...Array(n).keys()].filter((m) => trials.some((t) => planKeys.has(t.key) && t.weights[m] > 0));
  const categories = [...new Set(trials.flatMap((t) => Object.keys(t.tune)))];
  const spec: SearchSpec = { models, experts, plan, metric: 'acc_norm', splitSeed: 0 };
  // Shapley players as the search chose them: every model of up to 5, else the experts; exact once every coalition is in.
  const players = defaultShapleyPlayers(spec).filter((p) => p < n);
  const tasks: PreparedTask[] = categories.map((name) => ({ name, file: name, kind: 'perplexity', documents: [] }));
  const evidence = searchEvidence(trials, models, experts, planKeys, players, tasks);
  return { models, experts, trials, failed: stillFailed, categories, planKeys, evidence };
}
