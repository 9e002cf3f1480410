/** Numbers for people: 1,234 · 106.8 K · 217 KB · 1.2 GB (decimal units, as Hugging Face counts). */

export const formatInt = (n: number): string => Math.round(n).toLocaleString('en');

export { formatBytes } from '../../util/bytes';
export { formatCount } from '../../util/count';

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A weight as typed: up to 4 decimals, no trailing zeros. */
/** A weight for people: at most 4 significant digits (1/3 → 0.3333, 12.3456 → 12.35); the full value is kept, not this. */
export const formatWeight = (w: number): string => (Number.isFinite(w) ? String(Number(w.toPrecision(4))) : String(w));
