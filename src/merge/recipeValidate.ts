/**
 * Checks a parsed recipe against its method's declaration in the registry: that the method exists,
 * has the base model and the number of models it needs, that every parameter is one it reads (at the
 * level it reads it: per model, or for the whole merge) and required ones are given. Each problem
 * names its recipe line and says what the method accepts.
 */
import { findMethod, METHOD_NAMES, UNSUPPORTED_METHODS } from './methods/registry';
import type { MergeMethod } from './methods/types';
import type { ParameterSetting } from './params';
import { formatWhere, type Recipe, type RecipeProblem } from './recipeTypes';
import type { RecipeDraft } from './recipeParse';
import { checkTokenizerSettings } from './vocabulary/tokenizerSpec';

export function validateRecipe(draft: RecipeDraft): void {
  const { recipe, problems, warnings } = draft;
  const fileName = recipe.fileName ?? 'recipe';
  const seen = new Map<string, number | undefined>();
  for (const m of recipe.models) {
    if (seen.has(m.model.path)) problems.push({ line: m.model.line, message: `model ${m.model.path} is listed twice (also on line ${seen.get(m.model.path)})` });
    seen.set(m.model.path, m.model.line);
  }
  const paths = [recipe.baseModel, ...recipe.models.map((m) => m.model), ...(recipe.slices ?? []).flatMap((sl) => sl.sources.map((s) => s.model))].flatMap((r) => (r ? [r.path] : []));
  checkTokenizerSettings(recipe, [...new Set(paths)], problems);
  if (recipe.method === '') return;
  const method = findMethod(recipe.method);
  if (!method) {
    const why = UNSUPPORTED_METHODS[recipe.method];
    problems.push({
      line: recipe.methodLine,
      message: why ? `merge method '${recipe.method}': ${why} (SoupLab runs ${METHOD_NAMES.join(', ')})` : `unknown merge method '${recipe.method}' (SoupLab runs ${METHOD_NAMES.join(', ')})`,
    });
    return;
  }
  if (recipe.slices) checkSlices(recipe, method, problems);
  else checkModels(recipe, method, problems, draft.modelsLine);
  checkParameters(recipe, method, problems, warnings, fileName);
  if (recipe.method === 'linear' && recipe.baseModel && !recipe.models.some((m) => m.model.path === recipe.baseModel!.path) && !recipe.parameters.weight) {
    warnings.push(
      `${formatWhere(fileName, recipe.baseModel.line)}base_model ${recipe.baseModel.path} is not among the models and has no weight: it is not averaged, only the source of non-float tensors and config files`,
    );
  }
}

function checkModels(recipe: Recipe, method: MergeMethod, problems: RecipeProblem[], modelsLine: number | undefined): void {
  const base = recipe.baseModel;
  const needs = method.needs;
  if (needs.base === 'required' && !base) {
    problems.push({ line: recipe.methodLine, message: `${method.name} needs base_model: the model the task vectors are taken from` });
    return;
  }
  if (recipe.models.length === 0) return;
  const others = recipe.models.filter((m) => m.model.path !== base?.path).length;
  // Methods that average every model count a base_model that is not listed among them (mergekit adds it).
  const count = needs.base === 'ignored' && base && !recipe.models.some((m) => m.model.path === base.path) && method.name !== 'linear' ? others + 1 : others;
  const { min, max } = needs.models;
  const besides = needs.base === 'ignored' ? '' : needs.base === 'required' ? ' besides base_model' : base ? ' besides base_model' : '';
  const line = modelsLine ?? recipe.methodLine;
  if (count < min) {
    problems.push({ line, message: `${method.name} needs ${max === min ? 'exactly' : 'at least'} ${numberWord(min)} model${min > 1 ? 's' : ''}${besides}, got ${count}` });
  } else if (max !== undefined && count > max) {
    problems.push({ line, message: `${method.name} merges ${max === min ? 'exactly' : 'at most'} ${numberWord(max)} model${max > 1 ? 's' : ''}${besides}, got ${count}` });
  }
}

/** A `slices:` recipe: every slice's sources span the same number of layers and fit the method's model count. */
function checkSlices(recipe: Recipe, method: MergeMethod, problems: RecipeProblem[]): void {
  const base = recipe.baseModel;
  if (method.needs.base === 'required' && !base) {
    problems.push({ line: recipe.methodLine, message: `${method.name} needs base_model: the model the task vectors are taken from` });
    return;
  }
  for (const slice of recipe.slices ?? []) {
    const lengths = slice.sources.map((s) => s.layerRange[1] - s.layerRange[0]);
    if (lengths.some((l) => l !== lengths[0])) {
      problems.push({ line: slice.line, message: `the sources of a slice must span the same number of layers, got ${lengths.join(', ')}` });
    }
    if (method.needs.base === 'required' && base && !slice.sources.some((s) => s.model.path === base.path)) {
      problems.push({ line: slice.line, message: `${method.name} takes task vectors from base_model ${base.path}: list it among this slice's sources` });
    }
    const count = slice.sources.filter((s) => method.needs.base === 'ignored' || s.model.path !== base?.path).length;
    const { min, max } = method.needs.models;
    if (slice.sources.length > 0 && (count < min || (max !== undefined && count > max))) {
      const want = max === min ? `exactly ${numberWord(min)}` : max === undefined ? `at least ${numberWord(min)}` : `${min} to ${max}`;
      problems.push({ line: slice.line, message: `${method.name} merges ${want} source${min === 1 && max === 1 ? '' : 's'}${method.needs.base === 'ignored' ? '' : ' besides base_model'} per slice, this one has ${count}` });
    }
  }
}

function numberWord(n: number): string {
  return ['no', 'one', 'two', 'three'][n] ?? String(n);
}

function checkParameters(recipe: Recipe, method: MergeMethod, problems: RecipeProblem[], warnings: string[], fileName: string): void {
  const specs = new Map(method.parameters.map((p) => [p.name, p]));
  const accepts = `${method.name} reads ${method.parameters.map((p) => p.name).join(', ') || 'no parameters'}`;
  const note = (name: string, setting: ParameterSetting, onModel: boolean) => {
    const spec = specs.get(name);
    if (!spec) {
      // A parameter of another mergekit method: mergekit ignores it too, so keep it and say so.
      if (KNOWN_ELSEWHERE.has(name)) warnings.push(`${formatWhere(fileName, setting.line)}parameter '${name}' is not used by ${method.name}; it is kept in the recipe (${accepts})`);
      else problems.push({ line: setting.line, message: `unknown parameter '${name}' for ${method.name} (${accepts})` });
      return;
    }
    if (onModel && spec.level !== 'model') {
      problems.push({ line: setting.line, message: `${name} applies to the whole merge: put it under the top-level parameters:` });
    } else if (spec.level === 'recipe' && (setting.kind !== 'value' || Array.isArray(setting.value))) {
      problems.push({ line: setting.line, message: `${name} is one value for the whole merge, not a list or a condition` });
    } else if (spec.level === 'recipe' && setting.kind === 'value' && spec.kind === 'integer' && !(typeof setting.value === 'number' && Number.isInteger(setting.value))) {
      problems.push({ line: setting.line, message: `${name} must be a whole number, got ${JSON.stringify(setting.value)}` });
    }
  };
  for (const [name, s] of Object.entries(recipe.parameters)) note(name, s, false);
  for (const m of recipe.models) for (const [name, s] of Object.entries(m.parameters)) note(name, s, true);
  for (const slice of recipe.slices ?? []) {
    for (const [name, s] of Object.entries(slice.parameters)) note(name, s, false);
    for (const src of slice.sources) for (const [name, s] of Object.entries(src.parameters)) note(name, s, true);
  }
  for (const spec of method.parameters) {
    if (!spec.required || spec.default !== undefined) continue;
    const given =
      spec.level === 'model'
        ? recipe.parameters[spec.name] || recipe.models.every((m) => m.model.path === recipe.baseModel?.path || m.parameters[spec.name])
        : recipe.parameters[spec.name] || (recipe.slices !== undefined && recipe.slices.every((sl) => sl.parameters[spec.name]));
    if (!given) problems.push({ line: recipe.methodLine, message: `${method.name} needs ${spec.name} (${spec.description})${spec.level === 'model' ? '' : ' under the top-level parameters:'}` });
  }
}

/** Parameter names of mergekit methods (all of them, whether SoupLab runs the method or not). */
const KNOWN_ELSEWHERE = new Set([
  'weight', 'density', 'epsilon', 'gamma', 'lambda', 'normalize', 'rescale', 'int8_mask', 't', 'filter_wise', 'select_topk',
  'nuslerp_flatten', 'nuslerp_row_wise', 'normalize_weights', 'eps', 'max_iter', 'tol', 'scale', 'random_seed', 'r', 'alpha',
]);
