/**
 * Recipes in mergekit's YAML schema (notes/interop.md), both ways: parseRecipe reads a mergekit file
 * into a typed Recipe — parse (recipeParse.ts: the YAML and its shapes), then validate
 * (recipeValidate.ts: against the method's declaration in the registry) — naming the line of every
 * problem; recipeToYaml (recipeWrite.ts) writes one back so that it runs unchanged in mergekit.
 *
 * Two lenient extensions over mergekit, written out explicitly by recipeToYaml: a model without a
 * `weight` gets weight 1, and `fp32`/`fp16`/`bf16` are accepted as dtype names.
 */
import { parseRecipeDraft } from './recipeParse';
import { RecipeError, type ParsedRecipe } from './recipeTypes';
import { validateRecipe } from './recipeValidate';

export * from './recipeTypes';
export { recipeToYaml } from './recipeWrite';

/** Parses and validates a mergekit recipe. Throws RecipeError naming the line of each problem. */
export function parseRecipe(text: string, fileName = 'recipe.yaml'): ParsedRecipe {
  const draft = parseRecipeDraft(text, fileName);
  validateRecipe(draft);
  const { problems, missing } = draft;
  if (problems.length + missing.length > 0) {
    throw new RecipeError(fileName, [...problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)), ...missing]);
  }
  return { recipe: draft.recipe, warnings: draft.warnings };
}
