/**
 * The recipe's tokenizer settings applied to its opened checkpoints, before the plan: each model's
 * vocabulary read from its tokenizer.json, the output vocabulary aligned (alignVocabulary.ts), and
 * checkpoints returned in which every embedding and LM-head tensor that needs it is a virtual tensor
 * with its rows in the output's order (permutedRows.ts) — so the pre-flight sees equal shapes and every
 * method, on every backend, merges the permuted rows as it merges any tensor. The reference model's
 * checkpoint carries the output's tokenizer files and config.json (vocab_size), so a folder export, a
 * GGUF export and an evaluation of the soup all read a tokenizer consistent with the rows written.
 */
import type { Checkpoint, CheckpointTensor } from '../../formats/checkpoint';
import type { ByteSource } from '../../formats/types';
import { InputError } from '../../errors';
import { EMBEDDING_TENSOR, LM_HEAD_TENSOR } from '../preflight';
import type { Recipe } from '../recipeTypes';
import { alignVocabulary, effectiveSpec, listSome, type AlignedVocabulary, type VocabMember } from './alignVocabulary';
import { readModelVocab } from './modelVocab';
import { permutedTensor, type RowTable } from './permutedRows';
import { outputTokenizerFiles } from './tokenizerFiles';

export interface VocabularyResult {
  /** The checkpoints to plan with, by recipe path (virtual tensors where rows move). */
  checkpoints: Map<string, Checkpoint>;
  /** Undefined when nothing was aligned (tokenizer_source: base without the base's tokenizer.json). */
  aligned?: AlignedVocabulary;
  /** One line per model that differs from the base, and one for the output ("+2 tokens: …"). */
  lines: string[];
  notes: string[];
}

/**
 * `refs` are the recipe's models in modelRefsOf order (the base, else the first model, first), with the
 * labels the plan gives them. Returns undefined when the recipe has no tokenizer settings.
 */
export async function prepareVocabulary(
  recipe: Pick<Recipe, 'tokenizerSource' | 'tokenizer' | 'baseModel'>,
  refs: { path: string; label: string }[],
  checkpoints: Map<string, Checkpoint>,
): Promise<VocabularyResult | undefined> {
  const spec = effectiveSpec(recipe);
  if (!spec) return undefined;
  const notes: string[] = [];
  const opened = refs.map((r) => ({ ...r, checkpoint: checkpoints.get(r.path)! }));
  const embeddings = opened.map((g) => {
    const name = [...g.checkpoint.tensors.keys()].find((n) => EMBEDDING_TENSOR.test(n));
    if (name === undefined) throw new InputError(`${g.label}: no embedding tensor (embed_tokens.weight), so its vocabulary cannot be aligned (tokenizer settings of the recipe)`);
    return { name, rows: g.checkpoint.tensors.get(name)!.info.shape[0] };
  });
  const jsons = await Promise.all(opened.map((g) => readTokenizerJson(g.label, g.checkpoint.extraFiles.get('tokenizer.json'))));
  if (jsons[0] === null && spec.source === 'base' && spec.tokens.length === 0 && spec.padToMultipleOf === undefined) {
    // Nothing to align by: the base's rows are the output's, as without the setting.
    return { checkpoints, aligned: undefined, lines: [], notes: [`${opened[0].label} has no tokenizer.json: tokenizer_source base keeps its rows as they are, and the other models' rows are matched by position`] };
  }
  if (jsons[0] === null) {
    throw new InputError(`${opened[0].label}: no tokenizer.json beside the weights; a recipe with tokenizer settings needs the base model's tokenizer.json (add the whole model folder)`);
  }
  const vocabSizes = await Promise.all(opened.map((g) => configVocabSize(g.checkpoint.extraFiles.get('config.json'))));
  const members: VocabMember[] = opened.map((g, i) => {
    const json = jsons[i];
    if (json === null) notes.push(`${g.label} has no tokenizer.json: its vocabulary is taken to be ${opened[0].label}'s (as mergekit does)`);
    const vocab = readModelVocab(g.label, json ?? jsons[0]!, embeddings[i].rows, embeddings[i].name, vocabSizes[i]);
    if (vocab.unused.length > 0) {
      notes.push(`${g.label}: ${vocab.unused.length} token${vocab.unused.length > 1 ? 's' : ''} of tokenizer.json at ids past config.json's vocab_size ${vocabSizes[i]} are unused and left out, as mergekit does: ${listSome(vocab.unused)}`);
    }
    return { path: g.path, vocab };
  });
  const aligned = alignVocabulary(members, 0, spec, recipe.baseModel !== undefined);
  notes.push(...aligned.notes);

  // Every embedding / LM-head tensor name of any model, permuted where the rows move.
  const names = new Set<string>();
  for (const g of opened) for (const n of g.checkpoint.tensors.keys()) if (EMBEDDING_TENSOR.test(n) || LM_HEAD_TENSOR.test(n)) names.add(n);
  const replaced = opened.map(() => new Map<string, CheckpointTensor>());
  for (const name of names) {
    const originals = opened.map((g) => g.checkpoint.tensors.get(name));
    originals.forEach((t, i) => {
      if (t && t.info.shape[0] < members[i].vocab.rows) {
        throw new InputError(`${opened[i].label}: tensor ${name} has ${t.info.shape[0]} rows, fewer than its ${embeddings[i].name}'s ${members[i].vocab.rows}; its vocabulary cannot be aligned`);
      }
    });
    const table: RowTable = { name, originals, aligned };
    originals.forEach((t, i) => {
      if (t && !isIdentity(aligned, i, t)) replaced[i].set(name, permutedTensor(table, i));
    });
  }

  const files = await outputTokenizerFiles(aligned, opened.map((g) => g.checkpoint.extraFiles), jsons, members.map((m) => m.vocab.unused));
  const out = new Map(checkpoints);
  opened.forEach((g, i) => {
    const tensors = new Map(g.checkpoint.tensors);
    for (const [n, t] of replaced[i]) tensors.set(n, t);
    out.set(g.path, { ...g.checkpoint, tensors, extraFiles: i === 0 ? files : g.checkpoint.extraFiles });
  });
  return { checkpoints: out, aligned, lines: vocabularyLines(aligned, members, spec.source), notes };
}

/** config.json's vocab_size, when the file is there and says one. */
async function configVocabSize(source: ByteSource | undefined): Promise<number | undefined> {
  if (!source) return undefined;
  try {
    const v = (JSON.parse(new TextDecoder().decode(await source.read(0, source.size))) as { vocab_size?: unknown }).vocab_size;
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when member `m`'s tensor already has the output's rows in the output's order. */
function isIdentity(aligned: AlignedVocabulary, m: number, t: CheckpointTensor): boolean {
  if (t.info.shape[0] !== aligned.rows || aligned.rows !== aligned.tokens.length || aligned.forced.size > 0) return false;
  const p = aligned.permutations[m];
  for (let i = 0; i < p.length; i++) if (p[i] !== i) return false;
  return true;
}

async function readTokenizerJson(label: string, source: ByteSource | undefined): Promise<Record<string, unknown> | null> {
  if (!source) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(await source.read(0, source.size)));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${label}/tokenizer.json: not valid JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`${label}/tokenizer.json: not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * What the pre-flight says: one line per model whose vocabulary differs from the base's ("chat: +2
 * tokens: <|im_start|>, <|im_end|>"), and one for the output vocabulary and where its new tokens come from.
 */
export function vocabularyLines(aligned: AlignedVocabulary, members: VocabMember[], source: string): string[] {
  const base = members[0].vocab;
  const lines: string[] = [];
  for (const m of members.slice(1)) {
    const extra = [...m.vocab.ids.entries()].filter(([t]) => !base.ids.has(t)).sort((a, b) => a[1] - b[1]).map(([t]) => t);
    const lacks = [...base.ids.keys()].filter((t) => !m.vocab.ids.has(t));
    const moved = [...m.vocab.ids.entries()].filter(([t, id]) => base.ids.has(t) && base.ids.get(t) !== id).map(([t]) => t);
    const parts: string[] = [];
    if (extra.length > 0) parts.push(`+${extra.length} token${extra.length > 1 ? 's' : ''}: ${listSome(extra)}`);
    if (lacks.length > 0) parts.push(`lacks ${lacks.length} of ${base.label}'s tokens: ${listSome(lacks)}`);
    if (moved.length > 0) parts.push(`${moved.length} token${moved.length > 1 ? 's' : ''} at other ids than in ${base.label}: ${listSome(moved)}`);
    // A token two models add at different ids: the union gives it one id, each model's row moves there.
    const elsewhere = extra.flatMap((t) => {
      const others = members.filter((o) => o !== m && o.vocab.ids.has(t) && o.vocab.ids.get(t) !== m.vocab.ids.get(t));
      return others.length > 0 ? [`${t} (${m.vocab.ids.get(t)} here, ${others.map((o) => `${o.vocab.ids.get(t)} in ${o.vocab.label}`).join(', ')})`] : [];
    });
    if (elsewhere.length > 0) parts.push(`added at other ids than elsewhere: ${listSome(elsewhere)}`);
    if (parts.length > 0) lines.push(`${m.vocab.label}: ${parts.join('; ')}`);
  }
  const from = aligned.added.map((a) => `${a.token} (${a.from.length > 0 ? `from ${a.from.join(', ')}` : 'no model: zero row'})`);
  const what = source === 'union' ? 'the union' : source === 'base' ? `${base.label}'s` : `${source}'s`;
  lines.push(
    `output vocabulary: ${what}, ${aligned.tokens.length} tokens${aligned.rows !== aligned.tokens.length ? ` in ${aligned.rows} rows (padded)` : ''}${
      aligned.added.length > 0 ? `; +${aligned.added.length} over ${base.label}: ${listSome(from)}` : ''
    }`,
  );
  return lines;
}
