/**
 * How many points a search will evaluate, known before it starts (for the time estimate): the baselines,
 * the grid's or the list's points and the Shapley coalitions, each once; an adaptive plan's count is
 * known only as it runs, so its known part is a lower bound.
 */
import { forecastPlan, type PlanForecast, type Surface } from '../eval/estimate';
import type { PreparedTask } from '../eval/evaluate';
import type { CausalLM } from '../model/types';
import { baselinePoints, coalitionPoints, gridPoints, pointKey } from './points';
import { defaultShapleyPlayers, type SearchSpec } from './runSearch';

export function plannedPoints(spec: SearchSpec, alreadyDone: ReadonlySet<string> = new Set()): { points: number; atLeast: boolean } {
  const n = spec.models.length;
  const points = [...baselinePoints(spec.experts, n)];
  if (spec.plan.kind === 'grid') points.push(...gridPoints(spec.experts, n, spec.plan.step));
  else if (spec.plan.kind === 'list') points.push(...spec.plan.points);
  const players = defaultShapleyPlayers(spec);
  if (players.length >= 2) points.push(...coalitionPoints(players, n));
  const keys = new Set(points.map((p) => pointKey(p.weights)).filter((k) => !alreadyDone.has(k)));
  return { points: keys.size, atLeast: spec.plan.kind === 'adaptive' };
}

/**
 * The search's time from a short warm-up on the loaded model: the points still to evaluate (those in
 * `stored` are not) priced at the measured pace; null when nothing is left to evaluate.
 */
export async function forecastSearch(
  spec: SearchSpec,
  tasks: PreparedTask[],
  lm: { model: CausalLM; description: string },
  stored: ReadonlySet<string>,
  options: { surface?: Surface; signal?: AbortSignal } = {},
): Promise<PlanForecast | null> {
  const planned = plannedPoints(spec, stored);
  if (planned.points === 0) return null;
  return forecastPlan(lm.model, lm.description, tasks, planned.points, { atLeast: planned.atLeast, ...options });
}
