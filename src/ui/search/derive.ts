/**
 * The Search step's derived data, pure: the manifest that identifies a search (its stored trials are
 * reused when it matches), what a plan will evaluate, the objective chart's trials (the Trials view's
 * chart reads a TrialRanking), the Shapley result for its bars, and the trial ids the table shows.
 */
import type { ShapleyResult, TrialRanking } from '../../analysis';
import type { SearchEvidence } from '../../search/evidence';
import type { SearchManifest } from '../../search/manifest';
import { sha256Hex } from '../../search/manifest';
import { baselinePoints, coalitionPoints, gridPoints, pointKey, uniformOf } from '../../search/points';
import { defaultShapleyPlayers, type TrialRecord } from '../../search/runSearch';
import type { TaskText } from '../taste/protocol';
import type { SearchSettings } from './protocol';
import { specOf } from './searchJob';

/** An ingredient as the manifest knows it: its name and what identifies its weights without reading them. */
export interface ModelIdentity {
  name: string;
  /** e.g. "folder, 2 files, 1,234,567 bytes, 291 tensors". */
  identity: string;
}

export async function manifestOf(settings: SearchSettings, models: ModelIdentity[], tasks: TaskText[]): Promise<SearchManifest> {
  return {
    souplab: 'search',
    models: models.map((m) => ({ name: m.name, path: m.identity })),
    tasks: await Promise.all(tasks.map(async (t) => ({ name: t.file, sha256: await sha256Hex(t.text) }))),
    metric: settings.metric,
    splitSeed: settings.splitSeed,
    tuneShare: settings.tuneShare,
    ...(settings.tokenizerSource ? { tokenizerSource: settings.tokenizerSource } : {}),
  };
}

export interface PlanPreview {
  baselines: number;
  /** Points of the plan not among the baselines; null for the adaptive plan (its path decides). */
  plan: number | null;
  coalitions: number;
  /** Distinct points in all (without the adaptive path). */
  total: number;
  /** Of those, already in the stored results. */
  stored: number;
}

/** What a search of these settings will evaluate, and how much of it is stored already (by point key). */
export function planPreview(settings: SearchSettings, storedKeys: ReadonlySet<string>): PlanPreview {
  const spec = specOf(settings);
  const n = spec.models.length;
  const seen = new Set<string>();
  const count = (points: { weights: number[] }[]) => {
    let fresh = 0;
    for (const p of points) {
      const k = pointKey(p.weights);
      if (!seen.has(k)) {
        seen.add(k);
        fresh++;
      }
    }
    return fresh;
  };
  const baselines = count(baselinePoints(spec.experts, n));
  let plan: number | null = null;
  if (spec.plan.kind === 'grid') plan = count(gridPoints(spec.experts, n, spec.plan.step));
  else if (spec.plan.kind === 'list') plan = count(spec.plan.points);
  else count([{ weights: uniformOf(spec.experts, n) }]);
  const players = defaultShapleyPlayers(spec);
  const coalitions = players.length >= 2 ? count(coalitionPoints(players, n)) : 0;
  return { baselines, plan, coalitions, total: seen.size, stored: [...seen].filter((k) => storedKeys.has(k)).length };
}

/** Stable ids in evaluation order, as trials.csv names them (souplab search's own ids). */
export { trialIds } from '../../search/outputs';

/**
 * The objective over the experts' weights, for the Trials view's chart: the trials that put weight on
 * the experts only (the plan's points, the experts alone, their coalitions), weights over the experts.
 */
export function chartRanking(trials: TrialRecord[], ids: string[], settings: SearchSettings, categories: string[], bestKey: string | null): { ranking: TrialRanking; experts: string[] } {
  const expertIdx = settings.experts.map((e) => settings.models.indexOf(e));
  const onExperts = trials.flatMap((t, i) => (t.weights.every((w, m) => w === 0 || expertIdx.includes(m)) ? [{ t, id: ids[i] }] : []));
  const ranked = onExperts
    .map(({ t, id }) => {
      const weights = expertIdx.map((m) => t.weights[m]);
      const sum = weights.reduce((a, b) => a + b, 0);
      return { id, key: t.key, weights, normalized: weights.map((w) => w / sum), objective: t.objective as number | null, rank: null as number | null };
    })
    .sort((a, b) => (b.objective ?? -Infinity) - (a.objective ?? -Infinity));
  ranked.forEach((r, i) => (r.rank = i > 0 && ranked[i - 1].objective === r.objective ? ranked[i - 1].rank : i + 1));
  const best = ranked.find((r) => r.key === bestKey) ?? null;
  return {
    ranking: { objectiveColumns: categories, ranked, best, baselines: { bestSingle: null, uniformAll: null, uniformExperts: null, bestSingleInScores: null }, problems: [] },
    experts: settings.experts,
  };
}

/** The evidence's Shapley values as the Trials view's Shapley bars read them, with each coalition's soup. */
export function shapleyResultOf(evidence: SearchEvidence, trials: TrialRecord[]): ShapleyResult {
  const { players, values, missing } = evidence.shapley;
  const byKey = new Map(trials.map((t) => [t.key, t]));
  const index = players.map((p) => evidence.models.indexOf(p));
  const coalitions: ShapleyResult['coalitions'] = [];
  for (let mask = 1; mask < 1 << players.length; mask++) {
    const members = index.filter((_, i) => mask & (1 << i));
    const t = byKey.get(pointKey(uniformOf(members, evidence.models.length)));
    if (t) coalitions.push({ members: members.map((m) => evidence.models[m]), value: t.objective, trials: [t.key] });
  }
  return {
    players,
    values: values ?? players.map(() => null),
    exact: values !== null,
    missing,
    coalitions,
    emptyValue: 0,
    objectiveColumns: evidence.categories,
    problems: [],
  };
}
