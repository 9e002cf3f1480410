/**
 * From task results to category scores, and from several models' scores to a score table the analysis
 * reads as it is (models × categories; one category per task file).
 *
 * Every category is "higher is better", as the analysis and the search's objective (the sum of the
 * categories) assume: a multiple-choice task scores its acc_norm (or acc) as a percentage, a perplexity
 * task scores −bits per byte (0 is a perfect model; a 2-bits-per-byte model scores −2).
 */
import { csvField } from '../analysis/recipes';
import { seededUniform } from '../util/random';
import { accuracies, perplexityOf, type TaskResult } from './evaluate';

export type ChoiceMetric = 'acc' | 'acc_norm';

export function categoryScore(result: TaskResult, metric: ChoiceMetric): number {
  if (result.kind === 'multiple_choice') return 100 * result[metric];
  return -result.bits_per_byte;
}

/** What a category's number means, for reports. */
export function scoreUnit(kind: TaskResult['kind'], metric: ChoiceMetric): string {
  return kind === 'multiple_choice' ? `${metric} %` : '−bits/byte';
}

/**
 * The held-out split: per task file, a seeded shuffle of its items (documents) puts half in `tune`
 * (the larger half for an odd count) and the rest in `heldOut`. The same seed gives the same split on
 * every machine. A task of one item or document cannot be split: it is in both, and `shared` says so.
 */
export interface TaskSplit {
  task: string;
  tune: Set<number>;
  heldOut: Set<number>;
  shared: boolean;
}

export function splitTask(task: string, lines: number[], seed: number, tuneShare = 0.5): TaskSplit {
  if (lines.length < 2 || tuneShare >= 1) return { task, tune: new Set(lines), heldOut: new Set(lines), shared: true };
  const random = seededUniform((seed ^ hashString(task)) >>> 0);
  const order = [...lines];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.min(order.length - 1, Math.max(1, Math.ceil(order.length * tuneShare)));
  return { task, tune: new Set(order.slice(0, cut)), heldOut: new Set(order.slice(cut)), shared: false };
}

/** The lines (items or documents) of a result, in file order. */
export function linesOf(result: TaskResult): number[] {
  return result.kind === 'multiple_choice' ? result.items.map((i) => i.line) : result.documents.map((d) => d.line);
}

/** The category score over a subset of a result's items (documents). */
export function subsetScore(result: TaskResult, lines: Set<number>, metric: ChoiceMetric): number {
  if (result.kind === 'multiple_choice') {
    const a = accuracies(result.items.filter((i) => lines.has(i.line)));
    return 100 * a[metric];
  }
  return -perplexityOf(result.documents.filter((d) => lines.has(d.line))).bits_per_byte;
}

/** FNV-1a of a string: a stable per-task seed offset. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** One evaluated model's row of the score table. */
export interface ScoreRow {
  model: string;
  scores: Record<string, number>;
}

/** CSV of models × categories ("Model" first): what `souplab analyze` and the Scores view read. */
export function scoreTableCsv(rows: ScoreRow[], categories: string[]): string {
  const lines = [['Model', ...categories].map(csvField).join(',')];
  for (const r of rows) lines.push([r.model, ...categories.map((c) => (r.scores[c] === undefined ? 'N/A' : formatScore(r.scores[c])))].map(csvField).join(','));
  return lines.join('\n') + '\n';
}

/** Enough digits to keep the ranking, no float noise: 66.66666666666667 → 66.666667. */
export function formatScore(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(8))) : 'N/A';
}
