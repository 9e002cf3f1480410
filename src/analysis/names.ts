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

/*
 * Matching model names across sources: a score table ("xLAM-2-70b-fc-r (FC)"), checkpoints
 * ("demo-xLAM-2-70b-fc-r", "Llama-xLAM-2-70b-fc-r.safetensors", "Salesforce/xLAM-2-70b-fc-r") and a trials
 * table's weight columns. The studio and the CLI use this one matching wherever a name from one source
 * is looked up in another, so that what the Ingredients view matches, Trials and `souplab search` match too.
 */

/** Lower case, letters and digits only; without a path, ".safetensors", "(FC)"-style suffixes or a "demo-" prefix. */
export function normaliseModelName(name: string): string {
  let s = name.trim();
  const parts = s.split(/[\\/]+/).filter((p) => p !== '');
  s = parts[parts.length - 1] ?? s;
  s = s.replace(/\.safetensors$/i, '');
  s = s.replace(/\s*\([^)]*\)\s*$/g, '');
  s = s.replace(/^demo[-_ ]+/i, '');
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

/**
 * For each expert, the checkpoint it names: the one whose normalised name is equal, else the only one
 * whose normalised name contains the expert's or is contained in it. A checkpoint serves one expert.
 */
export function matchExperts(experts: string[], checkpoints: string[]): (string | undefined)[] {
  const norm = checkpoints.map(normaliseModelName);
  const taken = new Set<number>();
  const result: (string | undefined)[] = experts.map(() => undefined);
  const pass = (accept: (e: string, c: string) => boolean) => {
    experts.forEach((expert, i) => {
      if (result[i] !== undefined) return;
      const e = normaliseModelName(expert);
      if (e === '') return;
      const hits = norm.map((c, k) => k).filter((k) => !taken.has(k) && norm[k] !== '' && accept(e, norm[k]));
      if (hits.length === 1) {
        result[i] = checkpoints[hits[0]];
        taken.add(hits[0]);
      }
    });
  };
  pass((e, c) => e === c);
  pass((e, c) => c.includes(e) || e.includes(c));
  return result;
}
