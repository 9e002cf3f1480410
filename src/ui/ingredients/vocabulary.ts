/**
 * The soup's vocabularies for the studio's pre-flight: one line per model whose tokenizer differs from
 * the base's ("chat: +2 tokens: <|im_start|>, <|im_end|>"), and, when a vocabulary is chosen (union or
 * base), the checkpoints with their embedding rows aligned, which the pre-flight and the plan then read
 * (src/merge/vocabulary, the engine's; the merge worker aligns them again from the recipe).
 */
import { prepareVocabulary } from '../../merge/vocabulary/prepareVocabulary';
import { modelPathOf } from './modelPaths';
import { messageOf } from './openIngredient';
import { namesInMerge } from './soup';
import type { StudioVocabulary } from './types';

export type { StudioVocabulary } from './types';
import type { SoupSpec } from './recipeIO';
import type { Ingredient } from './types';


/** Null when fewer than two models of the soup have a tokenizer.json (nothing to compare). */
export async function studioVocabulary(ingredients: Ingredient[], spec: SoupSpec): Promise<StudioVocabulary | null> {
  const ready = new Map(ingredients.flatMap((g) => (g.status === 'ready' ? [[g.name, g] as const] : [])));
  const members = namesInMerge(spec).flatMap((n) => (ready.has(n) ? [ready.get(n)!] : []));
  if (members.filter((g) => g.checkpoint.extraFiles.has('tokenizer.json')).length < 2) return null;
  // Nothing chosen and no base tokenizer to compare with (the first card is a lone .safetensors file): nothing to say.
  if (!spec.tokenizerSource && !members[0].checkpoint.extraFiles.has('tokenizer.json')) return null;
  const refs = members.map((g) => ({ path: modelPathOf(g.input), label: g.name }));
  const checkpoints = new Map(members.map((g) => [modelPathOf(g.input), g.checkpoint]));
  try {
    const baseModel = spec.base ? { path: modelPathOf(ready.get(spec.base.name)!.input) } : undefined;
    const result = await prepareVocabulary({ tokenizerSource: spec.tokenizerSource ?? 'union', baseModel }, refs, checkpoints);
    if (!result) return null;
    const differ = result.lines.length > 1 || (result.aligned?.added.length ?? 0) > 0;
    return { lines: result.lines, differ, ...(spec.tokenizerSource ? { aligned: result.checkpoints } : {}) };
  } catch (e) {
    return { lines: [], differ: true, error: messageOf(e) };
  }
}
