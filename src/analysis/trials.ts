import { InputError } from '../errors';
import { cellText, parseCell } from './cells';
import { didYouMean, listNames, matchName } from './names';
import { readRawTables, type ParseOptions, type TextFile } from './parse';
import type { RawCell, RawTable, TableProblem } from './rawTable';
import { buildScoreTable, type ScoreTable } from './scoreTable';
import { shapleyExact } from './shapley';

/** One evaluated soup. */
export interface Trial {
  id: string;
  /** Weights as written, aligned with TrialTable.models (a missing weight is 0). */
  weights: number[];
  /** Weights divided by their sum (mergekit's normalize: true). */
  normalized: number[];
  /** Indices of the models with a non-zero weight. */
  coalition: number[];
  /** True when every model of the coalition has the same weight: a uniform soup of it. */
  uniform: boolean;
}

/** Evaluated soups: weights per model plus scores per category (e.g. index.csv of a grid export, filled in). */
export interface TrialTable {
  source: string;
  /** The ingredients, from the weight columns ("weight: <model>", or names given by the caller). */
  models: string[];
  trials: Trial[];
  /** Scores, one row per trial (models = trial ids), columns classified like any score table. */
  scores: ScoreTable;
  problems: TableProblem[];
}

export interface TrialParseOptions extends ParseOptions {
  /** Column names holding weights (model names); default: columns named "weight: <model>" or "w: <model>". */
  weightColumns?: string[];
  /** Column naming trials; default "recipe", "trial", "id", "name", "soup" or "file" when present. */
  idColumn?: string;
}

const WEIGHT_COLUMN = /^\s*(?:weight|w)\s*[:=]\s*(.+?)\s*$/i;
const ID_COLUMN = /^(recipe|trial|id|name|soup|file|run)$/i;
const UNIFORM_TOLERANCE = 2e-3;

/** Reads a trials table: CSV/TSV/JSON, weight columns plus score columns. */
export function parseTrials(files: TextFile | TextFile[], options: TrialParseOptions = {}): TrialTable {
  const raws = readRawTables(Array.isArray(files) ? files : [files], { ...options, categories: undefined });
  if (raws.length !== 1) throw new InputError('a trials table is one CSV, TSV or JSON file');
  return trialsFromRaw(raws[0], options);
}

export function trialsFromRaw(raw: RawTable, options: TrialParseOptions = {}): TrialTable {
  const problems: TableProblem[] = [...raw.problems];
  const weightIdx: number[] = [];
  const models: string[] = [];
  if (options.weightColumns !== undefined) {
    for (const w of options.weightColumns) {
      const hit = matchName(w, raw.header) ?? raw.header.find((h) => WEIGHT_COLUMN.exec(h)?.[1] === w);
      if (hit === undefined) throw new InputError(`${raw.source}: no weight column "${w}"${didYouMean(w, raw.header)}`);
      weightIdx.push(raw.header.indexOf(hit));
      models.push(w);
    }
  } else {
    raw.header.forEach((h, j) => {
      const m = WEIGHT_COLUMN.exec(h);
      if (m) {
        weightIdx.push(j);
        models.push(m[1]);
      }
    });
  }
  if (models.length === 0)
    throw new InputError(`${raw.source}: no weight columns; name them "weight: <model>" (as SoupLab's grid index does) or list them`);

  const idName = options.idColumn !== undefined ? matchName(options.idColumn, raw.header) : raw.header.find((h) => ID_COLUMN.test(h.trim()));
  if (options.idColumn !== undefined && idName === undefined)
    throw new InputError(`${raw.source}: no column "${options.idColumn}"${didYouMean(options.idColumn, raw.header)}`);
  const idIdx = idName === undefined ? -1 : raw.header.indexOf(idName);

  const trials: Trial[] = [];
  const scoreRows: RawCell[][] = [];
  const scoreLines: number[] = [];
  const seen = new Set<string>();
  raw.rows.forEach((row, i) => {
    const line = raw.rowLines[i];
    let id = idIdx >= 0 ? cellText(row[idIdx]) : '';
    if (id === '') id = `trial ${i + 1}`;
    if (seen.has(id)) {
      problems.push({ severity: 'warning', row: line, message: `${raw.source}: trial "${id}" appears again at row ${line}; ignored` });
      return;
    }
    const weights = weightIdx.map((j) => {
      const p = parseCell(row[j]);
      if (p.kind === 'number') {
        if (p.value < 0) problems.push({ severity: 'warning', row: line, message: `${raw.source}: trial "${id}" has a negative weight ${p.value} for "${raw.header[j]}"` });
        return p.value;
      }
      if (p.kind === 'text')
        problems.push({ severity: 'warning', row: line, message: `${raw.source}: trial "${id}", "${raw.header[j]}": "${p.text}" is not a weight; read as 0` });
      return 0;
    });
    const total = weights.reduce((s, w) => s + w, 0);
    if (!(total > 0)) {
      problems.push({ severity: 'warning', row: line, message: `${raw.source}: trial "${id}" has no positive weight; skipped` });
      return;
    }
    seen.add(id);
    const normalized = weights.map((w) => w / total);
    const coalition = normalized.flatMap((w, j) => (w > 1e-9 ? [j] : []));
    const uniform = coalition.every((j) => Math.abs(normalized[j] - 1 / coalition.length) <= UNIFORM_TOLERANCE);
    trials.push({ id, weights, normalized, coalition, uniform });
    scoreRows.push([id, ...row.filter((_, j) => j !== idIdx && !weightIdx.includes(j))]);
    scoreLines.push(line);
  });
  if (trials.length === 0) throw new InputError(`${raw.source}: no trials with weights`);
  const scoreHeader = ['trial', ...raw.header.filter((_, j) => j !== idIdx && !weightIdx.includes(j))];
  const scores = buildScoreTable(
    [{ source: raw.source, header: scoreHeader, rows: scoreRows, rowLines: scoreLines, problems: [], modelColumn: 'trial' }],
    { categories: options.categories, exclude: ['kind', ...(options.exclude ?? [])], detectDerived: options.detectDerived },
  );
  problems.push(...scores.problems);
  return { source: raw.source, models, trials, scores, problems };
}

/** What trials are ranked by: the sum of some score columns (default: every category), or one column. */
export interface Objective {
  /** Sum of these columns; default: the trial table's categories. A single aggregate ("Overall Acc") works too. */
  columns?: string[];
}

/** The objective of every trial (aligned with trials); null where a score is missing. */
export function objectiveValues(table: TrialTable, objective: Objective = {}): { columns: string[]; values: (number | null)[] } {
  const names = table.scores.columns.map((c) => c.name);
  const columns = (objective.columns ?? table.scores.categories).map((c) => {
    const hit = matchName(c, names);
    if (hit === undefined) throw new InputError(`objective: no score column "${c}"${didYouMean(c, names)}; have ${listNames(names)}`);
    return hit;
  });
  if (columns.length === 0) throw new InputError('objective: the trials table has no score columns');
  const cols = columns.map((c) => table.scores.columns.find((x) => x.name === c)!.values);
  const values = table.trials.map((t) => {
    const row = table.scores.models.indexOf(t.id);
    let s = 0;
    for (const col of cols) {
      const v = col[row];
      if (v === null || v === undefined) return null;
      s += v;
    }
    return s;
  });
  return { columns, values };
}

export interface RankedTrial {
  id: string;
  weights: number[];
  normalized: number[];
  objective: number | null;
  /** 1 for the best; ties share a rank. Trials without an objective have rank null. */
  rank: number | null;
}

export interface TrialRanking {
  objectiveColumns: string[];
  /** Best first; trials with a missing score last. */
  ranked: RankedTrial[];
  best: RankedTrial | null;
  /** Baselines found among the trials (null when not evaluated). */
  baselines: {
    /** The best one-model "soup" (weight on a single model). */
    bestSingle: (RankedTrial & { model: string }) | null;
    /** Uniform soup of all candidates. */
    uniformAll: RankedTrial | null;
    /** Uniform soup of the experts. */
    uniformExperts: RankedTrial | null;
    /**
     * The best candidate by the same objective in the score table given as `scores` (the leaderboard
     * the analysis read), for when single models were not re-evaluated as trials. Null without it.
     */
    bestSingleInScores: { model: string; objective: number } | null;
  };
  problems: string[];
}

export interface RankOptions {
  objective?: Objective;
  /** Who "all candidates" are (default: every weight column). */
  candidates?: string[];
  /** The expert set, for the uniform-experts baseline. */
  experts?: string[];
  /** The score table of the single models; its columns named like the objective's give bestSingleInScores. */
  scores?: ScoreTable;
}

function coalitionOf(table: TrialTable, names: string[], what: string): number[] {
  return names
    .map((n) => {
      const hit = matchName(n, table.models);
      if (hit === undefined) throw new InputError(`${what}: "${n}" has no weight column in the trials${didYouMean(n, table.models)}`);
      return table.models.indexOf(hit);
    })
    .sort((a, b) => a - b);
}

const sameSet = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Ranks trials by the objective and finds the baselines among them. */
export function rankTrials(table: TrialTable, options: RankOptions = {}): TrialRanking {
  const { columns, values } = objectiveValues(table, options.objective);
  const problems: string[] = [];
  const items: RankedTrial[] = table.trials.map((t, i) => ({ id: t.id, weights: t.weights, normalized: t.normalized, objective: values[i], rank: null }));
  items.forEach((it) => {
    if (it.objective === null) problems.push(`trial "${it.id}" lacks a score in ${listNames(columns)}: not ranked`);
  });
  const ranked = [...items].sort((a, b) => (b.objective ?? -Infinity) - (a.objective ?? -Infinity));
  ranked.forEach((it, i) => {
    if (it.objective === null) return;
    // Sums of the same scores in another order can differ in the last bit: those are ties too.
    const prev = i > 0 ? ranked[i - 1].objective : null;
    const tie = prev !== null && Math.abs(prev - it.objective) <= 1e-9 * Math.max(1, Math.abs(it.objective));
    it.rank = tie ? ranked[i - 1].rank : i + 1;
  });
  const byId = new Map(items.map((it) => [it.id, it]));
  const withObjective = (t: Trial): RankedTrial | null => {
    const it = byId.get(t.id)!;
    return it.objective === null ? null : it;
  };
  const bestOf = (pred: (t: Trial) => boolean): RankedTrial | null => {
    let best: RankedTrial | null = null;
    for (const t of table.trials) {
      if (!pred(t)) continue;
      const it = withObjective(t);
      if (it && (best === null || it.objective! > best.objective!)) best = it;
    }
    return best;
  };
  const single = bestOf((t) => t.coalition.length === 1);
  const all = coalitionOf(table, options.candidates ?? table.models, 'candidates');
  const uniformAll = bestOf((t) => t.uniform && sameSet(t.coalition, all));
  const experts = options.experts ? coalitionOf(table, options.experts, 'experts') : null;
  const uniformExperts = experts ? bestOf((t) => t.uniform && sameSet(t.coalition, experts)) : null;
  const bestSingle = single ? { ...single, model: table.models[table.trials.find((t) => t.id === single.id)!.coalition[0]] } : null;
  const bestSingleInScores = options.scores ? bestInScores(options.scores, columns, options.candidates ?? table.models, problems) : null;
  return {
    objectiveColumns: columns,
    ranked,
    best: ranked[0]?.objective === null ? null : (ranked[0] ?? null),
    baselines: { bestSingle, uniformAll, uniformExperts, bestSingleInScores },
    problems,
  };
}

function bestInScores(scores: ScoreTable, columns: string[], candidates: string[], problems: string[]): { model: string; objective: number } | null {
  const names = scores.columns.map((c) => c.name);
  const cols = columns.map((c) => matchName(c, names));
  const absent = columns.filter((_, i) => cols[i] === undefined);
  if (absent.length > 0) {
    problems.push(`the score table has no column ${listNames(absent)}: no best single model from it`);
    return null;
  }
  const values = cols.map((c) => scores.columns.find((x) => x.name === c)!.values);
  let best: { model: string; objective: number } | null = null;
  const wanted = new Set(candidates.map((c) => matchName(c, scores.models)).filter((m) => m !== undefined));
  // Table order, so that a tie goes to the first in the table, as for experts.
  for (const [row, model] of scores.models.entries()) {
    if (!wanted.has(model)) continue;
    let sum = 0;
    let complete = true;
    for (const v of values) {
      const x = v[row];
      if (x === null) complete = false;
      else sum += x;
    }
    if (complete && (best === null || sum > best.objective)) best = { model, objective: sum };
  }
  return best;
}

export interface ShapleyOptions {
  objective?: Objective;
  /** Players (default: every weight column). Trials using other models are ignored. */
  players?: string[];
  /**
   * Value of the empty coalition (default 0: "no model scores nothing"). Give the base model's score
   * to measure what each fine-tune adds over it.
   */
  emptyValue?: number;
}

export interface ShapleyResult {
  players: string[];
  /** φ per player (aligned with players); null when coalitions are missing. */
  values: (number | null)[];
  exact: boolean;
  /** Coalitions (uniform soups) that were not evaluated; empty when exact. */
  missing: string[][];
  /** Each coalition's value (mean of its trials' objectives) and the trials it came from. */
  coalitions: { members: string[]; value: number; trials: string[] }[];
  emptyValue: number;
  objectiveColumns: string[];
  problems: string[];
}

/**
 * Shapley value of each ingredient, where a coalition's value is the objective of the uniform soup of
 * its members (its one-model "soup" for a single player). Exact when all 2ⁿ − 1 non-empty coalitions
 * were evaluated; otherwise the missing ones are listed and no values are given.
 */
export function shapleyFromTrials(table: TrialTable, options: ShapleyOptions = {}): ShapleyResult {
  const { columns, values } = objectiveValues(table, options.objective);
  const players = coalitionOf(table, options.players ?? table.models, 'players');
  const n = players.length;
  const emptyValue = options.emptyValue ?? 0;
  const problems: string[] = [];
  const collected = new Map<number, { sum: number; count: number; seen: Set<number>; trials: string[] }>();
  table.trials.forEach((t, i) => {
    if (!t.uniform || values[i] === null) return;
    let mask = 0;
    for (const m of t.coalition) {
      const p = players.indexOf(m);
      if (p < 0) return;
      mask |= 1 << p;
    }
    const c = collected.get(mask) ?? { sum: 0, count: 0, seen: new Set<number>(), trials: [] };
    c.sum += values[i]!;
    c.count++;
    c.seen.add(values[i]!);
    c.trials.push(t.id);
    collected.set(mask, c);
  });
  const names = (mask: number): string[] => players.flatMap((m, p) => (mask & (1 << p) ? [table.models[m]] : []));
  for (const [mask, c] of collected)
    if (c.seen.size > 1) problems.push(`coalition {${names(mask).join(', ')}} was evaluated ${c.count} times with different scores; their mean is used`);
  const { values: phi, missing } = shapleyExact(n, (mask) => {
    if (mask === 0) return emptyValue;
    const c = collected.get(mask);
    return c ? c.sum / c.count : undefined;
  });
  return {
    players: players.map((m) => table.models[m]),
    values: phi ?? players.map(() => null),
    exact: phi !== null,
    missing: missing.map(names),
    coalitions: [...collected.entries()].sort((a, b) => a[0] - b[0]).map(([mask, c]) => ({ members: names(mask), value: c.sum / c.count, trials: c.trials })),
    emptyValue,
    objectiveColumns: columns,
    problems,
  };
}
