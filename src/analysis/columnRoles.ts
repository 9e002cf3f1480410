import { toFloat64 } from './aggregates';
import { pearson, spearman } from './correlation';

/**
 * Checks that keep numeric columns which are not "higher is better" scores of their own out of the
 * default categories: lower-is-better measurements (deltas, deviations, errors), columns filled for
 * only a few models, and twins of one benchmark (the normalised score and its raw copy). Each check
 * returns the reason a person reads; the user can still choose any such column.
 */

/**
 * Names of measurements where lower is better. Rank, cost, latency and the like are metadata (see
 * METADATA_NAME); these are results, but a soup's expert must be the best, not the largest, value.
 */
const LOWER_IS_BETTER: { pattern: RegExp; word: string }[] = [
  { pattern: /\bmax(?:imum)?[ _-]*delta\b|\bdeltas?\b|\bdiff(?:erence)?\s*(?:\(.*\))?$/i, word: 'a difference (delta)' },
  { pattern: /\bstandard[ _-]*deviation\b|\bstd(?:[ _-]?dev)?\b|\bstdev\b|\bdeviation\b|\bvariance\b/i, word: 'a spread (standard deviation)' },
  // "Error" only at the end ("Word Error", "error rate"): "Error Handling" is a category of its own.
  { pattern: /\berrors?(?:[ _-]*rate)?\s*(?:\(.*\))?$|\b(?:mae|rmse|mse|wer|cer)\b/i, word: 'an error' },
  { pattern: /\bloss\b|\bperplexity\b|\bppl\b|\bnll\b|\bregret\b/i, word: 'a loss' },
  { pattern: /\b(?:failure|fail|hallucination|refusal|toxicity|violation)[ _-]*rate\b/i, word: 'a failure rate' },
  { pattern: /\blower[ _-]*is[ _-]*better\b|[↓⬇]/i, word: '"lower is better"' },
];

/** Why a column's name marks it as lower-is-better, or null. */
export function lowerIsBetterName(name: string): string | null {
  for (const { pattern, word } of LOWER_IS_BETTER) {
    const m = pattern.exec(name);
    if (m) return `lower is better: the name says ${word} ("${m[0].trim()}")`;
  }
  return null;
}

/** Below this share of the usual coverage a column is too sparse to be a category by default. */
const SPARSE_SHARE = 0.5;
/** Sparse coverage is only judged on tables with at least this many models in a typical column. */
const SPARSE_MIN_MODELS = 10;

/** How many models have a score in each column. */
export function coverage(values: readonly (number | null)[]): number {
  let n = 0;
  for (const v of values) if (v !== null) n++;
  return n;
}

/**
 * Columns filled for fewer than half as many models as the median column: an expert picked there is
 * picked among a few, and the heatmap's correlations with it rest on a subset. Returns the reason per
 * sparse column index.
 */
export function sparseColumns(columns: readonly (readonly (number | null)[])[]): Map<number, string> {
  const out = new Map<number, string>();
  if (columns.length < 2) return out;
  const counts = columns.map(coverage);
  const sorted = [...counts].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  if (median < SPARSE_MIN_MODELS) return out;
  const total = columns[0].length;
  counts.forEach((n, i) => {
    if (n < SPARSE_SHARE * median)
      out.set(i, `sparse: filled for ${n} of ${total} models, where the other columns have ${median === total ? 'all' : `about ${median}`}`);
  });
  return out;
}

/** Words that mark one form of a benchmark's score; "IFEval Raw" and "IFEval" are one benchmark. */
const FORM_MARKER = /[\s_-]*[([]?\b(raw|unnormali[sz]ed|normali[sz]ed|norm|scaled|rescaled)\b[)\]]?[\s_-]*/gi;
/** Which form to keep, best first: the leaderboard's normalised score over the plain name over the raw one. */
const FORM_RANK: Record<string, number> = { normalized: 0, normalised: 0, norm: 0, scaled: 0, rescaled: 0, '': 1, raw: 2, unnormalized: 2, unnormalised: 2 };
/** Rank agreement that makes two like-named columns one measurement. */
const TWIN_SPEARMAN = 0.9;

export interface Twin {
  /** The column kept as the category. */
  kept: number;
  /** The column left out. */
  dropped: number;
  /** Spearman ρ between them over the models having both; null when too few share scores. */
  rho: number | null;
}

function formOf(name: string): { stem: string; form: string } {
  let form = '';
  const stem = name
    .replace(FORM_MARKER, (m, word: string) => {
      form = word.toLowerCase();
      return ' ';
    })
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
  return { stem, form };
}

/**
 * Twins: columns whose names differ only by a form word ("raw", "normalized"…) and whose scores rank
 * the models alike (Spearman ≥ 0.9 where enough models have both). Both in the categories would make
 * a perfectly correlated pair, which hides the benchmark from the paper's set L.
 */
export function findTwins(names: readonly string[], columns: readonly (readonly (number | null)[])[]): Twin[] {
  const byStem = new Map<string, number[]>();
  names.forEach((name, i) => {
    const { stem } = formOf(name);
    if (stem === '') return;
    if (!byStem.has(stem)) byStem.set(stem, []);
    byStem.get(stem)!.push(i);
  });
  const twins: Twin[] = [];
  for (const group of byStem.values()) {
    if (group.length < 2) continue;
    const forms = group.map((i) => formOf(names[i]).form);
    if (new Set(forms).size < 2) continue;
    const order = group.map((i, g) => ({ i, rank: FORM_RANK[forms[g]] ?? 1 })).sort((a, b) => a.rank - b.rank || a.i - b.i);
    const kept = order[0].i;
    const keptValues = toFloat64(columns[kept]);
    for (const { i } of order.slice(1)) {
      const { r } = spearman(keptValues, toFloat64(columns[i]));
      if (r !== null && r < TWIN_SPEARMAN) continue;
      twins.push({ kept, dropped: i, rho: r });
    }
  }
  return twins.sort((a, b) => a.dropped - b.dropped);
}

/**
 * Pearson ρ of a column with a reference column (an aggregate such as "Overall Acc"), for saying which
 * way a column runs: a lower-is-better measurement runs against the overall score.
 */
export function correlationWith(values: readonly (number | null)[], reference: readonly (number | null)[]): number | null {
  return pearson(toFloat64(values), toFloat64(reference)).r;
}

/** A column running this strongly against the table's overall score is read as lower-is-better. */
export const AGAINST_OVERALL = -0.5;
