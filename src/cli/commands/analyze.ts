import { parseTrials, rankTrials, shapleyFromTrials, type AnalysisResult, type ScoreTable, type ShapleyResult, type TrialRanking } from '../../analysis';
import { matchName } from '../../analysis/names';
import { MAX_SHAPLEY_PLAYERS } from '../../analysis/shapley';
import { analysisJson, formatAnalysis } from '../../analysis/report';
import { parseArgs, UsageError, type Command } from '../io';
import { ANALYSIS_BOOLEAN_FLAGS, ANALYSIS_OPTIONS_HELP, ANALYSIS_VALUE_FLAGS, readTableFiles, runAnalysis, splitList } from '../analysisOptions';

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
