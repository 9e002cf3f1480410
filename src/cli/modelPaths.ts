/** `--models "name=path;…"`: the checkpoints a command merges or searches over, by name (grid, search). */
import { UsageError } from './io';

/** "name=path;name=path" → ordered pairs (the first '=' separates; paths may hold '='). */
export function parseModelPaths(value: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const part of value.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(eq + 1).trim() === '')
      throw new UsageError(`--models: "${part.trim()}" should be name=path, e.g. "xLAM-2-70b-fc-r (FC)=/ckpt/xlam-70b"`);
    const name = part.slice(0, eq).trim();
    if (out.some((o) => o.name === name)) throw new UsageError(`--models: "${name}" is given twice`);
    out.push({ name, path: part.slice(eq + 1).trim() });
  }
  if (out.length === 0) throw new UsageError('--models is empty');
  return out;
}
