import { analyze, parseScoreTable, type AnalysisResult, type ScoreTable, type TextFile } from '../../analysis';
import type { CorrelationMethod, ExpertMode, LowCorrelationRule } from '../../analysis';
import { isSoupLabError } from '../../errors';
import { baseModelsOf } from './candidates';
import { heatmapModel } from './heatmapModel';

/**
 * The Scores view's derived data: the parsed table and the analysis, each memoised on its inputs (by
 * identity), so every view and every re-render (a hover, a tooltip) reuses one computation.
 */

/** A person-readable message: an InputError's own text, anything else marked as a bug. */
export function errorMessage(e: unknown): string {
  if (isSoupLabError(e)) return e.message;
  return `Unexpected error (a bug in SoupLab): ${e instanceof Error ? e.message : String(e)}`;
}

export type Derived<T> = { value: T; error: null } | { value: null; error: string };

function memoLast<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  let lastArgs: A | undefined;
  let lastResult: R;
  return (...args: A) => {
    if (lastArgs && lastArgs.length === args.length && lastArgs.every((a, i) => Object.is(a, args[i]))) return lastResult;
    lastResult = fn(...args);
    lastArgs = args;
    return lastResult;
  };
}

export const deriveTable = memoLast((files: TextFile[] | null, modelColumn: string | null): Derived<ScoreTable> | null => {
  if (files === null) return null;
  try {
    return { value: parseScoreTable(files, { modelColumn: modelColumn ?? undefined }), error: null };
  } catch (e) {
    return { value: null, error: errorMessage(e) };
  }
});

export interface AnalysisChoices {
  categories: string[] | null;
  candidates: string[] | null;
  tau: number;
  mode: ExpertMode;
  /** Which partners put a category into L (the analysis's default is 'signed'). */
  rule: LowCorrelationRule;
  method: CorrelationMethod;
  /** Correlate over the candidates only, instead of every row (the paper's choice). */
  candidateRowsOnly: boolean;
}

/**
 * The user's choices, kept where they still fit the table. A choice naming nothing in this table
 * (saved for another table) falls back to the default; a deliberately empty or too short one is kept,
 * so the analysis can say what is wrong with it.
 */
/** The analysis choices held in a larger state object (the scores store), and nothing else. */
export function analysisChoicesOf(s: AnalysisChoices): AnalysisChoices {
  return { categories: s.categories, candidates: s.candidates, tau: s.tau, mode: s.mode, rule: s.rule, method: s.method, candidateRowsOnly: s.candidateRowsOnly };
}

export function effectiveChoices(table: ScoreTable, c: AnalysisChoices): { categories: string[]; candidates: string[] } {
  const numeric = new Set(table.columns.map((col) => col.name));
  const models = new Set(table.models);
  const keep = (chosen: string[] | null, valid: Set<string>, fallback: string[]): string[] => {
    if (chosen === null) return fallback;
    const kept = chosen.filter((x) => valid.has(x));
    return kept.length === 0 && chosen.length > 0 ? fallback : kept;
  };
  return { categories: keep(c.categories, numeric, table.categories), candidates: keep(c.candidates, models, table.models) };
}

const runAnalysis = memoLast(
  (
    table: ScoreTable,
    categoriesKey: string,
    candidatesKey: string,
    tau: number,
    mode: ExpertMode,
    rule: LowCorrelationRule,
    method: CorrelationMethod,
    candidateRowsOnly: boolean,
  ): Derived<AnalysisResult> => {
    try {
      const categories = JSON.parse(categoriesKey) as string[];
      const candidates = JSON.parse(candidatesKey) as string[];
      const value = analyze(table, { tau, mode, rule, method, categories, candidates, rows: candidateRowsOnly ? candidates : undefined });
      return { value, error: null };
    } catch (e) {
      return { value: null, error: errorMessage(e) };
    }
  },
);

/** The analysis for a table and choices; the same object back while nothing that matters changed. */
export function deriveAnalysis(table: ScoreTable, c: AnalysisChoices): Derived<AnalysisResult> {
  const { categories, candidates } = effectiveChoices(table, c);
  // Keys by value: arrays rebuilt by filtering must not defeat the memo.
  return runAnalysis(table, JSON.stringify(categories), JSON.stringify(candidates), c.tau, c.mode, c.rule, c.method, c.candidateRowsOnly);
}

/** The heatmap layout of an analysis, memoised like the analysis itself. */
export const deriveHeatmap = memoLast(heatmapModel);

/** Base model per model, when the table has a base-model (or architecture) column; null otherwise. */
export const deriveBaseModels = memoLast(baseModelsOf);

/** effectiveChoices with a stable identity while the table and the stored choices are unchanged (memoised pickers). */
export const deriveChoices = memoLast((table: ScoreTable, categories: string[] | null, candidates: string[] | null) =>
  effectiveChoices(table, { categories, candidates, tau: 0, mode: 'paper', rule: 'signed', method: 'pearson', candidateRowsOnly: false }),
);
