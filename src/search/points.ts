/**
 * The points a search evaluates: weight vectors over the loaded models (the candidates), and the plans
 * that list them — the paper's grid over the experts, a user's list (the index.csv `souplab grid`
 * writes), the baselines (each model alone, the uniform soup of all, of the experts) and every uniform
 * coalition (so that Shapley values are exact).
 *
 * A point is known by its key, the weights (normalised to sum 1) to 9 decimals: the same soup planned
 * twice, by two plans or by a restarted search, is evaluated once.
 */
import { InputError } from '../errors';
import { weightGrid } from '../analysis/grid';
import { matchName, didYouMean } from '../analysis/names';
import { parseDelimited } from '../analysis/rawTable';
import { parseCell } from '../analysis/cells';

export type PointKind = 'grid' | 'uniform-experts' | 'uniform-all' | 'single' | 'coalition' | 'list' | 'adaptive';

export interface SearchPoint {
  /** Aligned with the search's models; sums to 1. */
  weights: number[];
  kind: PointKind;
  /** For a list plan: the row's recipe name. */
  label?: string;
}

export function pointKey(weights: readonly number[]): string {
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => (Math.round((w / sum) * 1e9) / 1e9).toString()).join('|');
}

/** Normalises to sum 1; throws for a vector without positive weight. */
export function normalized(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0) || weights.some((w) => w < 0 || !Number.isFinite(w))) throw new InputError(`weights ${weights.join(', ')} are not a soup: they must be ≥ 0 with a positive sum`);
  return weights.map((w) => w / sum);
}

/** Spreads weights over the experts' positions among all models (zeros elsewhere). */
export function onModels(expertWeights: readonly number[], experts: readonly number[], modelCount: number): number[] {
  const w = new Array<number>(modelCount).fill(0);
  experts.forEach((m, i) => (w[m] = expertWeights[i]));
  return w;
}

/** The paper's grid over the experts (every vector of step multiples in (0, 1) summing to 1, then the uniform soup). */
export function gridPoints(experts: readonly number[], modelCount: number, step = 0.1): SearchPoint[] {
  return weightGrid(experts.length, { step }).points.map((p) => ({
    weights: onModels(p.weights, experts, modelCount),
    kind: p.uniform ? 'uniform-experts' : 'grid',
  }));
}

export function uniformOf(members: readonly number[], modelCount: number): number[] {
  return onModels(members.map(() => 1 / members.length), members, modelCount);
}

/** Each model alone, the uniform soup of all models and of the experts. */
export function baselinePoints(experts: readonly number[], modelCount: number): SearchPoint[] {
  const all = [...Array(modelCount).keys()];
  const points: SearchPoint[] = all.map((m) => ({ weights: uniformOf([m], modelCount), kind: 'single' }));
  if (modelCount > 1) points.push({ weights: uniformOf(all, modelCount), kind: 'uniform-all' });
  if (experts.length > 1 && experts.length < modelCount) points.push({ weights: uniformOf(experts, modelCount), kind: 'uniform-experts' });
  return points;
}

/** Uniform soups of every coalition of the players with 2 … n−1 members (singles and the whole are baselines). */
export function coalitionPoints(players: readonly number[], modelCount: number): SearchPoint[] {
  const out: SearchPoint[] = [];
  const n = players.length;
  for (let mask = 1; mask < 1 << n; mask++) {
    const members = players.filter((_, i) => mask & (1 << i));
    if (members.length >= 2 && members.length < n) out.push({ weights: uniformOf(members, modelCount), kind: 'coalition' });
  }
  return out;
}

/**
 * A user's list of points: a CSV with a "weight: <model>" column per model (souplab grid's index.csv)
 * and optionally a "recipe" column naming each row. Models without a column get weight 0.
 */
export function listPoints(file: string, text: string, models: readonly string[]): SearchPoint[] {
  const raw = parseDelimited(text, file);
  const weightColumns = raw.header.flatMap((h, j) => {
    const m = /^\s*(?:weight|w)\s*[:=]\s*(.+?)\s*$/i.exec(h);
    return m ? [{ j, name: m[1] }] : [];
  });
  if (weightColumns.length === 0) throw new InputError(`${file}: no "weight: <model>" columns (as souplab grid's index.csv has)`);
  const modelOf = weightColumns.map((c) => {
    const hit = matchName(c.name, [...models]);
    if (hit === undefined) throw new InputError(`${file}: column "weight: ${c.name}" names no model of --models${didYouMean(c.name, [...models])}`);
    return models.indexOf(hit);
  });
  const recipeColumn = raw.header.findIndex((h) => /^(recipe|trial|id|name|soup|file)$/i.test(h.trim()));
  const points: SearchPoint[] = [];
  raw.rows.forEach((row, i) => {
    const line = raw.rowLines[i];
    const w = new Array<number>(models.length).fill(0);
    weightColumns.forEach((c, k) => {
      const cell = parseCell(row[c.j]);
      if (cell.kind === 'number') w[modelOf[k]] = cell.value;
      else if (cell.kind === 'text') throw new InputError(`${file} line ${line}: "${cell.text}" in "${raw.header[c.j]}" is not a weight`);
    });
    if (w.some((x) => x < 0) || !(w.reduce((a, b) => a + b, 0) > 0)) throw new InputError(`${file} line ${line}: the weights must be ≥ 0 with a positive sum`);
    const label = recipeColumn >= 0 ? String(row[recipeColumn] ?? '').trim() : '';
    points.push({ weights: normalized(w), kind: 'list', label: label || undefined });
  });
  if (points.length === 0) throw new InputError(`${file}: no rows`);
  return points;
}
