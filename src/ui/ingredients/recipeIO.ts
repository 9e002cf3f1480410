/**
 * The soup on screen as a mergekit recipe, and back. The studio edits linear soups: one scalar weight
 * per ingredient and a normalise switch. Recipes use the ingredients' names as model paths.
 */
import { InputError } from '../../errors';
import type { FloatDtype } from '../../formats/dtype';
import { parseRecipe, recipeToYaml, type Recipe } from '../../merge/recipe';
import { matchExperts } from './names';

export interface SoupSpec {
  /** In the soup, in order; weight-0 ingredients are left out by the caller. */
  models: { name: string; weight: number }[];
  normalise: boolean;
  outDtype?: FloatDtype;
}

export function recipeOf(spec: SoupSpec): Recipe {
  return {
    method: 'linear',
    models: spec.models.map((m) => ({ model: { path: m.name }, parameters: { weight: { kind: 'value', value: m.weight } } })),
    parameters: { normalize: { kind: 'value', value: spec.normalise } },
    outDtype: spec.outDtype,
    passthrough: {},
    fileName: 'recipe.yaml',
  };
}

/** mergekit YAML for the soup, with a comment saying where the model paths come from. */
export function recipeYamlOf(spec: SoupSpec): string {
  return `# SoupLab soup (mergekit linear recipe); model paths are the checkpoint names in the studio\n${recipeToYaml(recipeOf(spec))}`;
}

export interface ImportedRecipe {
  /** Weight per ingredient name; ingredients the recipe does not name get 0. */
  weights: Record<string, number>;
  normalise: boolean;
  outDtype?: FloatDtype;
  /** Recipe models that match no ingredient. */
  unmatched: string[];
  warnings: string[];
}

/**
 * Reads a mergekit recipe onto the ingredients: each model path is matched to an ingredient by name.
 * Throws InputError (naming the line) for what the studio cannot show: other methods, per-layer weights.
 */
export function importRecipe(text: string, fileName: string, ingredients: string[]): ImportedRecipe {
  const { recipe, warnings } = parseRecipe(text, fileName);
  if (recipe.method !== 'linear') {
    throw new InputError(`${fileName} line ${recipe.methodLine ?? 1}: merge_method ${recipe.method}: the studio edits linear soups; run this recipe with souplab merge`);
  }
  for (const [key, setting] of Object.entries(recipe.parameters)) {
    if (key !== 'normalize') {
      throw new InputError(`${fileName} line ${setting.line ?? 1}: recipe-wide parameter ${key}: the studio sets one weight per model; run this recipe with souplab merge`);
    }
  }
  const normaliseSetting = recipe.parameters.normalize;
  let normalise = true;
  if (normaliseSetting) {
    if (normaliseSetting.kind !== 'value' || typeof normaliseSetting.value !== 'boolean') {
      throw new InputError(`${fileName} line ${normaliseSetting.line ?? 1}: normalize must be true or false`);
    }
    normalise = normaliseSetting.value;
  }
  const paths = recipe.models.map((m) => m.model.path);
  const exact = paths.map((p) => (ingredients.includes(p) ? p : undefined));
  const fuzzy = matchExperts(paths, ingredients.filter((n) => !exact.includes(n)));
  const weights: Record<string, number> = Object.fromEntries(ingredients.map((n) => [n, 0]));
  const unmatched: string[] = [];
  recipe.models.forEach((m, i) => {
    const target = exact[i] ?? fuzzy[i];
    const w = m.parameters.weight;
    let weight = 1;
    if (w) {
      if (w.kind !== 'value' || typeof w.value !== 'number') {
        throw new InputError(`${fileName} line ${w.line ?? m.line ?? 1}: the weight of ${m.model.path} varies by layer or tensor; the studio sets one weight per model: run this recipe with souplab merge`);
      }
      weight = w.value;
    }
    if (target === undefined) unmatched.push(m.model.path);
    else weights[target] = weight;
  });
  return { weights, normalise, outDtype: recipe.outDtype ?? recipe.dtype, unmatched, warnings };
}
