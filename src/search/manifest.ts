/**
 * What a search was made of — the models, the task files and their hashes, the metric and the split —
 * which must be the same for stored trials to be reused. The CLI keeps it in search.json beside its
 * trials; the studio keys its stored searches by it.
 */
export interface SearchManifest {
  souplab: 'search';
  models: { name: string; path: string }[];
  tasks: { name: string; sha256: string }[];
  metric: string;
  splitSeed: number;
  tuneShare: number;
  /** The output vocabulary the models' rows were aligned to (union, base or a model's name); absent: none. */
  tokenizerSource?: string;
  /** Or mergekit's tokenizer: block they were aligned by, as plain YAML data (models by name); absent: none. */
  tokenizer?: Record<string, unknown>;
}

/** How two manifests differ, in words; null when the trials of one may be reused by the other. */
export function manifestDifference(a: SearchManifest, b: SearchManifest): string | null {
  const names = (m: SearchManifest) => m.models.map((x) => x.name).join(', ');
  if (names(a) !== names(b)) return `other models (${names(a)})`;
  const tasks = (m: SearchManifest) => m.tasks.map((t) => `${t.name}:${t.sha256}`).join(',');
  if (tasks(a) !== tasks(b)) return `other task files, or task files changed since (${a.tasks.map((t) => t.name).join(', ')})`;
  if (a.metric !== b.metric) return `metric ${a.metric}`;
  if (a.splitSeed !== b.splitSeed || a.tuneShare !== b.tuneShare) return `split seed ${a.splitSeed}, tune share ${a.tuneShare}`;
  const vocabulary = (m: SearchManifest) =>
    m.tokenizer !== undefined ? `tokenizer block ${JSON.stringify(m.tokenizer)}` : m.tokenizerSource !== undefined ? `tokenizer source ${m.tokenizerSource}` : 'no tokenizer source';
  if (vocabulary(a) !== vocabulary(b)) return vocabulary(a);
  return null;
}

/** SHA-256 of a text, in hex (Web Crypto: browsers, workers and Node alike). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A search's identity: the hash of its manifest, every field in a fixed order. The same models (by
 * name and identity), the same task texts, metric and split give the same id — the trials stored
 * under it are reused, whatever the plan (a point is known by its weights).
 */
export async function searchIdOf(m: SearchManifest): Promise<string> {
  // A tokenizer source or block joins the list only when set: the ids of searches without one stay as they were.
  const canonical = JSON.stringify([
    m.souplab, m.models.map((x) => [x.name, x.path]), m.tasks.map((t) => [t.name, t.sha256]), m.metric, m.splitSeed, m.tuneShare,
    ...(m.tokenizerSource === undefined ? [] : [m.tokenizerSource]),
    ...(m.tokenizer === undefined ? [] : [{ tokenizer: m.tokenizer }]),
  ]);
  return (await sha256Hex(canonical)).slice(0, 32);
}
