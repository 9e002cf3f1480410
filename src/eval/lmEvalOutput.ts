/**
 * SoupLab's scores in lm-evaluation-harness's output layout (`--output_path DIR --log_samples`), so that
 * a SoupLab result is read wherever lm-eval's are (the score-table import, a cluster search's reader):
 *
 *   DIR/<model name sanitised>/results_<date>.json           results.<task>."<metric>,<filter>", …
 *   DIR/<model name sanitised>/samples_<task>_<date>.jsonl   one line per document: doc_id, doc, target,
 *                                                            arguments, resps, filtered_resps, filter,
 *                                                            metrics, and each per-sample metric
 *
 * As lm-eval writes them (lm_eval/loggers/evaluation_tracker.py, lm_eval/evaluator.py): the model name
 * sanitised by replacing runs of "<>:/|\?*[] and quotes with "__", the date an ISO time with ":" as "-",
 * the filter "none"; a multiple-choice document's metrics are acc and acc_norm (1 or 0), a rolling
 * log-likelihood document's are word_perplexity, byte_perplexity and bits_per_byte, each the pair
 * [log-likelihood, words or bytes] that lm-eval pools over documents.
 *
 * doc_id is the item's index among its task file's items (lm-eval: the document's index in its split).
 */
import type { PreparedTask, TaskResult } from './evaluate';

/** lm-eval's sanitize_model_name. */
export function sanitizeModelName(name: string): string {
  return name.replace(/["<>:/|\\?*[\]]+/g, '__');
}

/** lm-eval's date id: datetime.now().isoformat() with ":" replaced. */
export function lmEvalDateId(date: Date): string {
  // Python's isoformat has microseconds and no zone; this is the same shape in UTC.
  return date.toISOString().replace('Z', '000').replace(/:/g, '-');
}

export interface LmEvalOutputFiles {
  /** The folder under the output path (the sanitised model name). */
  folder: string;
  files: { name: string; text: string }[];
}

/** lm-eval's stderr of a mean: sample standard deviation / √n. */
function meanStderr(values: number[]): number | null {
  const n = values.length;
  if (n < 2) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}

/**
 * The files of one evaluation. `docIds` maps each task's item (document) line to its doc_id; `tasks`
 * (aligned with `results`) gives the items' text for the samples.
 */
export function lmEvalOutput(model: string, results: TaskResult[], tasks: PreparedTask[], docIds: Map<string, Map<number, number>>, date: Date): LmEvalOutputFiles {
  const dateId = lmEvalDateId(date);
  const out: Record<string, Record<string, unknown>> = {};
  const configs: Record<string, unknown> = {};
  const higher: Record<string, Record<string, boolean>> = {};
  const nSamples: Record<string, { original: number; effective: number }> = {};
  const files: { name: string; text: string }[] = [];
  results.forEach((r, t) => {
    const task = tasks[t];
    const ids = docIds.get(r.name) ?? new Map<number, number>();
    const idOf = (line: number, i: number) => ids.get(line) ?? i;
    const lines: string[] = [];
    if (r.kind === 'multiple_choice') {
      const accs = r.items.map((it) => (it.pred === it.gold ? 1 : 0));
      const norms = r.items.map((it) => (it.pred_norm === it.gold ? 1 : 0));
      out[r.name] = { alias: r.name, 'acc,none': r.acc, 'acc_stderr,none': meanStderr(accs), 'acc_norm,none': r.acc_norm, 'acc_norm_stderr,none': meanStderr(norms) };
      higher[r.name] = { acc: true, acc_norm: true };
      configs[r.name] = { task: r.name, output_type: 'multiple_choice', metric_list: [{ metric: 'acc' }, { metric: 'acc_norm' }], num_fewshot: 0 };
      const items = task?.kind === 'multiple_choice' ? task.items : [];
      r.items.forEach((it, i) => {
        const item = items[i]?.item;
        const context = item?.query ?? '';
        const args = Object.fromEntries((item?.choices ?? []).map((c, k) => [`gen_args_${k}`, { arg_0: context, arg_1: `${item?.delimiter ?? ' '}${c}` }]));
        lines.push(
          JSON.stringify({
            doc_id: idOf(it.line, i),
            doc: item ? { query: item.query, choices: item.choices, gold: item.gold } : {},
            target: String(it.gold),
            arguments: args,
            resps: it.loglikelihoods.map((ll) => [[String(ll), 'False']]),
            filtered_resps: it.loglikelihoods.map((ll) => [String(ll), 'False']),
            filter: 'none',
            metrics: ['acc', 'acc_norm'],
            acc: accs[i],
            acc_norm: norms[i],
          }),
        );
      });
      nSamples[r.name] = { original: r.items.length, effective: r.items.length };
    } else {
      out[r.name] = {
        alias: r.name,
        'word_perplexity,none': r.word_perplexity,
        'word_perplexity_stderr,none': 'N/A',
        'byte_perplexity,none': r.byte_perplexity,
        'byte_perplexity_stderr,none': 'N/A',
        'bits_per_byte,none': r.bits_per_byte,
        'bits_per_byte_stderr,none': 'N/A',
      };
      higher[r.name] = { word_perplexity: false, byte_perplexity: false, bits_per_byte: false };
      configs[r.name] = { task: r.name, output_type: 'loglikelihood_rolling', metric_list: [{ metric: 'word_perplexity' }, { metric: 'byte_perplexity' }, { metric: 'bits_per_byte' }], num_fewshot: 0 };
      const docs = task?.kind === 'perplexity' ? task.documents : [];
      r.documents.forEach((d, i) => {
        const ll = -d.nll;
        lines.push(
          JSON.stringify({
            doc_id: idOf(d.line, i),
            doc: { text: docs[i]?.text ?? '' },
            target: '',
            arguments: { gen_args_0: { arg_0: docs[i]?.text ?? '' } },
            resps: [[String(ll)]],
            filtered_resps: [String(ll)],
            filter: 'none',
            metrics: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
            word_perplexity: [ll, d.words],
            byte_perplexity: [ll, d.bytes],
            bits_per_byte: [ll, d.bytes],
          }),
        );
      });
      nSamples[r.name] = { original: r.documents.length, effective: r.documents.length };
    }
    files.push({ name: `samples_${r.name}_${dateId}.jsonl`, text: lines.map((l) => `${l}\n`).join('') });
  });
  const names = results.map((r) => r.name);
  const results_ = {
    results: out,
    group_subtasks: Object.fromEntries(names.map((n) => [n, []])),
    configs,
    versions: Object.fromEntries(names.map((n) => [n, 'souplab'])),
    'n-shot': Object.fromEntries(names.map((n) => [n, 0])),
    higher_is_better: higher,
    'n-samples': nSamples,
    config: { model: 'souplab', model_args: `pretrained=${model}`, batch_size: 'auto', limit: null },
    git_hash: null,
    date: date.getTime() / 1000,
    model_name: model,
    model_name_sanitized: sanitizeModelName(model),
  };
  files.unshift({ name: `results_${dateId}.json`, text: `${JSON.stringify(results_, null, 2)}\n` });
  return { folder: sanitizeModelName(model), files };
}
