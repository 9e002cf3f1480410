import type { RawCell } from './rawTable';

/** Cells that mean "no score" on leaderboards: N/A, -, empty… Not reported as problems. */
const MISSING = new Set(['', 'n/a', 'na', 'nan', 'null', 'none', '-', '—', '–', '?', 'n.a.', 'missing']);

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export type ParsedCell = { kind: 'number'; value: number } | { kind: 'missing' } | { kind: 'text'; text: string };

/**
 * A score cell: a number, `78.25%` (read as 78.25: percent strings keep the scale they are written
 * in), or a missing marker. Anything else is text.
 */
export function parseCell(cell: RawCell): ParsedCell {
  if (cell === null) return { kind: 'missing' };
  if (typeof cell === 'number') return Number.isFinite(cell) ? { kind: 'number', value: cell } : { kind: 'missing' };
  if (typeof cell === 'boolean') return { kind: 'text', text: String(cell) };
  let s = cell.trim();
  if (MISSING.has(s.toLowerCase())) return { kind: 'missing' };
  if (s.endsWith('%')) s = s.slice(0, -1).trim();
  if (NUMBER.test(s)) return { kind: 'number', value: Number(s) };
  return { kind: 'text', text: cell.trim() };
}

/** Text of a cell for names (model names, ids): trimmed; null and empty are ''. */
export function cellText(cell: RawCell): string {
  if (cell === null) return '';
  return String(cell).trim();
}
