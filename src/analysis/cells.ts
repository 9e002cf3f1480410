import type { RawCell } from './rawTable';

/** Cells that mean "no score" on leaderboards: N/A, -, empty… Not reported as problems. */
const MISSING = new Set(['', 'n/a', 'na', 'nan', 'null', 'none', '-', '—', '–', '?', 'n.a.', 'missing']);

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

export type ParsedCell = { kind: 'number'; value: number } | { kind: 'missing' } | { kind: 'text'; text: string };

/**
 * A score cell: a number, `78.25%` (read as 78.25: percent strings keep the scale they are written
 * in), or a missing marker. Anything else is text.
 */
export function parseCell(cell: RawCell): ParsedCell {
  const v = cellValue(cell);
  if (typeof v === 'number') return { kind: 'number', value: v };
  if (v === null) return { kind: 'missing' };
  return { kind: 'text', text: v };
}

/**
 * The same reading without allocating: a number, null for missing, or the trimmed text. Tables have
 * hundreds of thousands of cells.
 */
export function cellValue(cell: RawCell, decimalComma = false): number | null | string {
  if (cell === null) return null;
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : null;
  if (typeof cell === 'boolean') return String(cell);
  const trimmed = cell.trim();
  let s = trimmed;
  if (s.endsWith('%')) s = s.slice(0, -1).trim();
  if (NUMBER.test(s)) return Number(s);
  if (decimalComma && DECIMAL_COMMA.test(s)) return Number(s.replace(',', '.'));
  if (MISSING.has(trimmed.toLowerCase())) return null;
  return trimmed;
}

/**
 * Words leaderboards write where a fact is not known (the Open LLM Leaderboard's base model "Removed"):
 * in a text column of facts (base model, architecture, license) they are missing values, never a value
 * that models share.
 */
const PLACEHOLDER_TEXT = new Set([...MISSING, 'removed', 'unknown', 'deleted', 'not available', 'not specified', 'unspecified']);

/** Text of a cell for a fact about a model: trimmed; '' when empty or a placeholder ("Removed", "unknown", "-"…). */
export function factText(cell: RawCell): string {
  const text = cellText(cell);
  return PLACEHOLDER_TEXT.has(text.toLowerCase()) ? '' : text;
}

/** Text of a cell for names (model names, ids): trimmed; null and empty are ''. */
export function cellText(cell: RawCell): string {
  if (cell === null) return '';
  return String(cell).trim();
}
