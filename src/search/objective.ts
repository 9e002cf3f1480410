/**
 * What a search sums. The objective adds the categories, so each category must be on one scale: a
 * percentage, higher is better. Multiple choice is already one (the share of items solved); a
 * perplexity task's −bits/byte is not (it adds −2 where a quiz adds 60), so it enters as the mean
 * probability the model gives each byte, 100 · 2^(−bits/byte): 0 % for a model that knows nothing,
 * 100 % for a perfect one, monotone in bits/byte (the same soups rank first on that task alone).
 */
import type { TaskResult } from '../eval/evaluate';
import { subsetScore, type ChoiceMetric } from '../eval/scores';

/** How the objective is formed, in words, for the report and the studio's Search step. */
export function objectiveRule(metric: ChoiceMetric): string {
  return `the sum of the categories' scores on the tune split, each a percentage: multiple choice as ${metric} (%), perplexity as the mean per-byte probability 100 · 2^(−bits/byte) (%)`;
}

/** A category's score over a subset of its items (documents), as the search's objective sums it. */
export function searchCategoryScore(result: TaskResult, lines: Set<number>, metric: ChoiceMetric): number {
  const s = subsetScore(result, lines, metric);
  return result.kind === 'multiple_choice' ? s : 100 * 2 ** s;
}
