/**
 * Matching model names from a score table ("xLAM-2-70b-fc-r (FC)") to checkpoint names
 * ("demo-xLAM-2-70b-fc-r", "Llama-xLAM-2-70b-fc-r.safetensors", "Salesforce/xLAM-2-70b-fc-r").
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

/** A display name for a dropped file: its name without ".safetensors". */
export function ingredientNameOf(fileOrFolder: string): string {
  return fileOrFolder.replace(/\.safetensors$/i, '');
}

/** `name`, or "name (2)", "name (3)"… so that no two ingredients share a name (recipes refer to them by it). */
export function uniqueName(name: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(name)) return name;
  for (let k = 2; ; k++) if (!used.has(`${name} (${k})`)) return `${name} (${k})`;
}
