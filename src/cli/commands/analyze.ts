import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  analyze,
  parseTrials,
  rankTrials,
  shapleyFromTrials,
  type AnalysisResult,
  type AnalyzeOptions,
  type ParseOptions,
  type ScoreTable,
  type ShapleyResult,
  type TextFile,
  type TrialRanking,
} from '../../analysis';
import { matchName } from '../../analysis/names';
import { MAX_SHAPLEY_PLAYERS } from '../../analysis/shapley';
import { parseScoreTable } from '../../analysis/parse';
import { analysisJson, formatAnalysis } from '../../analysis/report';
import { InputError } from '../../errors';
import { fsInputError } from '../../node/fsErrors';
import { parseArgs, UsageError, type Command } from '../io';

/** Options shared by `analyze` and `grid`: how to read the table and run the analysis. */
export const ANALYSIS_VALUE_FLAGS = ['model-column', 'categories', 'exclude', 'tau', 'rule', 'candidates', 'rows', 'mode', 'step', 'metric', 'format'];
export const ANALYSIS_BOOLEAN_FLAGS = ['spearman'];

export const ANALYSIS_OPTIONS_HELP = `  --model-column M      the column naming models (default: detected, e.g. "Model")
  --categories a,b,c    the categories to analyse (default: detected; aggregates such as "Overall Acc" are left out)
  --exclude a,b         columns never to use as categories
  --tau 0.2             correlation threshold τ
  --rule signed|absolute  which partners put a category into L: signed (default) ρ < τ, a weakly or
                        negatively correlated one; absolute |ρ| < τ, leaving anti-correlated pairs out
  --candidates "x;y;z"  models that may be experts (correlations still use every row)
  --rows "x;y;z"        models the correlations are computed over (default: every row)
  --mode paper|clusters paper: an expert per weakly-correlated category; clusters: an expert per cluster
  --spearman            Spearman instead of Pearson correlation
  --step 0.1            weight grid step
  --metric "acc_norm;acc;exact_match"   lm-eval: which metric scores a task (first present wins)
  --format csv|tsv|json|lm-eval         force the input format (default: detected)`;

/** "a;b;c" or "a,b,c" (semicolons win, since model names may hold commas). */
export function splitList(value: string): string[] {
  const sep = value.includes(';') ? ';' : ',';
  return value
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function findResultFiles(dir: string, depth = 0): string[] {
  if (depth > 6) return [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw fsInputError(dir, e, 'cannot list');
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findResultFiles(p, depth + 1));
    else if (/^results.*\.json$/i.test(e.name)) out.push(p);
  }
  return out;
}

/** Reads score files; a folder stands for every lm-eval results*.json under it. */
export function readTableFiles(paths: string[]): TextFile[] {
  const files: TextFile[] = [];
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      throw fsInputError(path, e);
    }
    const list = isDir ? findResultFiles(path) : [path];
    if (isDir && list.length === 0) throw new InputError(`${path}: a folder with no lm-eval results*.json files in it`);
    for (const p of list) {
      try {
        files.push({ name: p, text: readFileSync(p, 'utf8') });
      } catch (e) {
        throw fsInputError(p, e, 'cannot read');
      }
    }
  }
  return files;
}

export function parseOptionsFrom(flags: Map<string, string | true>): ParseOptions {
  const get = (k: string): string | undefined => {
    const v = flags.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const format = get('format');
  if (format !== undefined && !['csv', 'tsv', 'json', 'lm-eval'].includes(format))
    throw new UsageError(`--format must be csv, tsv, json or lm-eval, not "${format}"`);
  return {
    modelColumn: get('model-column'),
    categories: get('categories') !== undefined ? splitList(get('categories')!) : undefined,
    exclude: get('exclude') !== undefined ? splitList(get('exclude')!) : undefined,
    metricRule: get('metric') !== undefined ? get('metric')!.split(';').map((s) => s.trim()).filter(Boolean) : undefined,
    format: format as ParseOptions['format'],
  };
}

export function analyzeOptionsFrom(flags: Map<string, string | true>): AnalyzeOptions {
  const get = (k: string): string | undefined => {
    const v = flags.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const number = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${k} needs a number, not "${v}"`);
    return n;
  };
  const mode = get('mode');
  if (mode !== undefined && mode !== 'paper' && mode !== 'clusters') throw new UsageError(`--mode must be paper or clusters, not "${mode}"`);
  const rule = get('rule');
  if (rule !== undefined && rule !== 'signed' && rule !== 'absolute') throw new UsageError(`--rule must be signed (ρ < τ) or absolute (|ρ| < τ), not "${rule}"`);
  return {
    tau: number('tau'),
    rule: rule as AnalyzeOptions['rule'],
    candidates: get('candidates') !== undefined ? splitList(get('candidates')!) : undefined,
    rows: get('rows') !== undefined ? splitList(get('rows')!) : undefined,
    method: flags.get('spearman') === true ? 'spearman' : 'pearson',
    mode: mode as AnalyzeOptions['mode'],
    step: number('step'),
  };
}

/** Reads the tables named on the command line and analyses them. */
export function runAnalysis(positionals: string[], flags: Map<string, string | true>, overrides: Partial<AnalyzeOptions> = {}): { table: ScoreTable; result: AnalysisResult } {
  if (positionals.length === 0) throw new UsageError('give at least one score table (CSV, TSV, JSON or lm-eval results)');
  const table = parseScoreTable(readTableFiles(positionals), parseOptionsFrom(flags));
  const result = analyze(table, { ...analyzeOptionsFrom(flags), ...overrides });
  return { table, result };
}

/** Ranking, baselines and Shapley values of an evaluated trials table (`--trials`). */
export interface TrialsReport {
  source: string;
  /** The ingredients (weight columns), aligned with every trial's weights. */
  models: string[];
  ranking: TrialRanking;
  shapley: ShapleyResult | null;
  notes: string[];
}

export function runTrials(
  file: string,
  flags: Map<string, string | true>,
  analysis: { table: ScoreTable; result: AnalysisResult } | null,
): TrialsReport {
  const [text] = readTableFiles([file]);
  const trials = parseTrials(text);
  const notes = trials.problems.filter((p) => p.severity === 'warning').map((p) => p.message);
  const objectiveFlag = flags.get('objective');
  const trialColumns = trials.scores.columns.map((c) => c.name);
  let columns: string[] | undefined;
  if (typeof objectiveFlag === 'string') columns = splitList(objectiveFlag);
  else if (analysis && analysis.result.categories.every((c) => matchName(c, trialColumns) !== undefined)) columns = analysis.result.categories;
  const expertsHaveWeights = analysis !== null && analysis.result.expertSet.every((e) => matchName(e, trials.models) !== undefined);
  if (analysis && !expertsHaveWeights) notes.push('the trials have no weight column for some experts: no uniform-experts baseline');
  const ranking = rankTrials(trials, {
    objective: { columns },
    experts: expertsHaveWeights ? analysis!.result.expertSet : undefined,
    scores: analysis?.table,
  });
  let shapley: ShapleyResult | null = null;
  const empty = flags.get('empty-value');
  const emptyValue = typeof empty === 'string' ? Number(empty) : 0;
  if (typeof empty === 'string' && (empty.trim() === '' || !Number.isFinite(emptyValue))) throw new UsageError(`--empty-value needs a number, not "${empty}"`);
  if (trials.models.length <= MAX_SHAPLEY_PLAYERS) shapley = shapleyFromTrials(trials, { objective: { columns }, emptyValue });
  else notes.push(`${trials.models.length} ingredients: Shapley values are computed for at most ${MAX_SHAPLEY_PLAYERS}`);
  return { source: file, models: trials.models, ranking, shapley, notes };
}

/** At most 4 decimals, no trailing zeros: 190, 0.3333, 78.25. */
const fmtScore = (v: number | null): string => (v === null ? '—' : String(Math.round(v * 1e4) / 1e4));

export function formatTrials(r: TrialsReport): string {
  const models = r.models;
  const out = ['', `Trials (${r.source}), ranked by the sum of ${r.ranking.objectiveColumns.length} column${r.ranking.objectiveColumns.length === 1 ? '' : 's'}:`];
  const weights = (w: number[]): string => models.map((m, i) => (w[i] ? `${m} ${fmtScore(w[i])}` : '')).filter(Boolean).join(', ');
  for (const t of r.ranking.ranked.slice(0, 10)) out.push(`  ${String(t.rank ?? '—').padStart(3)}. ${t.id}  ${fmtScore(t.objective)}  (${weights(t.normalized)})`);
  if (r.ranking.ranked.length > 10) out.push(`  … ${r.ranking.ranked.length - 10} more`);
  const b = r.ranking.baselines;
  out.push('Baselines:');
  out.push(`  best trial:             ${r.ranking.best ? `${r.ranking.best.id} ${fmtScore(r.ranking.best.objective)}` : 'none'}`);
  out.push(`  best single model:      ${b.bestSingle ? `${b.bestSingle.model} ${fmtScore(b.bestSingle.objective)}` : 'not among the trials'}`);
  if (b.bestSingleInScores) out.push(`  best single (scores):   ${b.bestSingleInScores.model} ${fmtScore(b.bestSingleInScores.objective)}`);
  out.push(`  uniform, all:           ${b.uniformAll ? `${b.uniformAll.id} ${fmtScore(b.uniformAll.objective)}` : 'not among the trials'}`);
  out.push(`  uniform, experts:       ${b.uniformExperts ? `${b.uniformExperts.id} ${fmtScore(b.uniformExperts.objective)}` : 'not among the trials'}`);
  if (r.shapley) {
    if (r.shapley.exact) {
      out.push(`Shapley values (uniform soups as coalitions, empty soup = ${r.shapley.emptyValue}):`);
      r.shapley.players.forEach((p, i) => out.push(`  ${p}: ${fmtScore(r.shapley!.values[i])}`));
    } else {
      const miss = r.shapley.missing.map((m) => `{${m.join(', ')}}`);
      out.push(`Shapley values need every uniform soup; ${miss.length} missing: ${miss.slice(0, 10).join(' ')}${miss.length > 10 ? ' …' : ''}`);
    }
  }
  for (const n of [...r.notes, ...r.ranking.problems, ...(r.shapley?.problems ?? [])]) out.push(`  ! ${n}`);
  return out.join('\n') + '\n';
}

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'SoCE analysis of a score table: correlations, clusters, experts, weight grid; trials and Shapley values',
  usage: `souplab analyze <table…> [options] [--json]
souplab analyze [<table…>] --trials <evaluated.csv> [--objective a,b] [--empty-value x]

Reads benchmark scores (one row per model: BFCL-style CSV with 78.25% and N/A cells, TSV, JSON, or
lm-evaluation-harness results_*.json files or folders of them) and prints the category correlations,
clusters, the set L of weakly or anti-correlated categories, the experts and the weight grid over them.

${ANALYSIS_OPTIONS_HELP}
  --json                one JSON object: categories, pearson, n, lowCorrelation, clusters, experts,
                        expertSet, grid (then more detail; "trials" with --trials)
  --trials <file>       evaluated soups: a "weight: <model>" column per ingredient plus score columns
                        (souplab grid's index.csv, filled in); ranks them, shows the baselines (best
                        single, uniform soup of all, uniform soup of the experts) and Shapley values
  --objective a,b       score columns summed to rank trials (default: the categories)
  --empty-value x       the empty soup's score for Shapley values (default 0; e.g. the base model's)`,
  async run(args, io) {
    const { positionals, flags } = parseArgs(args, {
      booleans: [...ANALYSIS_BOOLEAN_FLAGS, 'json'],
      values: [...ANALYSIS_VALUE_FLAGS, 'trials', 'objective', 'empty-value'],
    });
    const trialsFile = flags.get('trials');
    const analysis = positionals.length > 0 || typeof trialsFile !== 'string' ? runAnalysis(positionals, flags) : null;
    const trials = typeof trialsFile === 'string' ? runTrials(trialsFile, flags, analysis) : null;
    if (flags.get('json') === true) {
      const json: Record<string, unknown> = analysis ? analysisJson(analysis.result, analysis.table) : {};
      if (trials) json.trials = trials;
      io.stdout(JSON.stringify(json, null, 2) + '\n');
    } else {
      if (analysis) io.stdout(formatAnalysis(analysis.result, analysis.table));
      if (trials) io.stdout(formatTrials(trials));
    }
    return 0;
  },
};
