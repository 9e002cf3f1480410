/**
 * SoCE analysis: score tables in; correlations, clusters, experts and the weight grid out; trials and
 * Shapley values back. Plain TypeScript with no I/O: the studio, the CLI and the tests share it.
 */
export { parseScoreTable, readRawTables, detectFormat, type TextFile, type TableFormat, type ParseOptions } from './parse';
export { buildScoreTable, columnValues, scoreOf, detectModelColumn, SET_ASIDE_KINDS, type ScoreTable, type ScoreColumn, type ColumnKind, type ScoreTableOptions } from './scoreTable';
export { parseDelimited, parseJsonTable, type RawTable, type RawCell, type TableProblem, type ProblemCode } from './rawTable';
export { groupProblems, summarizeProblems, type ProblemGroup } from './problems';
export { lowerIsBetterName, sparseColumns, findTwins, type Twin } from './columnRoles';
export { checkCompatibility, type Lineage, type Compatibility } from './lineage';
export { DEFAULT_METRIC_RULE, lmEvalToRawTable, isLmEvalResults, type LmEvalOptions } from './lmEval';
export { parseCell } from './cells';
export { findDerivedColumns, type DerivedColumn } from './aggregates';
export { pearson, spearman, averageRanks, correlationMatrix, type CorrelationMatrix, type CorrelationMethod } from './correlation';
export { averageLinkage, cutDendrogram, type Dendrogram, type DendrogramMerge, type CategoryCluster } from './cluster';
export { lowCorrelationSet, qualifiesForL, ruleFormula, LOW_CORRELATION_RULES, pickExpert, expertSetOf, type ExpertPick, type LowCorrelationRule } from './experts';
export { weightGrid, compositionCount, stepsFor, uniformPoint, type WeightGrid, type GridPoint, type GridOptions } from './grid';
export { analyze, type AnalyzeOptions, type AnalysisResult, type ExpertSelection, type ExpertMode } from './analyze';
export { linearRecipeObject, linearRecipeYaml, gridRecipes, csvField, type Ingredient, type RecipeOptions, type RecipeBatch, type RecipeFile } from './recipes';
export {
  parseTrials,
  trialsFromRaw,
  objectiveValues,
  rankTrials,
  shapleyFromTrials,
  type Trial,
  type TrialTable,
  type TrialParseOptions,
  type Objective,
  type RankedTrial,
  type TrialRanking,
  type RankOptions,
  type ShapleyOptions,
  type ShapleyResult,
} from './trials';
export { shapleyExact } from './shapley';
export { analysisJson, formatAnalysis } from './report';
