import { InputError } from '../errors';
import { toFloat64 } from './aggregates';
import { averageLinkage, cutDendrogram, type CategoryCluster, type Dendrogram } from './cluster';
import { correlationMatrix, type CorrelationMatrix, type CorrelationMethod } from './correlation';
import { expertSetOf, lowCorrelationSet, pickExpert, ruleFormula, type ExpertPick, type LowCorrelationRule } from './experts';
import { compositionCount, stepsFor, uniformPoint, weightGrid, type WeightGrid } from './grid';
import { checkCompatibility, type Compatibility } from './lineage';
import { didYouMean, listNames, matchName } from './names';
import type { ScoreTable } from './scoreTable';

/**
 * The most categories one analysis takes. Correlations and clustering are O(k²) in time and memory
 * (k² ρ, plus O(k²) clustering state): 2,000 take a few seconds and ~100 MB; 10,000 would take 25 × that.
 */
export const MAX_CATEGORIES = 2000;

/** `paper`: one expert per category of L. `clusters`: one expert per cluster, on the cluster's mean score. */
export type ExpertMode = 'paper' | 'clusters';

export interface AnalyzeOptions {
  /** Correlation threshold τ (default 0.2). */
  tau?: number;
  /** Which partners put a category into L (default 'signed': ρ < τ). */
  rule?: LowCorrelationRule;
  /** Categories to analyse (default: the table's categories). */
  categories?: string[];
  /** Models that may be experts (default: every model). Correlations still use `rows`. */
  candidates?: string[];
  /** Models whose scores the correlations use (default: every row, the paper's choice). */
  rows?: string[];
  method?: CorrelationMethod;
  /** Which mode's experts make the headline expert set and grid (default 'paper'). */
  mode?: ExpertMode;
  /** Weight grid step (default 0.1). */
  step?: number;
  maxGridPoints?: number;
}

/** The experts of one mode. */
export interface ExpertSelection {
  mode: ExpertMode;
  /** One pick per category of L (paper) or per cluster (clusters), in that order. */
  picks: ExpertPick[];
  /** The distinct experts in first-appearance order: the soup's ingredients. */
  expertSet: string[];
}

/** Everything the Scores view and `souplab analyze` show. Plain data, JSON-serialisable. */
export interface AnalysisResult {
  tau: number;
  /** The rule L was built with. */
  rule: LowCorrelationRule;
  method: CorrelationMethod;
  mode: ExpertMode;
  /** Analysed categories in table order; every matrix below is aligned with it. */
  categories: string[];
  /** The categories in dendrogram leaf order: the heatmap's order, clusters as contiguous blocks. */
  heatmapOrder: string[];
  /** The correlation used for L and clusters (Pearson or Spearman). */
  correlation: CorrelationMatrix;
  /** Pearson always (equals `correlation` when method is pearson). */
  pearson: CorrelationMatrix;
  /** Models the correlations were computed over. */
  rows: string[];
  /** Models allowed to be experts, in table order. */
  candidates: string[];
  /** The set L under `rule`, in table order. */
  lowCorrelation: string[];
  dendrogram: Dendrogram;
  /** Clusters cut at τ, in heatmap order. */
  clusters: CategoryCluster[];
  /** Both modes are computed; `experts`/`expertSet`/`grid` follow `mode`. */
  paper: ExpertSelection;
  clustered: ExpertSelection;
  /** The selection of `mode`. */
  experts: ExpertPick[];
  expertSet: string[];
  /** The weight grid over `expertSet` (uniform vector last). */
  grid: WeightGrid;
  /** Whether the table's base-model, architecture and size columns allow souping `expertSet`. */
  compatibility: Compatibility;
  /** Things the user should know about the result (empty L, arbitrary experts of constant categories…). */
  warnings: string[];
}

function resolveModels(table: ScoreTable, names: string[] | undefined, what: string): number[] {
  if (names === undefined) return table.models.map((_, i) => i);
  const out: number[] = [];
  for (const name of names) {
    const hit = matchName(name, table.models);
    if (hit === undefined) throw new InputError(`${what}: no model "${name}" in the table${didYouMean(name, table.models)}`);
    const i = table.models.indexOf(hit);
    if (!out.includes(i)) out.push(i);
  }
  if (out.length === 0) throw new InputError(`${what}: the list is empty`);
  return out.sort((a, b) => a - b);
}

/** Runs the whole SoCE analysis on a score table. */
export function analyze(table: ScoreTable, options: AnalyzeOptions = {}): AnalysisResult {
  const tau = options.tau ?? 0.2;
  if (!(tau >= 0 && tau <= 1)) throw new InputError(`τ must be between 0 and 1, not ${tau}`);
  const rule = options.rule ?? 'signed';
  if (rule !== 'signed' && rule !== 'absolute') throw new InputError(`the rule for L must be signed (ρ < τ) or absolute (|ρ| < τ), not "${String(rule)}"`);
  const method = options.method ?? 'pearson';
  const mode = options.mode ?? 'paper';
  const names = table.columns.map((c) => c.name);
  const categories = (options.categories ?? table.categories).map((c) => {
    const hit = matchName(c, names);
    if (hit === undefined) throw new InputError(`no numeric column "${c}"${didYouMean(c, names)}; the numeric columns are ${listNames(names, 12)}`);
    return hit;
  });
  if (new Set(categories).size !== categories.length) throw new InputError('a category is listed twice');
  if (categories.length < 2) throw new InputError(`need at least 2 categories to correlate, have ${categories.length}`);
  if (categories.length > MAX_CATEGORIES)
    throw new InputError(`${categories.length} categories, more than the ${MAX_CATEGORIES} the analysis handles; choose some with --categories or --exclude`);
  const rowIdx = resolveModels(table, options.rows, 'rows');
  const candIdx = resolveModels(table, options.candidates, 'candidates');
  const warnings: string[] = [];

  const full = categories.map((c) => table.columns.find((col) => col.name === c)!.values);
  const columns = full.map((values) => toFloat64(values, rowIdx));
  const pearson = correlationMatrix(categories, columns, 'pearson');
  const correlation = method === 'pearson' ? pearson : correlationMatrix(categories, columns, method);
  const r = correlation.r;
  categories.forEach((c, i) => {
    if (r[i].every((v, j) => j === i || v === null))
      warnings.push(`"${c}" has no defined correlation with any other category (constant, or fewer than 3 shared scores)`);
  });

  const lowCorrelation = lowCorrelationSet(categories, r, tau, rule);
  const dendrogram = averageLinkage(r);
  const clusters = cutDendrogram(dendrogram, categories, r, tau);
  const heatmapOrder = dendrogram.leafOrder.map((i) => categories[i]);

  const score = (cat: number) => (m: number) => full[cat][m];
  const paperPicks = lowCorrelation.map((c) => {
    const i = categories.indexOf(c);
    return pickExpert(c, [c], table.models, candIdx, score(i));
  });
  const clusterPicks = clusters.map((cl) => {
    const idx = cl.categories.map((c) => categories.indexOf(c));
    return pickExpert(cl.label, cl.categories, table.models, candIdx, (m) => {
      // The mean over the cluster needs every score: a partial mean would compare different things.
      let s = 0;
      for (const i of idx) {
        const v = full[i][m];
        if (v === null) return null;
        s += v;
      }
      return s / idx.length;
    });
  });
  for (const p of [...paperPicks, ...clusterPicks]) {
    if (p.model === null) warnings.push(`no candidate has ${p.categories.length > 1 ? 'every score of cluster' : 'a score in'} "${p.key}": no expert`);
    else if (p.tiedWith.length > 0)
      warnings.push(`tie on "${p.key}" (${p.score}) between "${p.model}" and ${listNames(p.tiedWith)}: "${p.model}" is first in table order`);
  }
  const paper: ExpertSelection = { mode: 'paper', picks: paperPicks, expertSet: expertSetOf(paperPicks) };
  const clustered: ExpertSelection = { mode: 'clusters', picks: clusterPicks, expertSet: expertSetOf(clusterPicks) };
  if (lowCorrelation.length === 0)
    warnings.push(`no category has ${ruleFormula(rule).replace('τ', String(tau))} with another: the paper's rule selects no experts; raise τ or use the clusters mode`);
  const chosen = mode === 'paper' ? paper : clustered;
  const n = chosen.expertSet.length;
  const maxPoints = options.maxGridPoints ?? 100_000;
  const step = options.step ?? 0.1;
  const steps = stepsFor(step);
  let grid: WeightGrid;
  // A grid too large to list is not a reason to lose the analysis: keep the uniform soup and say why.
  if (n > 1 && compositionCount(steps, n) + 1 > maxPoints) {
    grid = { step, steps, points: [uniformPoint(n, steps)] };
    warnings.push(`${n} experts with step ${step} make ${compositionCount(steps, n) + 1} grid points, more than ${maxPoints}: only the uniform soup is listed; use a larger step`);
  } else {
    grid = weightGrid(n, { step, maxPoints });
    if (n > 1 && grid.points.length === 1)
      warnings.push(`${n} experts cannot each get at least ${grid.step}: the grid holds only the uniform soup; use a smaller step`);
  }

  return {
    tau,
    rule,
    method,
    mode,
    categories,
    heatmapOrder,
    correlation,
    pearson,
    rows: rowIdx.map((i) => table.models[i]),
    candidates: candIdx.map((i) => table.models[i]),
    lowCorrelation,
    dendrogram,
    clusters,
    paper,
    clustered,
    experts: chosen.picks,
    expertSet: chosen.expertSet,
    grid,
    compatibility: checkCompatibility(table.lineage, table.models, chosen.expertSet),
    warnings,
  };
}
