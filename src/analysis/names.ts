/** Finds `name` in `options`: exact, else the one case/space-insensitive match; undefined otherwise. */
export function matchName(name: string, options: readonly string[]): string | undefined {
  if (options.includes(name)) return name;
  const norm = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();
  const hits = options.filter((o) => norm(o) === norm(name));
  return hits.length === 1 ? hits[0] : undefined;
}

/** ` (did you mean "x"?)` for the closest option, or '' when nothing is close. */
export function didYouMean(name: string, options: readonly string[]): string {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const o of options) {
    const ol = o.toLowerCase();
    const score = ol.includes(lower) || lower.includes(ol) ? 0.5 : editDistance(lower, ol);
    if (score < bestScore) {
      bestScore = score;
      best = o;
    }
  }
  if (best === undefined || bestScore > Math.max(2, name.length / 3)) return '';
  return ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** "a", "b" and 3 more — for messages listing names. */
export function listNames(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).map((n) => `"${n}"`);
  return names.length > max ? `${shown.join(', ')} and ${names.length - max} more` : shown.join(', ');
}
