/**
 * Recipe → soup in memory: the one way a recipe becomes weights without a file, for `souplab eval`, the
 * studio's Taste, the search's points and the studio's plan alike. The recipe's tokenizer settings are
 * applied first (planMergeWithVocabulary: `tokenizer_source`, the `tokenizer:` block), so a soup of
 * models whose vocabularies differ is evaluated with the rows and tokenizer `souplab merge` would write;
 * the soup's config and tokenizer are those of `plan.reference` (the output vocabulary's when aligned).
 */
import type { Checkpoint } from '../formats/checkpoint';
import type { WeightSource } from '../model/types';
import type { SoupBackend } from './kernel';
import { planMerge, type MergePlan } from './plan';
import type { Recipe } from './recipeTypes';
import { soupWeightSource } from './soupWeights';
import { planMergeWithVocabulary } from './vocabulary/planWithVocabulary';
import type { VocabularyResult } from './vocabulary/prepareVocabulary';

export interface SoupInMemory {
  plan: MergePlan;
  /** The aligned vocabulary, when the recipe has tokenizer settings. */
  vocabulary?: VocabularyResult;
  /** The soup's tensors, each computed when the model reads it (bit for bit what runMerge writes). */
  weights: WeightSource;
}

/** `checkpoints` are the recipe's models by recipe path, as opened (rows not yet aligned). */
export async function soupInMemory(recipe: Recipe, checkpoints: Map<string, Checkpoint>, backend: SoupBackend): Promise<SoupInMemory> {
  const { plan, vocabulary } = await planMergeWithVocabulary(recipe, checkpoints);
  return { plan, vocabulary, weights: soupWeightSource(plan, backend) };
}

/**
 * The plan alone, from checkpoints whose rows were already aligned to the chosen vocabulary (the studio
 * aligns them once for its pre-flight; the search once for all its points): the tokenizer settings are
 * not applied again (planMerge reads none of them).
 */
export function planAlignedSoup(recipe: Recipe, aligned: Map<string, Checkpoint>): MergePlan {
  return planMerge(recipe, aligned);
}
