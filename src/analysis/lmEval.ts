import { InputError } from '../errors';
import { isPlainObject, type RawCell, type RawTable, type TableProblem } from './rawTable';
import { parseJsonLenient } from './pythonJson';

/**
 * Which metric of an lm-evaluation-harness task becomes its score: the first entry of the rule the
 * task has. An entry is a metric name ("acc_norm": filter "none" preferred, else the first filter
 * present) or "metric,filter" ("exact_match,flexible-extract"). When no entry matches, the task's
 * first numeric metric is used and reported.
 */
export const DEFAULT_METRIC_RULE = [
  'acc_norm',
  'acc',
  'exact_match',
  'prompt_level_strict_acc',
  'inst_level_strict_acc',
  'mc2',
  'f1',
  'em',
  'pass@1',
  'bleu',
];

export interface LmEvalOptions {
  metricRule?: string[];
}

interface TaskScore {
  metric: string;
  value: number;
}

/** True when parsed JSON looks like an lm-evaluation-harness results file. */
export function isLmEvalResults(value: unknown): boolean {
  return isPlainObject(value) && isPlainObject(value.results) && Object.values(value.results).some(isPlainObject);
}

/** The error for JSON that is not a results file for want of its "results" object (or one of tasks). */
export function noResultsObject(fileName: string): string {
  return `${fileName}: no "results" object — not an lm-evaluation-harness results file`;
}

/** The model an lm-eval results file is about: `pretrained=` in model_args, else model_name, else the file. */
export function lmEvalModelName(value: Record<string, unknown>, fileName: string): string {
  const config = isPlainObject(value.config) ? value.config : {};
  const args = config.model_args;
  if (typeof args === 'string') {
    const m = /(?:^|,)\s*(?:pretrained|model|path|peft)=([^,]+)/.exec(args);
    if (m) return m[1].trim();
  } else if (isPlainObject(args)) {
    for (const key of ['pretrained', 'model', 'path']) if (typeof args[key] === 'string' && args[key] !== '') return args[key] as string;
  }
  if (typeof value.model_name === 'string' && value.model_name !== '') return value.model_name;
  if (typeof config.model_name === 'string' && config.model_name !== '') return config.model_name;
  return fileName.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
}

function pickMetric(task: Record<string, unknown>, rule: string[]): TaskScore | undefined {
  const metrics: { metric: string; filter: string; key: string; value: number }[] = [];
  for (const [key, v] of Object.entries(task)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const [metric, filter = 'none'] = key.split(',');
    if (/_stderr$/.test(metric) || metric === 'alias' || metric === 'samples') continue;
    metrics.push({ metric, filter, key, value: v });
  }
  for (const entry of rule) {
    const [metric, filter] = entry.split(',');
    const hits = metrics.filter((m) => m.metric === metric && (filter === undefined || m.filter === filter));
    if (hits.length === 0) continue;
    const hit = hits.find((m) => m.filter === 'none') ?? hits[0];
    return { metric: hit.key, value: hit.value };
  }
  return metrics.length > 0 ? { metric: metrics[0].key, value: metrics[0].value } : undefined;
}

/**
 * Reads lm-evaluation-harness results files (one per model, or several per model from separate runs)
 * into one raw table: a row per model, a column per task. Group tasks (in `groups`, or with subtasks
 * in `group_subtasks`) are marked as aggregates, their subtasks as categories, so both are available.
 */
export function lmEvalToRawTable(files: { name: string; value: unknown }[], options: LmEvalOptions = {}): RawTable {
  const rule = options.metricRule ?? DEFAULT_METRIC_RULE;
  const problems: TableProblem[] = [];
  const models: string[] = [];
  const scores = new Map<string, Map<string, TaskScore & { file: string }>>();
  const tasks: string[] = [];
  const groups = new Set<string>();
  const metricsByTask = new Map<string, Set<string>>();
  for (const { name, value } of files) {
    if (!isLmEvalResults(value)) throw new InputError(noResultsObject(name));
    const doc = value as Record<string, unknown>;
    const model = lmEvalModelName(doc, name);
    if (!scores.has(model)) {
      scores.set(model, new Map());
      models.push(model);
    }
    const row = scores.get(model)!;
    if (isPlainObject(doc.groups)) Object.keys(doc.groups).forEach((g) => groups.add(g));
    if (isPlainObject(doc.group_subtasks))
      for (const [g, subs] of Object.entries(doc.group_subtasks)) if (Array.isArray(subs) && subs.length > 0) groups.add(g);
    // Group scores sit in "results" (most versions) or only in "groups" (some): read both, results first.
    const entries = Object.entries(doc.results as Record<string, unknown>);
    if (isPlainObject(doc.groups)) for (const [g, e] of Object.entries(doc.groups)) if (!entries.some(([t]) => t === g)) entries.push([g, e]);
    for (const [task, entry] of entries) {
      if (!isPlainObject(entry)) continue;
      const picked = pickMetric(entry, rule);
      if (!picked) {
        problems.push({ severity: 'warning', column: task, message: `${name}: task "${task}" has no numeric metric; skipped` });
        continue;
      }
      if (!tasks.includes(task)) tasks.push(task);
      const prev = row.get(task);
      if (prev && prev.value !== picked.value) {
        problems.push({
          severity: 'warning',
          column: task,
          message: `${name}: model "${model}", task "${task}": ${picked.value} differs from ${prev.value} in ${prev.file}; kept the first`,
        });
        continue;
      }
      if (!prev) row.set(task, { ...picked, file: name });
      if (!metricsByTask.has(task)) metricsByTask.set(task, new Set());
      metricsByTask.get(task)!.add(picked.metric);
    }
  }
  for (const [task, metrics] of metricsByTask) {
    const list = [...metrics];
    if (list.length > 1)
      problems.push({
        severity: 'warning',
        column: task,
        message: `task "${task}" is scored by different metrics across models (${list.join(', ')}); change the metric rule to make them agree`,
      });
    else if (!rule.some((r) => list[0] === r || list[0].split(',')[0] === r))
      problems.push({ severity: 'info', column: task, message: `task "${task}": no metric of the rule; used ${list[0]}` });
  }
  const header = ['model', ...tasks];
  const rows: RawCell[][] = models.map((m) => [m, ...tasks.map((t) => scores.get(m)!.get(t)?.value ?? null)]);
  const columnHints: RawTable['columnHints'] = {};
  for (const t of tasks) {
    const metric = [...(metricsByTask.get(t) ?? [])].join('/');
    columnHints[t] = groups.has(t)
      ? { kind: 'aggregate', reason: `lm-eval group (${metric})` }
      : { kind: 'category', reason: `lm-eval task (${metric})` };
  }
  return {
    source: files.map((f) => f.name).join(', '),
    header,
    rows,
    rowLines: models.map((_, i) => i + 1),
    problems,
    columnHints,
    modelColumn: 'model',
  };
}

/** One document of an lm-eval samples file: its doc_id and its per-sample metrics (a number, or lm-eval's [log-likelihood, count] pair for perplexities). */
export interface LmEvalSample {
  docId: number;
  /** The filter its metrics are under ("none" unless the task has filters: then one line per document and filter). */
  filter: string;
  metrics: Record<string, number | [number, number]>;
}

/** The task of a samples file name (`samples_<task>_<date>.jsonl`, the date an ISO time with ":" as "-"), or undefined for another file. */
export function lmEvalSamplesTask(fileName: string): string | undefined {
  const base = fileName.replace(/^.*[\\/]/, '');
  return /^samples_(.+)_\d{4}-\d{2}-\d{2}T[\d.-]+\.jsonl$/.exec(base)?.[1];
}

/** True for an lm-eval results file name (`results_<date>.json`, as lm-eval's own readers tell them). */
export function isLmEvalResultsName(fileName: string): boolean {
  return /^results_.*\.json$/.test(fileName.replace(/^.*[\\/]/, ''));
}

/**
 * Reads an lm-eval samples file (`--log_samples`): one JSON document per line. The metrics of a line are
 * the names its "metrics" list gives (lm-eval ≥ 0.4.3), else every numeric field beside the known ones.
 */
export function parseLmEvalSamples(text: string, fileName: string): LmEvalSample[] {
  const known = new Set(['doc_id', 'doc', 'target', 'arguments', 'resps', 'filtered_resps', 'filter', 'metrics', 'doc_hash', 'prompt_hash', 'target_hash']);
  const out: LmEvalSample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = parseJsonLenient(line);
    } catch {
      throw new InputError(`${fileName} line ${i + 1}: not JSON; an lm-eval samples file has one JSON document per line`);
    }
    if (!isPlainObject(value) || typeof value.doc_id !== 'number') throw new InputError(`${fileName} line ${i + 1}: no "doc_id"; not an lm-eval samples line`);
    const names = Array.isArray(value.metrics) ? value.metrics.filter((m): m is string => typeof m === 'string') : Object.keys(value).filter((k) => !known.has(k));
    const metrics: LmEvalSample['metrics'] = {};
    for (const name of names) {
      const v = value[name];
      if (typeof v === 'number') metrics[name] = v;
      else if (typeof v === 'boolean') metrics[name] = v ? 1 : 0;
      else if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') metrics[name] = [v[0], v[1]];
    }
    out.push({ docId: value.doc_id, filter: typeof value.filter === 'string' ? value.filter : 'none', metrics });
  });
  return out;
}

/**
 * A metric over some samples, pooled as lm-eval aggregates it: the mean of per-sample numbers; for the
 * [log-likelihood, count] pairs, word/byte perplexity exp(−Σll / Σcount) and bits_per_byte
 * −Σll / Σcount / ln 2. NaN when no sample has the metric.
 */
export function samplesMetric(samples: readonly LmEvalSample[], metric: string): number {
  let sum = 0;
  let ll = 0;
  let count = 0;
  let n = 0;
  let pairs = false;
  for (const s of samples) {
    const v = s.metrics[metric];
    if (v === undefined) continue;
    n++;
    if (typeof v === 'number') sum += v;
    else {
      pairs = true;
      ll += -v[0];
      count += v[1];
    }
  }
  if (n === 0) return NaN;
  if (!pairs) return sum / n;
  return metric === 'bits_per_byte' ? ll / Math.max(1, count) / Math.LN2 : Math.exp(ll / Math.max(1, count));
}

/** The value of `metric` ("acc_norm", or "metric,filter") in one task's results entry: filter "none" preferred, else the first. */
export function lmEvalTaskMetric(entry: Record<string, unknown>, metric: string): { key: string; value: number } | undefined {
  const picked = pickMetric(entry, [metric]);
  return picked && (picked.metric === metric || picked.metric.split(',')[0] === metric.split(',')[0]) ? { key: picked.metric, value: picked.value } : undefined;
}
