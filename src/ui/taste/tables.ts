/**
 * Taste results as the studio's other views read them: a score table (models × categories, one
 * category per task file) for Scores, and a trials table (a row per evaluated model with its weights in
 * "weight: <model>" columns) for Trials. The score table keeps the engine's category scores
 * (src/eval/scores.ts: acc or acc_norm as a percentage, perplexity as −bits per byte). The trials table
 * is summed into an objective, so its categories are on the search's one scale (src/search/objective.ts:
 * every category a percentage, perplexity as 100 · 2^(−bits/byte)): percentages never add to −bits/byte.
 */
import { csvField } from '../../analysis/recipes';
import { categoryScore, formatScore, scoreTableCsv, type ChoiceMetric } from '../../eval/scores';
import { categoryScaleRule, objectiveCategoryScore } from '../../search/objective';
import type { ModelResult } from './protocol';

/** The task names in the order they were scored. */
export function categoriesOf(results: readonly ModelResult[]): string[] {
  const seen: string[] = [];
  for (const r of results) for (const t of r.results) if (!seen.includes(t.name)) seen.push(t.name);
  return seen;
}

/** Category → score of one model. */
export function scoresOf(r: ModelResult, metric: ChoiceMetric): Record<string, number> {
  return Object.fromEntries(r.results.map((t) => [t.name, categoryScore(t, metric)]));
}

export function tasteScoreCsv(results: readonly ModelResult[], metric: ChoiceMetric): string {
  return scoreTableCsv(
    results.map((r) => ({ model: r.model, scores: scoresOf(r, metric) })),
    categoriesOf(results),
  );
}

/** How the Trials view's objective sums a table from Taste, in words. */
export function tasteObjectiveRule(metric: ChoiceMetric): string {
  return `scores from Taste on all items of each task, ${categoryScaleRule(metric)}`;
}

/**
 * The trials table: each ingredient is the point with weight 1 on itself, the soup is its recipe's
 * weights (normalised to sum 1, as the Trials view reads them); scores on the objective's scale.
 */
export function tasteTrialsCsv(results: readonly ModelResult[], soupWeights: Record<string, number>, metric: ChoiceMetric): string {
  const models = Object.keys(soupWeights);
  const total = models.reduce((a, m) => a + soupWeights[m], 0);
  const categories = categoriesOf(results);
  const lines = [['recipe', ...models.map((m) => `weight: ${m}`), ...categories].map(csvField).join(',')];
  for (const r of results) {
    const weights = models.map((m) => (r.role === 'soup' ? (total === 0 ? 0 : soupWeights[m] / total) : m === r.model ? 1 : 0));
    const scores: Record<string, number> = Object.fromEntries(r.results.map((t) => [t.name, objectiveCategoryScore(t, metric)]));
    lines.push([r.model, ...weights.map((w) => String(Math.round(w * 1e9) / 1e9)), ...categories.map((c) => (scores[c] === undefined ? 'N/A' : formatScore(scores[c])))].map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}
