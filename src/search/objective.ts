/**
 * What a search sums. The objective adds the categories, so each category must be on one scale: a
 * percentage, higher is better. Multiple choice is already one (the share of items solved); a
 * perplexity task's −bits/byte is not (it adds −2 where a quiz adds 60), so it enters as the mean
 * probability the model gives each byte, 100 · 2^(−bits/byte): 0 % for a model that knows nothing,
 * 100 % for a perfect one, monotone in bits/byte (the same soups rank first on that task alone).
 *
 * Every objective built from SoupLab's own scores goes through `onObjectiveScale`: the search's, and the
 * Taste view's trials table sent to Trials.
 */
import type { TaskResult } from '../eval/evaluate';
import { categoryScore, subsetScore, type ChoiceMetric } from '../eval/scores';

/** The per-category scale, in words: what each summed number is. */
export function categoryScaleRule(metric: ChoiceMetric): string {
  return `each a percentage: multiple choice as ${metric} (%), perplexity as the mean per-byte probability 100 · 2^(−bits/byte) (%)`;
}

/** How the objective is formed, in words, for the report and the studio's Search step. */
export function objectiveRule(metric: ChoiceMetric): string {
  return `the sum of the categories' scores on the tune split, ${categoryScaleRule(metric)}`;
}

/**
 * A category score as the engine gives it (src/eval/scores.ts: a percentage for multiple choice,
 * −bits/byte for perplexity) on the objective's scale.
 */
export function onObjectiveScale(kind: TaskResult['kind'], score: number): number {
  return kind === 'multiple_choice' ? score : 100 * 2 ** score;
}

/** A category's score over a subset of its items (documents), as the search's objective sums it. */
export function searchCategoryScore(result: TaskResult, lines: Set<number>, metric: ChoiceMetric): number {
  return onObjectiveScale(result.kind, subsetScore(result, lines, metric));
}

/** A category's score over all its items (documents), as an objective sums it. */
export function objectiveCategoryScore(result: TaskResult, metric: ChoiceMetric): number {
  return onObjectiveScale(result.kind, categoryScore(result, metric));
}
