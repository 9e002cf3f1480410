/**
 * Byte counts for people, in decimal units as Hugging Face counts them: 999 B · 1.00 KB · 217 KB ·
 * 1.20 GB. Three significant digits from 1 KB up (two decimals below 10, one below 100); TB is the
 * largest unit. The one formatter of the CLI and the studio.
 */
const UNITS = ['KB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  let v = n;
  let u = -1;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[u]}`;
}
