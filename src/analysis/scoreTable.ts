import { InputError } from '../errors';
import { AGGREGATE_NAME, AGGREGATE_SUFFIX, METADATA_NAME, findDerivedColumns, toFloat64 } from './aggregates';
import { cellText, cellValue, factText, parseCell } from './cells';
import { didYouMean, listNames, matchName } from './names';
import { AGAINST_OVERALL, correlationWith, findTwins, lowerIsBetterName, sparseColumns } from './columnRoles';
import { ARCHITECTURE_COLUMN, BASE_MODEL_COLUMN, LICENSE_COLUMN, PARAMS_COLUMN, type Lineage } from './lineage';
import type { RawCell, RawTable, TableProblem } from './rawTable';

/**
 * The role of a numeric column. Only 'category' columns are analysed unless the user says otherwise.
 * 'lower-is-better', 'sparse' and 'twin' are results left out by default (see columnRoles.ts).
 */
export type ColumnKind = 'category' | 'aggregate' | 'metadata' | 'lower-is-better' | 'sparse' | 'twin';

/** Kinds of results that are not categories by default but may be chosen: the user should hear about each. */
export const SET_ASIDE_KINDS: readonly ColumnKind[] = ['lower-is-better', 'sparse', 'twin'];

/** A numeric column of a score table. */
export interface ScoreColumn {
  name: string;
  kind: ColumnKind;
  /** Why it got its kind, for the user ("name says aggregate", "weighted mean of …", "--categories"). */
  reason: string;
  /** One score per model (aligned with ScoreTable.models); null where missing or unreadable. */
  values: (number | null)[];
}

/** One row per model, numeric columns classified. Environment-neutral and JSON-serialisable. */
export interface ScoreTable {
  /** File name(s) it was read from. */
  source: string;
  /** The column the model names came from. */
  modelColumn: string;
  /** Model names in table order (unique). */
  models: string[];
  /** Every numeric column, in table order. */
  columns: ScoreColumn[];
  /** The columns analysed: detected categories in table order, or the user's list in its order. */
  categories: string[];
  /** Columns recognised as aggregates (usable as objectives). */
  aggregates: string[];
  /** Non-numeric columns other than the model column (links, organisations…). */
  textColumns: string[];
  /** Everything skipped, doubtful or decided on the user's behalf. */
  problems: TableProblem[];
  /** Base model, architecture and size per model, where the table has such columns. */
  lineage: Lineage;
}

export interface ScoreTableOptions {
  /** The column naming models; detected when absent ("Model", "name", … or the first text column). */
  modelColumn?: string;
  /** Exactly these columns are the categories, in this order (any numeric column, aggregates too). */
  categories?: string[];
  /** Columns that are never categories, on top of the detected aggregates and metadata. */
  exclude?: string[];
  /** Whether to look for columns that are weighted means of others (default true). */
  detectDerived?: boolean;
}

const MODEL_NAME = /^(model|models|model[ _-]?name|model[ _-]?id|name|checkpoint|pretrained|model[ _-]?path)$/i;
const MAX_CELL_PROBLEMS_PER_COLUMN = 10;

/** Which column holds model names: the option, a column called "Model"/"name"/…, or the first text column. */
export function detectModelColumn(raw: RawTable, override?: string): string {
  if (override !== undefined) {
    const hit = matchName(override, raw.header);
    if (hit === undefined)
      throw new InputError(
        `${raw.source}: no column "${override}"${didYouMean(override, raw.header)}; the columns are ${listNames(raw.header, 12)}`,
      );
    return hit;
  }
  if (raw.modelColumn !== undefined) return raw.modelColumn;
  const named = raw.header.find((h) => MODEL_NAME.test(h.trim()));
  if (named !== undefined) return named;
  for (let j = 0; j < raw.header.length; j++) {
    let text = 0;
    let numbers = 0;
    for (const row of raw.rows) {
      const p = parseCell(row[j]);
      if (p.kind === 'text') text++;
      else if (p.kind === 'number') numbers++;
    }
    if (text > 0 && text >= numbers) return raw.header[j];
  }
  throw new InputError(`${raw.source}: cannot tell which column names the models; give it with --model-column`);
}

interface RowsByModel {
  order: string[];
  /** Model → index of its row in raw.rows. */
  rowOf: Map<string, number>;
}

/** Rows of one file keyed by model; rows without a name and repeated names are reported. */
function collectRows(raw: RawTable, modelColumn: string, problems: TableProblem[]): RowsByModel {
  const m = raw.header.indexOf(modelColumn);
  const out: RowsByModel = { order: [], rowOf: new Map() };
  raw.rows.forEach((row, i) => {
    const line = raw.rowLines[i];
    const name = cellText(row[m]);
    if (name === '') {
      if (row.some((c, j) => j !== m && cellText(c) !== ''))
        problems.push({ severity: 'warning', code: 'unnamed-row', row: line, message: `${raw.source}: row ${line} has no model name in "${modelColumn}"; skipped` });
      return;
    }
    const first = out.rowOf.get(name);
    if (first !== undefined) {
      problems.push({
        severity: 'warning',
        code: 'repeated-model',
        row: line,
        message: `${raw.source}: model "${name}" appears again at row ${line}; kept the first (row ${raw.rowLines[first]}), ignored this one`,
      });
      return;
    }
    out.order.push(name);
    out.rowOf.set(name, i);
  });
  return out;
}

/**
 * Builds one score table from one or more raw tables, joined on the model name. Column names that
 * several files share are qualified with the file's name ("data_live: Irrelevance Detection"), since
 * the same name in two leaderboards rarely means the same measurement.
 */
export function buildScoreTable(raws: RawTable[], options: ScoreTableOptions = {}): ScoreTable {
  if (raws.length === 0) throw new InputError('no score table given');
  const problems: TableProblem[] = raws.flatMap((r) => r.problems);
  const source = raws.map((r) => r.source).join(', ');
  const perFile = raws.map((raw) => {
    const modelColumn = detectModelColumn(raw, options.modelColumn);
    return { raw, modelColumn, rows: collectRows(raw, modelColumn, problems) };
  });

  const columnFiles = new Map<string, number>();
  for (const f of perFile)
    for (const h of f.raw.header) if (h !== f.modelColumn) columnFiles.set(h, (columnFiles.get(h) ?? 0) + 1);
  const qualify = (raw: RawTable, h: string): string =>
    raws.length > 1 && (columnFiles.get(h) ?? 0) > 1 ? `${stem(raw.source)}: ${h}` : h;

  const models: string[] = [];
  const modelIndex = new Map<string, number>();
  for (const f of perFile)
    for (const name of f.rows.order)
      if (!modelIndex.has(name)) {
        modelIndex.set(name, models.length);
        models.push(name);
      }

  const header: string[] = [];
  const cellsByColumn = new Map<string, RawCell[]>();
  const hints = new Map<string, { kind: 'category' | 'aggregate'; reason: string }>();
  const decimalComma = new Set<string>();
  for (const f of perFile) {
    // Where each of the file's rows lands in the joined table, computed once per file.
    const target = Int32Array.from(f.rows.order, (model) => modelIndex.get(model)!);
    const source = Int32Array.from(f.rows.order, (model) => f.rows.rowOf.get(model)!);
    for (const [j, h] of f.raw.header.entries()) {
      if (h === f.modelColumn) continue;
      const name = qualify(f.raw, h);
      if (cellsByColumn.has(name)) {
        problems.push({ severity: 'warning', column: name, message: `${f.raw.source}: column "${h}" appears twice; kept the first` });
        continue;
      }
      if (f.raw.decimalComma) decimalComma.add(name);
      const hint = f.raw.columnHints?.[h];
      if (hint) hints.set(name, hint);
      header.push(name);
      const cells = new Array<RawCell>(models.length).fill(null);
      for (let k = 0; k < target.length; k++) cells[target[k]] = f.raw.rows[source[k]][j] ?? null;
      cellsByColumn.set(name, cells);
    }
  }

  // Numeric or text: a column is numeric when numbers are at least as common as other text.
  const numeric: { name: string; values: (number | null)[] }[] = [];
  const textColumns: string[] = [];
  for (const name of header) {
    const cells = cellsByColumn.get(name)!;
    const values = new Array<number | null>(cells.length);
    let numbers = 0;
    const bad: { i: number; text: string }[] = [];
    const comma = decimalComma.has(name);
    for (let i = 0; i < cells.length; i++) {
      const v = cellValue(cells[i], comma);
      if (typeof v === 'number') {
        values[i] = v;
        numbers++;
      } else {
        values[i] = null;
        if (v !== null) bad.push({ i, text: v });
      }
    }
    if (numbers === 0 || bad.length > numbers) {
      textColumns.push(name);
      const commaDecimals = bad.filter((b) => /^[+-]?\d+,\d+%?$/.test(b.text)).length;
      problems.push({
        severity: commaDecimals > 0 ? 'warning' : 'info',
        column: name,
        message:
          commaDecimals > 0
            ? `${source}: column "${name}" has numbers with decimal commas ("${bad.find((b) => /,/.test(b.text))!.text}"); they are not read as scores — export with decimal points`
            : `column "${name}" holds text; not a score`,
      });
      continue;
    }
    bad.slice(0, MAX_CELL_PROBLEMS_PER_COLUMN).forEach(({ i, text }) =>
      problems.push({
        severity: 'warning',
        code: 'not-a-number',
        column: name,
        message: `${source}: model "${models[i]}", column "${name}": "${text}" is not a number; treated as missing`,
      }),
    );
    if (bad.length > MAX_CELL_PROBLEMS_PER_COLUMN)
      problems.push({
        severity: 'warning',
        code: 'not-a-number',
        column: name,
        message: `${source}: column "${name}": ${bad.length - MAX_CELL_PROBLEMS_PER_COLUMN} more cells are not numbers; treated as missing`,
      });
    numeric.push({ name, values });
  }

  const columns = classifyColumns(numeric, hints, options, problems);
  let categories = columns.filter((c) => c.kind === 'category').map((c) => c.name);
  if (options.categories !== undefined) categories = resolveCategories(options.categories, columns, textColumns, source);
  for (const c of columns) {
    if (!categories.includes(c.name)) continue;
    const present = c.values.filter((v) => v !== null).length;
    if (present === 0)
      problems.push({ severity: 'warning', column: c.name, message: `${source}: category "${c.name}" has no scores at all` });
  }
  return {
    source,
    modelColumn: perFile[0].modelColumn,
    models,
    columns,
    categories,
    aggregates: columns.filter((c) => c.kind === 'aggregate').map((c) => c.name),
    textColumns,
    problems,
    lineage: lineageOf(columns, textColumns, cellsByColumn),
  };
}

/** The base-model, architecture and size columns, when the table has them (first match of each). */
function lineageOf(columns: ScoreColumn[], textColumns: string[], cellsByColumn: Map<string, RawCell[]>): Lineage {
  const lineage: Lineage = {};
  const text = (pattern: RegExp) => {
    const column = textColumns.find((c) => pattern.test(c.trim()));
    return column === undefined ? undefined : { column, values: cellsByColumn.get(column)!.map(factText) };
  };
  const baseModel = text(BASE_MODEL_COLUMN);
  if (baseModel) lineage.baseModel = baseModel;
  const architecture = text(ARCHITECTURE_COLUMN);
  if (architecture) lineage.architecture = architecture;
  const license = text(LICENSE_COLUMN);
  if (license) lineage.license = license;
  const params = columns.find((c) => PARAMS_COLUMN.test(c.name.trim()));
  if (params) lineage.params = { column: params.name, values: params.values };
  return lineage;
}

function classifyColumns(
  numeric: { name: string; values: (number | null)[] }[],
  hints: Map<string, { kind: 'category' | 'aggregate'; reason: string }>,
  options: ScoreTableOptions,
  problems: TableProblem[],
): ScoreColumn[] {
  const exclude = new Set(options.exclude ?? []);
  const columns: ScoreColumn[] = numeric.map(({ name, values }) => {
    const hint = hints.get(name);
    if (hint) return { name, values, ...hint };
    if (exclude.has(name)) return { name, values, kind: 'metadata', reason: 'excluded by the user' };
    if (METADATA_NAME.test(name)) return { name, values, kind: 'metadata', reason: 'name says it is not a score (rank, cost, latency…)' };
    const lower = lowerIsBetterName(name);
    if (lower !== null) return { name, values, kind: 'lower-is-better', reason: lower };
    if (AGGREGATE_NAME.test(name)) return { name, values, kind: 'aggregate', reason: 'name says it summarises others' };
    return { name, values, kind: 'category', reason: 'numeric column' };
  });
  setAsideResults(columns, hints);
  const scoreLike = columns.filter((c) => c.kind !== 'metadata' && !hints.has(c.name));
  const suffixed = scoreLike.filter((c) => c.kind === 'category' && AGGREGATE_SUFFIX.test(c.name));
  const unsuffixed = scoreLike.filter((c) => c.kind === 'category' && !AGGREGATE_SUFFIX.test(c.name));
  if (suffixed.length > 0 && unsuffixed.length >= 2)
    for (const c of suffixed) {
      c.kind = 'aggregate';
      c.reason = 'named "… Acc" among leaf columns that are not';
    }
  if (options.detectDerived !== false) {
    // Set-aside results stay out of the fit: a sparse column would leave too few complete rows.
    const pool = columns.filter((c) => c.kind === 'category' || c.kind === 'aggregate');
    const derived = findDerivedColumns(pool.map((c) => toFloat64(c.values)));
    for (const d of derived) {
      const c = pool[d.column];
      if (c.kind !== 'category' || hints.has(c.name)) continue;
      const total = d.weights.reduce((s, w) => s + w, 0);
      const parts = pool.filter((_, i) => d.weights[i] > 0.01 * total).map((p) => p.name);
      c.kind = 'aggregate';
      c.reason = `a weighted ${Math.abs(total - 1) < 0.02 ? 'mean' : 'sum'} of ${listNames(parts, 4)} (largest difference ${d.maxResidual.toPrecision(2)})`;
    }
  }
  runsAgainstOverall(columns, hints, problems);
  for (const c of columns) {
    if (c.kind === 'category') continue;
    if (SET_ASIDE_KINDS.includes(c.kind))
      problems.push({ severity: 'info', code: 'set-aside', column: c.name, message: `column "${c.name}" is left out of the categories: ${c.reason}; choose it to use it anyway` });
    else problems.push({ severity: 'info', column: c.name, message: `column "${c.name}" is not a category: ${c.kind}, ${c.reason}` });
  }
  return columns;
}

/** Marks sparse columns and twins among the categories (a reader's hints are trusted as they are). */
function setAsideResults(columns: ScoreColumn[], hints: Map<string, unknown>): void {
  const open = columns.filter((c) => c.kind === 'category' && !hints.has(c.name));
  const results = columns.filter((c) => (c.kind === 'category' || c.kind === 'lower-is-better') && !hints.has(c.name));
  const sparse = sparseColumns(results.map((c) => c.values));
  for (const [i, reason] of sparse) {
    const c = results[i];
    if (c.kind === 'category') {
      c.kind = 'sparse';
      c.reason = reason;
    } else c.reason += `; ${reason.replace(/^sparse: /, '')}`;
  }
  const candidates = open.filter((c) => c.kind === 'category');
  for (const t of findTwins(
    candidates.map((c) => c.name),
    candidates.map((c) => c.values),
  )) {
    const c = candidates[t.dropped];
    c.kind = 'twin';
    c.reason = `a twin of "${candidates[t.kept].name}" (the same benchmark in another form${t.rho === null ? '' : `; Spearman ρ ${t.rho.toFixed(3)}`}): kept "${candidates[t.kept].name}"`;
  }
}

/**
 * Direction: a column running strongly against the table's overall score ("Overall Acc", "Average").
 * For a column already set aside that confirms it, and the reason says so. A category stays one:
 * categories that oppose the rest are what SoCE looks for (BFCL's Irrelevance Detection), so the
 * user only gets a note to check which way it runs.
 */
function runsAgainstOverall(columns: ScoreColumn[], hints: Map<string, unknown>, problems: TableProblem[]): void {
  const overall = columns.find((c) => c.kind === 'aggregate' && AGGREGATE_NAME.test(c.name));
  if (!overall) return;
  for (const c of columns) {
    if (hints.has(c.name) || !(c.kind === 'category' || SET_ASIDE_KINDS.includes(c.kind))) continue;
    const rho = correlationWith(c.values, overall.values);
    if (rho === null || rho > AGAINST_OVERALL) continue;
    const against = `runs against "${overall.name}" (ρ ${rho.toFixed(2)})`;
    if (c.kind !== 'category') c.reason += `; it ${against}`;
    else
      problems.push({
        severity: 'info',
        code: 'direction',
        column: c.name,
        message: `category "${c.name}" ${against}: if lower is better there, leave it out (its expert would be the worst model)`,
      });
  }
}

function resolveCategories(wanted: string[], columns: ScoreColumn[], textColumns: string[], source: string): string[] {
  const names = columns.map((c) => c.name);
  const out: string[] = [];
  for (const w of wanted) {
    const hit = matchName(w, names);
    if (hit === undefined) {
      if (matchName(w, textColumns) !== undefined) throw new InputError(`${source}: column "${w}" holds text, not scores`);
      throw new InputError(`${source}: no numeric column "${w}"${didYouMean(w, names)}; the numeric columns are ${listNames(names, 12)}`);
    }
    if (out.includes(hit)) throw new InputError(`category "${hit}" is listed twice`);
    out.push(hit);
    const col = columns.find((c) => c.name === hit)!;
    if (col.kind !== 'category') col.reason += '; used as a category because --categories names it';
  }
  return out;
}

/** "data_live" for "path/to/data_live.csv". */
export function stem(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? source;
  return base.replace(/\.[^.]+$/, '');
}

/** The scores of a column, by name; throws a helpful error for unknown names. */
export function columnValues(table: ScoreTable, name: string): (number | null)[] {
  const col = table.columns.find((c) => c.name === name);
  if (!col) throw new InputError(`no numeric column "${name}"${didYouMean(name, table.columns.map((c) => c.name))}`);
  return col.values;
}

/** A model's score in a column (null when missing or the model/column is unknown). */
export function scoreOf(table: ScoreTable, model: string, column: string): number | null {
  const i = table.models.indexOf(model);
  const col = table.columns.find((c) => c.name === column);
  return i < 0 || !col ? null : col.values[i];
}
