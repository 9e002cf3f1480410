/**
 * planMerge with the recipe's tokenizer settings applied first (prepareVocabulary.ts): the one way a
 * recipe with `tokenizer_source` or a `tokenizer:` block is planned, for a merge, an export and an
 * evaluation alike. The pre-flight report gets the vocabulary lines (one per model that differs, one
 * for the output) as infos, and the notes as warnings.
 */
import type { Checkpoint } from '../../formats/checkpoint';
import { labelIngredients, modelRefsOf, planMerge, type MergePlan } from '../plan';
import type { Recipe } from '../recipeTypes';
import { prepareVocabulary, type VocabularyResult } from './prepareVocabulary';

export async function planMergeWithVocabulary(recipe: Recipe, checkpoints: Map<string, Checkpoint>): Promise<{ plan: MergePlan; vocabulary?: VocabularyResult }> {
  const refs = modelRefsOf(recipe).filter((r) => checkpoints.has(r.path));
  const labels = labelIngredients(refs.map((r) => ({ path: r.path, checkpoint: checkpoints.get(r.path)! })));
  const vocabulary = refs.length === 0 ? undefined : await prepareVocabulary(recipe, refs.map((r, i) => ({ path: r.path, label: labels[i] })), checkpoints);
  const plan = planMerge(recipe, vocabulary?.checkpoints ?? checkpoints);
  if (vocabulary) {
    plan.preflight.infos.push(...vocabulary.lines.map((message) => ({ code: 'vocabulary' as const, message })));
    plan.preflight.warnings.push(...vocabulary.notes.map((message) => ({ code: 'vocabulary' as const, message })));
  }
  return { plan, vocabulary };
}

/** The output's __metadata__ entry with the vocabulary lines (a JSON list), which `souplab inspect` shows. */
export const VOCABULARY_METADATA_KEY = 'souplab.vocabulary';

/** The vocabulary lines a merged model's metadata holds, or [] when it holds none (or not a list of strings). */
export function vocabularyLinesOf(metadata: Record<string, string>): string[] {
  const raw = metadata[VOCABULARY_METADATA_KEY];
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : [];
  } catch {
    return [];
  }
}
