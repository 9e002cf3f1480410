/** Names of ingredients: display names, unique names, and (from the engine) matching them to score tables. */

// One matching of model names for the whole studio and the CLI (score tables, trials, checkpoints, recipes).
export { matchExperts, normaliseModelName } from '../../analysis/names';

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
