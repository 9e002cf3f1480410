import { InputError } from '../errors';
import { isPlainObject, type RawCell, type RawTable, type TableProblem } from './rawTable';

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
