/**
 * The soup on screen as a mergekit recipe, and back, for every method of the registry: the method,
 * its base model, its parameters (top-level and per model, as the studio's editors hold them:
 * src/ui/merge/method/paramInput.ts), one weight per ingredient, the output dtype. Model paths are the
 * ingredients' paths relative to the recipe's folder (modelPaths.ts), so an exported recipe put beside
 * the checkpoints runs unchanged in mergekit and `souplab merge`.
 */
import { InputError } from '../../errors';
import type { FloatDtype } from '../../formats/dtype';
import { findMethod, getMethod } from '../../merge/methods/registry';
import type { MergeMethod } from '../../merge/methods/types';
import type { ParameterMap } from '../../merge/params';
import { parseRecipe, recipeToYaml, type Recipe } from '../../merge/recipe';
import { checkParamInput, paramInputOf, type ParamInput } from '../merge/method/paramInput';
import { DEFAULT_SETUP, takesBase, type MethodSetup } from '../merge/method/methodSetup';
import { ingredientOfPath } from './modelPaths';
import { matchExperts } from './names';
import type { IngredientInput } from './types';

export interface SoupSpec {
  /** The models merged besides the base, in card order; weight-0 ingredients are left out by the caller. */
  models: { name: string; weight: number; path?: string }[];
  /** The base model, for methods that take one. */
  base?: { name: string; path?: string };
  /** linear's normalize (the Normalise switch). */
  normalise: boolean;
  outDtype?: FloatDtype;
  /** The dtype every input's float tensors share, when they share one: written as out_dtype when outDtype is unset. */
  inputDtype?: FloatDtype;
  /** Method and parameters; absent: linear. */
  method?: MethodSetup;
  /** The output vocabulary when the models' tokenizers differ (mergekit's tokenizer_source); absent: rows as they are. */
  tokenizerSource?: 'base' | 'union';
}

const pathOf = (m: { name: string; path?: string }) => m.path ?? `./${m.name}`;

/** The settings of a map of fields that hold a valid value (fields with errors are the blockers' business). */
function settingsOf(method: MergeMethod, fields: Record<string, ParamInput>, level: 'top' | 'model', skip: (name: string) => boolean): ParameterMap {
  const out: ParameterMap = {};
  for (const spec of method.parameters) {
    if (skip(spec.name) || (level === 'model' && spec.level !== 'model')) continue;
    const s = checkParamInput(spec, fields[spec.name], false).setting;
    if (s) out[spec.name] = s;
  }
  return out;
}

export function recipeOf(spec: SoupSpec): Recipe {
  const setup = spec.method ?? DEFAULT_SETUP;
  const method = findMethod(setup.method) ?? getMethod('linear');
  const hasWeight = method.parameters.some((p) => p.name === 'weight');
  const base = takesBase(method) ? spec.base : undefined;
  const models: Recipe['models'] = spec.models.map((m) => {
    const own = setup.modelParams[m.name] ?? {};
    const parameters = settingsOf(method, own, 'model', (n) => n === 'weight');
    // A weight that varies by layer or tensor (from a recipe) is kept; otherwise the card's number.
    const weight = hasWeight ? (checkParamInput(getWeightSpec(method), own.weight, false).setting ?? { kind: 'value', value: m.weight }) : undefined;
    return { model: { path: pathOf(m) }, parameters: weight ? { weight, ...parameters } : parameters };
  });
  // mergekit's slerp, nearswap and arcee_fusion read the base among exactly two inputs: list it with the other model.
  if (base && method.needs.models.max === 1) models.unshift({ model: { path: pathOf(base) }, parameters: {} });
  const parameters: ParameterMap =
    method.name === 'linear' ? { normalize: { kind: 'value', value: spec.normalise } } : settingsOf(method, setup.params, 'top', (n) => n === 'weight');
  const out = spec.outDtype ?? spec.inputDtype;
  // Slices name their models by ingredient name in the studio: written as those ingredients' paths.
  const pathByName = new Map([...spec.models, ...(spec.base ? [spec.base] : [])].map((m) => [m.name, pathOf(m)]));
  const slices = setup.slices?.map((sl) => ({ ...sl, sources: sl.sources.map((src) => ({ ...src, model: { path: pathByName.get(src.model.path) ?? `./${src.model.path}` } })) }));
  return {
    method: method.name,
    ...(base ? { baseModel: { path: pathOf(base) } } : {}),
    models: slices ? [] : models,
    ...(slices ? { slices } : {}),
    parameters,
    // dtype float32: mergekit then computes in f32 as SoupLab does, and rounds once to out_dtype.
    ...(out ? { dtype: 'F32' as const, outDtype: out } : {}),
    ...(spec.tokenizerSource ? { tokenizerSource: spec.tokenizerSource } : {}),
    passthrough: {},
    fileName: 'recipe.yaml',
  };
}

function getWeightSpec(method: MergeMethod) {
  return method.parameters.find((p) => p.name === 'weight')!;
}

/** mergekit YAML for the soup, with a comment saying where the model paths point. */
export function recipeYamlOf(spec: SoupSpec): string {
  const method = spec.method?.method ?? 'linear';
  return `# SoupLab soup (mergekit ${method} recipe); model paths are relative to the folder that holds the checkpoints\n${recipeToYaml(recipeOf(spec))}`;
}

export interface ImportedRecipe {
  /** Weight per ingredient name; ingredients the recipe does not name get 0. */
  weights: Record<string, number>;
  normalise: boolean;
  outDtype?: FloatDtype;
  /** The method, its base and parameters, for the method panel and the cards. */
  setup: MethodSetup;
  /** tokenizer_source base or union (the studio's vocabulary choice); absent otherwise. */
  tokenizerSource?: 'base' | 'union';
  /** Recipe models that match no ingredient. */
  unmatched: string[];
  warnings: string[];
}

type Named = Pick<IngredientInput, 'name' | 'kind' | 'files'>;

/**
 * Reads a mergekit recipe onto the ingredients: each model path finds its ingredient (modelPaths.ts,
 * then by name as the experts are matched). Throws InputError (naming the line) for a recipe that is
 * not valid. A `slices:` recipe's layer ranges are kept as they are (shown, not edited).
 */
export function importRecipe(text: string, fileName: string, ingredients: readonly (string | Named)[]): ImportedRecipe {
  const { recipe, warnings } = parseRecipe(text, fileName);
  const inputs: Named[] = ingredients.map((i) => (typeof i === 'string' ? { name: i, kind: 'folder', files: [] } : i));
  const names = inputs.map((i) => i.name);
  const method = getMethod(recipe.method);
  const unmatched: string[] = [];
  const place = (() => {
    const paths = recipe.models.map((m) => m.model.path);
    const exact = paths.map((p) => ingredientOfPath(p, inputs)?.name);
    const fuzzy = matchExperts(paths, names.filter((n) => !exact.includes(n)));
    return (i: number) => exact[i] ?? fuzzy[i];
  })();
  let base: string | null = null;
  if (recipe.baseModel && takesBase(method)) {
    base = ingredientOfPath(recipe.baseModel.path, inputs)?.name ?? matchExperts([recipe.baseModel.path], names)[0] ?? null;
    if (base === null) unmatched.push(recipe.baseModel.path);
  }
  const params: Record<string, ParamInput> = {};
  let normalise = true;
  for (const [key, setting] of Object.entries(recipe.parameters)) {
    if (key === 'weight') continue; // given to each model below, as mergekit falls back to it
    if (method.name === 'linear' && key === 'normalize') {
      if (setting.kind !== 'value' || typeof setting.value !== 'boolean') throw new InputError(`${fileName} line ${setting.line ?? 1}: normalize of a linear soup is one true or false`);
      normalise = setting.value;
    } else params[key] = paramInputOf(setting);
  }
  const weights: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const modelParams: Record<string, Record<string, ParamInput>> = {};
  const order: string[] = [];
  recipe.models.forEach((m, i) => {
    if (base !== null && recipe.baseModel?.path === m.model.path) return;
    const target = place(i);
    if (target === undefined) {
      unmatched.push(m.model.path);
      return;
    }
    order.push(target);
    const own: Record<string, ParamInput> = {};
    for (const [key, setting] of Object.entries(m.parameters)) if (key !== 'weight') own[key] = paramInputOf(setting);
    const w = m.parameters.weight ?? recipe.parameters.weight;
    if (w?.kind === 'value' && typeof w.value === 'number') weights[target] = w.value;
    else {
      weights[target] = 1;
      // A weight that varies by layer or tensor is kept as it is (the card shows it, the recipe writes it back).
      if (w) own.weight = paramInputOf(w);
    }
    if (Object.keys(own).length > 0) modelParams[target] = own;
  });
  // A slices recipe: its layer ranges are kept whole, each source named by its ingredient.
  const slices = recipe.slices?.map((sl) => ({
    ...sl,
    sources: sl.sources.map((src) => {
      const target = ingredientOfPath(src.model.path, inputs)?.name ?? matchExperts([src.model.path], names)[0];
      if (target === undefined) unmatched.push(src.model.path);
      else weights[target] = 1;
      return { ...src, model: { path: target ?? src.model.path } };
    }),
  }));
  if (base !== null) weights[base] = 0;
  // Methods that average every model (karcher, passthrough) count a base_model that is not listed among them, as mergekit does.
  if (recipe.baseModel && !takesBase(method) && method.name !== 'linear' && !recipe.models.some((m) => m.model.path === recipe.baseModel!.path)) {
    const joined = ingredientOfPath(recipe.baseModel.path, inputs)?.name;
    if (joined === undefined) unmatched.push(recipe.baseModel.path);
    else {
      const w = recipe.parameters.weight;
      weights[joined] = w?.kind === 'value' && typeof w.value === 'number' ? w.value : 1;
      order.push(joined);
      warnings.push(`base_model ${recipe.baseModel.path} is merged with the models by ${method.name}: the studio lists it as one of them`);
    }
  }
  // The studio chooses union, base or none; other tokenizer settings run with `souplab merge` (docs/tokenizers.md).
  if (recipe.tokenizer || (recipe.tokenizerSource !== undefined && recipe.tokenizerSource !== 'base' && recipe.tokenizerSource !== 'union')) {
    warnings.push(`${recipe.tokenizer ? 'the tokenizer: block' : `tokenizer_source ${recipe.tokenizerSource}`} is not taken into the studio, which offers union or the base's vocabulary; souplab merge runs the recipe as it is`);
  }
  return {
    weights,
    normalise,
    outDtype: recipe.outDtype ?? recipe.dtype,
    setup: { method: method.name, base, params, modelParams, order, ...(slices ? { slices } : {}) },
    ...(recipe.tokenizerSource === 'base' || recipe.tokenizerSource === 'union' ? { tokenizerSource: recipe.tokenizerSource } : {}),
    unmatched,
    warnings,
  };
}
