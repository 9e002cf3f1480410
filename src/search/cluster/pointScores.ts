/**
 * One point's scores from what an external evaluator wrote (lm-evaluation-harness's layout): each task
 * of its results files is a category (groups are left out: their subtasks are the categories), scored
 * by the search's metric; with per-sample files (`--log_samples`) each category is scored on the tune
 * and the held-out split of its documents (split by doc_id, seeded as the in-process search splits a
 * task file's items), without them on all its documents for both (and a note says so).
 *
 * Scores are on the search's objective scale (categoryValue), where every category is a "higher is
 * better" percentage — so souplab eval's lm-eval output gives the very scores of the in-process search.
 */
import { DEFAULT_METRIC_RULE, lmEvalTaskMetric, samplesMetric, type LmEvalSample } from '../../analysis/lmEval';
import { isPlainObject } from '../../analysis/rawTable';
import { InputError } from '../../errors';
import { splitTask } from '../../eval/scores';
import { onObjectiveScale } from '../objective';

export interface EvaluatorOutput {
  /** Parsed results_*.json files, oldest first (a later file's task wins). */
  results: { file: string; value: unknown }[];
  /** Task → the lines of its samples files. */
  samples: Map<string, LmEvalSample[]>;
}

export interface PointScoreOptions {
  /** The metric asked for ("acc_norm", or "exact_match,flexible-extract"); a task without it falls back as the score-table import does. */
  metric: string;
  splitSeed: number;
  tuneShare: number;
  /** The categories earlier points had: this point must have the same. */
  expected?: readonly string[];
  /** How the folder is named in messages. */
  where: string;
}

export interface PointScores {
  tune: Record<string, number>;
  heldOut: Record<string, number>;
  solved: Record<string, string>;
  categories: string[];
  /** Category → the metric key used ("acc_norm,none"). */
  metrics: Record<string, string>;
  /** Categories scored on all their documents, for want of samples. */
  unsplit: string[];
}

const LOWER_IS_BETTER = new Set(['bits_per_byte', 'byte_perplexity', 'word_perplexity', 'perplexity', 'ter']);
const NOT_A_SHARE = new Set(['bleu', 'chrf', 'rouge1', 'rouge2', 'rougeL', 'rougeLsum', 'ter']);

/**
 * A metric's value on the search's objective scale (objective.ts): a share as a percentage; bits per
 * byte as the per-byte probability 100 · 2^(−bits/byte) %, as the in-process search scores perplexity
 * tasks; a perplexity as its per-unit probability 100 / perplexity %; any other lower-is-better metric
 * negated.
 */
export function categoryValue(metricKey: string, value: number, higherIsBetter?: boolean): number {
  const name = metricKey.split(',')[0];
  if (name === 'bits_per_byte') return onObjectiveScale('perplexity', -value);
  if (name.endsWith('perplexity')) return 100 / value;
  if (higherIsBetter === false || (higherIsBetter === undefined && LOWER_IS_BETTER.has(name))) return -value;
  return NOT_A_SHARE.has(name) ? value : 100 * value;
}

/** categoryValue's rule in words, for the report. */
export const EVALUATOR_SCALE_RULE =
  'each a percentage: shares as %, bits_per_byte as the per-byte probability 100 · 2^(−bits/byte) %, perplexities as 100 / perplexity %, other lower-is-better metrics negated';

export function scoreEvaluatorOutput(output: EvaluatorOutput, opts: PointScoreOptions): PointScores {
  if (output.results.length === 0)
    throw new InputError(`${opts.where} holds no results_*.json: the evaluator must write lm-evaluation-harness results there (lm-eval: --output_path {out} --log_samples)`);
  const rule = [opts.metric, ...DEFAULT_METRIC_RULE, 'bits_per_byte'];
  const entries = new Map<string, { entry: Record<string, unknown>; higher?: Record<string, unknown>; file: string }>();
  for (const { file, value } of output.results) {
    if (!isPlainObject(value) || !isPlainObject(value.results)) throw new InputError(`${file}: no "results" object — not an lm-evaluation-harness results file`);
    const groups = new Set<string>(isPlainObject(value.groups) ? Object.keys(value.groups) : []);
    if (isPlainObject(value.group_subtasks)) for (const [g, subs] of Object.entries(value.group_subtasks)) if (Array.isArray(subs) && subs.length > 0) groups.add(g);
    const higher = isPlainObject(value.higher_is_better) ? value.higher_is_better : {};
    for (const [task, entry] of Object.entries(value.results)) {
      if (groups.has(task) || !isPlainObject(entry)) continue;
      entries.set(task, { entry, higher: isPlainObject(higher[task]) ? higher[task] : undefined, file });
    }
  }
  const categories = [...entries.keys()];
  if (opts.expected) {
    const missing = opts.expected.filter((c) => !entries.has(c));
    if (missing.length > 0) throw new InputError(`${opts.where}: the results have no task ${missing.map((m) => `"${m}"`).join(', ')} (earlier points had it; these have ${categories.join(', ') || 'none'})`);
  }
  const out: PointScores = { tune: {}, heldOut: {}, solved: {}, categories: opts.expected ? [...opts.expected] : categories, metrics: {}, unsplit: [] };
  for (const task of out.categories) {
    const { entry, higher, file } = entries.get(task)!;
    const picked = rule.map((m) => lmEvalTaskMetric(entry, m)).find((p) => p !== undefined);
    if (!picked) throw new InputError(`${file}: task "${task}" has no numeric metric`);
    const [name, filter = 'none'] = picked.key.split(',');
    const hib = typeof higher?.[name] === 'boolean' ? (higher[name] as boolean) : undefined;
    out.metrics[task] = picked.key;
    const samples = (output.samples.get(task) ?? []).filter((s) => s.filter === filter && s.metrics[name] !== undefined).sort((a, b) => a.docId - b.docId);
    if (samples.length === 0) {
      out.tune[task] = out.heldOut[task] = categoryValue(picked.key, picked.value, hib);
      out.unsplit.push(task);
      continue;
    }
    const split = splitTask(task, samples.map((s) => s.docId), opts.splitSeed, opts.tuneShare);
    out.tune[task] = categoryValue(picked.key, samplesMetric(samples.filter((s) => split.tune.has(s.docId)), name), hib);
    out.heldOut[task] = categoryValue(picked.key, samplesMetric(samples.filter((s) => split.heldOut.has(s.docId)), name), hib);
    if (samples.every((s) => s.metrics[name] === 0 || s.metrics[name] === 1)) out.solved[task] = samples.map((s) => (s.metrics[name] === 1 ? '1' : '0')).join('');
  }
  return out;
}
