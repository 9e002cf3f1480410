/**
 * Counts for people (parameters, tokens), in the units model cards use: 999 · 1.00 K · 106.8 K ·
 * 70.6 B · 1.20 T. Two decimals below 10 of a unit, one above. The one count formatter of the CLI and
 * the studio, beside formatBytes.
 */
const UNITS: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'B'],
  [1e6, 'M'],
  [1e3, 'K'],
];

export function formatCount(n: number): string {
  for (const [v, u] of UNITS) if (n >= v) return `${(n / v).toFixed(n / v < 10 ? 2 : 1)} ${u}`;
  return String(n);
}
