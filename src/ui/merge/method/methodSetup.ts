/**
 * The merge method as the studio sets it up: the registry method's name, the base model (an
 * ingredient), and the parameter fields — top-level and per ingredient — as a person typed them or a
 * recipe gave them. Which parameters exist, their kinds, defaults, ranges and what a method needs of
 * its models all come from the registry (src/merge/methods); nothing about a method is written here.
 */
import { findMethod, getMethod } from '../../../merge/methods/registry';
import type { MergeMethod, ParameterSpec } from '../../../merge/methods/types';
import type { RecipeSlice } from '../../../merge/recipeTypes';
import { checkParamInput, type ParamInput } from './paramInput';

export interface MethodSetup {
  /** A registry method's name. */
  method: string;
  /** The base model's ingredient name, for methods that take one. */
  base: string | null;
  /** Top-level `parameters:`: the method's global ones, and defaults of its per-model ones. */
  params: Record<string, ParamInput>;
  /**
   * Per ingredient name, its own `parameters:`. A plain weight lives on the card (soupStore.weights);
   * a weight here is one that varies by layer or tensor, kept from a recipe.
   */
  modelParams: Record<string, Record<string, ParamInput>>;
  /**
   * A `slices:` recipe's layer ranges (a frankenmerge), as read from a recipe: shown and written back
   * as they are, source models named by ingredient name. While set, they replace the models list.
   */
  slices?: RecipeSlice[];
  /**
   * The models' order in an imported recipe (ingredient names): the merge sums in this order, as
   * mergekit and `souplab merge` do for that recipe (f32 sums depend on it); others follow in card order.
   */
  order?: string[];
}

export const DEFAULT_SETUP: MethodSetup = { method: 'linear', base: null, params: {}, modelParams: {} };

export function methodOf(setup: MethodSetup): MergeMethod {
  return findMethod(setup.method) ?? getMethod('linear');
}

/** Whether the studio offers a base model choice: methods that take task vectors from it, or may. */
export function takesBase(method: MergeMethod): boolean {
  return method.needs.base !== 'ignored';
}

/** A parameter the recipe must give at the top level (slerp's t): no default, no per-model fallback. */
export function requiredAtTop(spec: ParameterSpec): boolean {
  return spec.required && spec.default === undefined && spec.level !== 'model';
}

/** Edited in the method panel: all but the weight (on the cards) and linear's normalize (the Normalise switch). */
export function panelParameters(method: MergeMethod): ParameterSpec[] {
  return method.parameters.filter((p) => p.name !== 'weight' && !(method.name === 'linear' && p.name === 'normalize'));
}

/** Edited on each ingredient's card, besides its weight. */
export function cardParameters(method: MergeMethod): ParameterSpec[] {
  return method.parameters.filter((p) => p.level === 'model' && p.name !== 'weight');
}

const WORDS = ['no', 'one', 'two', 'three', 'four'];
const count = (n: number, what: string) => `${WORDS[n] ?? n} ${what}${n === 1 ? '' : 's'}`;

/** What the method needs of the models in the merge, in words, or undefined when they fit. */
export function modelCountProblem(method: MergeMethod, members: number, base: string | null): string | undefined {
  const { min, max } = method.needs.models;
  const besides = takesBase(method) && (method.needs.base === 'required' || base !== null) ? ' besides the base model' : '';
  const have = `${count(members, 'model')} ${members === 1 ? 'is' : 'are'} in the merge${besides}`;
  if (members < min) return `${method.title} needs ${max === min ? 'exactly' : 'at least'} ${count(min, 'model')}${besides}; ${have}.`;
  if (max !== undefined && members > max) {
    return `${method.title} merges ${max === min ? 'exactly' : 'at most'} ${count(max, 'model')}${besides}; ${have}: leave the others out (weight 0 or "In the merge" unticked).`;
  }
  return undefined;
}

/**
 * Why the setup cannot merge these members (ingredient names besides the base), in words: the base
 * model, the number of models, and every parameter field with an error.
 */
export function setupProblems(setup: MethodSetup, members: string[], ready: string[]): string[] {
  const method = methodOf(setup);
  const problems: string[] = [];
  if (takesBase(method)) {
    if (setup.base === null) {
      if (method.needs.base === 'required') problems.push(`${method.title} needs a base model (the model the others are compared with): choose it under Method.`);
    } else if (!ready.includes(setup.base)) problems.push(`The base model ${setup.base} is not among the readable checkpoints: choose another under Method.`);
  }
  // A slices recipe's counts are per slice: the recipe's validator says them.
  const countProblem = setup.slices ? undefined : modelCountProblem(method, members.length, takesBase(method) ? setup.base : null);
  if (countProblem) problems.push(countProblem);
  for (const slice of setup.slices ?? []) {
    for (const src of slice.sources) if (!ready.includes(src.model.path)) problems.push(`The slices name ${src.model.path}, which is not among the readable checkpoints.`);
  }
  for (const spec of panelParameters(method)) {
    const error = checkParamInput(spec, setup.params[spec.name], requiredAtTop(spec)).error;
    if (error) problems.push(`${method.title}: ${error}.`);
  }
  const weight = method.parameters.find((p) => p.name === 'weight');
  for (const name of setup.slices ? [] : members) {
    const own = setup.modelParams[name] ?? {};
    for (const spec of [...(weight ? [weight] : []), ...cardParameters(method)]) {
      const error = checkParamInput(spec, own[spec.name], false).error;
      if (error) problems.push(`${name}: ${error}.`);
    }
  }
  return problems;
}
