/**
 * The score-table options every command that analyses tables takes (analyze, grid, search): their
 * flags and help, reading the tables named on the command line, and running the analysis on them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { analyze, type AnalysisResult, type AnalyzeOptions, type ParseOptions, type ScoreTable, type TextFile } from '../analysis';
import { parseScoreTable } from '../analysis/parse';
import { InputError } from '../errors';
import { fsInputError } from '../node/fsErrors';
import { UsageError } from './io';

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
