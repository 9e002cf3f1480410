import { readRawTables, type ScoreTable, type TextFile } from '../../analysis';
import { cellText } from '../../analysis/cells';

/** A text column saying which base model a fine-tune comes from (Open LLM Leaderboard: "Base Model"). */
const BASE_MODEL = /^(base[ _-]?model(?:[ _-]?name)?|base|parent[ _-]?model|architecture)$/i;

export function baseModelColumn(table: ScoreTable): string | null {
  return table.textColumns.find((c) => BASE_MODEL.test(c.trim())) ?? null;
}

/**
 * A text column's value per model, read with the engine's own readers (the score table keeps only
 * numeric columns). With several files, the first file holding the column wins.
 */
export function textByModel(files: TextFile[], table: ScoreTable, column: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readRawTables(files)) {
    const m = raw.header.indexOf(table.modelColumn);
    const c = raw.header.indexOf(column);
    if (m < 0 || c < 0) continue;
    for (const row of raw.rows) {
      const model = cellText(row[m]);
      if (model !== '' && !out.has(model)) out.set(model, cellText(row[c]));
    }
  }
  return out;
}

export interface ModelGroup {
  /** The base model; null when the table has no such column. */
  base: string | null;
  models: string[];
}

export const NO_BASE = '(no base model given)';

/** Models grouped by base model in order of first appearance; one group when there is no base column. */
export function groupModels(models: string[], baseOf: Map<string, string> | null): ModelGroup[] {
  if (baseOf === null) return [{ base: null, models }];
  const groups = new Map<string, string[]>();
  for (const m of models) {
    const base = baseOf.get(m) || NO_BASE;
    if (!groups.has(base)) groups.set(base, []);
    groups.get(base)!.push(m);
  }
  return [...groups].map(([base, ms]) => ({ base, models: ms }));
}

/** Case-insensitive: every word of the query occurs in the name. */
export function matchesSearch(name: string, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const lower = name.toLowerCase();
  return words.every((w) => lower.includes(w));
}

/** Toggles members of a selection while keeping `order` (table order) in the result. */
export function toggleIn(selection: readonly string[], names: readonly string[], on: boolean, order: readonly string[]): string[] {
  const set = new Set(selection);
  for (const n of names) {
    if (on) set.add(n);
    else set.delete(n);
  }
  return order.filter((n) => set.has(n));
}
