import type { ScoreTable } from '../../analysis';
import { isOpenWeightLicense } from '../../analysis/lineage';
import { matchExperts } from '../../analysis/names';

/** The candidates a table starts with when the user has chosen none, and why, for the page to say. */
export interface DefaultCandidates {
  models: string[];
  why: string;
}

/**
 * Candidates one can soup: the table's models whose checkpoints are loaded (matched by name, as the
 * Ingredients view matches experts), else the rows its license column marks open-weight; null (every
 * model) when the table says neither. Closed API models are not candidates: nobody can download them.
 */
export function defaultCandidates(table: ScoreTable, checkpoints: readonly string[]): DefaultCandidates | null {
  if (checkpoints.length > 0) {
    const matched = matchExperts(table.models, [...checkpoints]);
    const loaded = table.models.filter((_, i) => matched[i] !== undefined);
    if (loaded.length >= 2) return { models: loaded, why: `the ${loaded.length} models whose checkpoints are loaded in Ingredients (matched by name)` };
  }
  const license = table.lineage.license;
  if (license) {
    const open = table.models.filter((_, i) => isOpenWeightLicense(license.values[i] ?? ''));
    if (open.length >= 1 && open.length < table.models.length)
      return { models: open, why: `the ${open.length} open-weight models (the "${license.column}" column names a license that is not proprietary)` };
  }
  return null;
}

/**
 * Base model per model, for grouping candidates: the table's base-model column (Open LLM Leaderboard:
 * "Base Model"), else its architecture column; null when it has neither. The engine finds the columns.
 */
export function baseModelsOf(table: ScoreTable): { column: string; byModel: Map<string, string> } | null {
  const source = table.lineage.baseModel ?? table.lineage.architecture;
  if (!source) return null;
  return { column: source.column, byModel: new Map(table.models.map((m, i) => [m, source.values[i]])) };
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

/** The same names in the same order. */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
