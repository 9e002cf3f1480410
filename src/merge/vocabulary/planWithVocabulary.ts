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
