/**
 * Recipe + opened checkpoints → MergePlan: for every output tensor, what to compute and from what.
 *
 * A float tensor becomes a soup step: the kernel mode, its f32 coefficients (computed in f64 from the
 * recipe's parameters, then rounded once to f32), the input tensors in kernel order and the output
 * dtype (`out_dtype`, else `dtype`, else the first input's). Any other tensor (I64 counters, BOOL
 * masks, F8) is copied from the reference: the base model, or the first model.
 *
 *   linear:          Σ cᵢ·xᵢ,            cᵢ = wᵢ / Σw (normalize, the default) or wᵢ
 *   task_arithmetic: b + Σ cᵢ·(xᵢ − b),  cᵢ = λ·wᵢ (÷ Σw with normalize, off by default)
 *
 * Methods to come fit the same shape: TIES and DARE are delta steps with per-model densities (and a
 * seed), SLERP a two-input step with its t; each adds a `mode` to the kernel's SoupJob union and a
 * branch in soupStep() below, while the walk over tensors, the copying and the dtype rules stay.
 */
import type { Checkpoint, CheckpointTensor } from '../formats/checkpoint';
import { isFloatDtype, numelOf, type Dtype, type FloatDtype } from '../formats/dtype';
import { InputError } from '../errors';
import type { SoupMode } from './kernel';
import { layerCountOf, layerPositionOf, resolveParameter, type EvaluatedValue } from './params';
import { preflight, PreflightError, type PreflightReport } from './preflight';
import { recipeWhere, type ModelRef, type Recipe } from './recipe';
import { getMethod } from './methods/registry';
import { tensorKeyOf } from './methods/counterRandom';
import type { MergeMethod, ParameterSpec, ParameterValues, TensorProgram } from './methods/types';

export interface SoupStep {
  kind: 'soup';
  name: string;
  shape: number[];
  /** The dtype written; F64 is computed in f32 and widened exactly. */
  outDtype: FloatDtype;
  mode: SoupMode;
  /** One per input, in kernel order (for delta, inputs[0] is the base and coefficients[0] is 0). */
  coefficients: Float32Array;
  inputs: CheckpointTensor[];
  /** The ingredient label of each input, for messages and the studio. */
  inputLabels: string[];
  /** The recipe's weights for this tensor, before normalising (f64, for display). */
  weights: number[];
  /** Layer position t used for gradients. */
  t: number;
}

export interface CopyStep {
  kind: 'copy';
  name: string;
  shape: number[];
  dtype: Dtype;
  source: CheckpointTensor;
  from: string;
}

/** A tensor merged by a registry method's TensorProgram (every method but linear and task_arithmetic). */
export interface MethodStep {
  kind: 'method';
  name: string;
  /** The output's shape (fewer rows than an input's when vocabularies differ). */
  shape: number[];
  outDtype: FloatDtype;
  /** Kernel order: the base first when the method uses one. Each is read for numelOf(shape) elements. */
  inputs: CheckpointTensor[];
  inputLabels: string[];
  program: TensorProgram;
  t: number;
}

export type TensorStep = SoupStep | MethodStep | CopyStep;

export interface MergePlan {
  recipe: Recipe;
  /** Output tensors in the reference's order (file, then offset): inputs are read front to back. */
  steps: TensorStep[];
  /** The model copied from and compared with: the base, or the first model. */
  reference: { label: string; checkpoint: Checkpoint };
  /** Every ingredient, labelled, in recipe order (base first when it is not among the models). */
  ingredients: { label: string; path: string; checkpoint: Checkpoint }[];
  preflight: PreflightReport;
  /** Bytes read from the inputs, and written as tensor data. */
  inputBytes: number;
  outputBytes: number;
}

/**
 * Builds the plan. `checkpoints` maps each model path as written in the recipe (ModelRef.path) to its
 * opened checkpoint. Runs the pre-flight check and throws PreflightError when it finds errors.
 */
export function planMerge(recipe: Recipe, checkpoints: Map<string, Checkpoint>): MergePlan {
  const refs = modelRefsOf(recipe);
  const labels = labelIngredients(refs.map((r) => {
    const c = checkpoints.get(r.path);
    if (!c) throw new InputError(`${recipeWhere(recipe, r.line)}model ${r.path} was not opened`);
    return { path: r.path, checkpoint: c };
  }));
  const ingredients = refs.map((r, i) => ({ label: labels[i], path: r.path, checkpoint: checkpoints.get(r.path)! }));
  const byPath = new Map(ingredients.map((g) => [g.path, g]));
  const reference = byPath.get(recipe.baseModel?.path ?? recipe.models[0].model.path)!;
  const method = getMethod(recipe.method);
  const report = preflight(ingredients, ingredients.indexOf(reference), { vocabulary: method.needs.vocabulary });
  if (report.errors.length > 0) throw new PreflightError(report);
  if (recipe.method !== 'linear' && recipe.method !== 'task_arithmetic') return planMethod(recipe, method, ingredients, reference, report);

  // Kernel inputs in order, with the recipe parameters that apply to each.
  const base = recipe.baseModel ? byPath.get(recipe.baseModel.path)! : undefined;
  const members = recipe.method === 'task_arithmetic' ? recipe.models.filter((m) => m.model.path !== base!.path) : linearMembers(recipe);
  const memberIngredients = members.map((m) => byPath.get(m.model.path)!);

  const layerCount = layerCountOf(reference.checkpoint.tensors.keys());
  const steps: TensorStep[] = [];
  let inputBytes = 0;
  let outputBytes = 0;
  for (const [name, refTensor] of reference.checkpoint.tensors) {
    const info = refTensor.info;
    if (!isFloatDtype(info.dtype)) {
      steps.push({ kind: 'copy', name, shape: info.shape, dtype: info.dtype, source: refTensor, from: reference.label });
      inputBytes += info.byteLength;
      outputBytes += info.byteLength;
      continue;
    }
    const t = layerPositionOf(name, layerCount);
    const param = (p: string, levelMap: Recipe['parameters'] | undefined): EvaluatedValue | undefined =>
      resolveParameter(p, name, t, [levelMap, recipe.parameters]);
    const weights = members.map((m) => numberParam(recipe, 'weight', param('weight', m.parameters), 1, m.model, name));
    const step = soupStep(recipe, name, weights, (p) => param(p, undefined));
    const inputs = recipe.method === 'task_arithmetic'
      ? [base!.checkpoint.tensors.get(name)!, ...memberIngredients.map((g) => g.checkpoint.tensors.get(name)!)]
      : memberIngredients.map((g) => g.checkpoint.tensors.get(name)!);
    const inputLabels = recipe.method === 'task_arithmetic' ? [base!.label, ...memberIngredients.map((g) => g.label)] : memberIngredients.map((g) => g.label);
    const outDtype = recipe.outDtype ?? recipe.dtype ?? (inputs[0].info.dtype as FloatDtype);
    const numel = numelOf(info.shape);
    steps.push({ kind: 'soup', name, shape: info.shape, outDtype, mode: step.mode, coefficients: step.coefficients, inputs, inputLabels, weights, t });
    for (const x of inputs) inputBytes += x.info.byteLength;
    outputBytes += numel * BYTES[outDtype];
  }
  return { recipe, steps, reference, ingredients, preflight: report, inputBytes, outputBytes };
}

const BYTES: Record<FloatDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

type Ingredient = MergePlan['ingredients'][number];

/**
 * The plan of a registry method: kernel inputs by the method's needs (base first when it uses one;
 * a base_model not among the models joins them for methods that average every model, as mergekit's
 * planner adds it), its parameters resolved per tensor with mergekit's precedence and checked against
 * their declarations, and one TensorProgram per float tensor.
 */
function planMethod(recipe: Recipe, method: MergeMethod, ingredients: Ingredient[], reference: Ingredient, report: PreflightReport): MergePlan {
  const byPath = new Map(ingredients.map((g) => [g.path, g]));
  const basePath = recipe.baseModel?.path;
  const others = recipe.models.filter((m) => m.model.path !== basePath);
  let members: { ingredient: Ingredient; parameters: Recipe['parameters']; ref: ModelRef }[];
  let baseIndex: number | undefined;
  const baseEntry = basePath !== undefined ? recipe.models.find((m) => m.model.path === basePath) : undefined;
  const baseMember = basePath !== undefined ? { ingredient: byPath.get(basePath)!, parameters: baseEntry?.parameters ?? {}, ref: recipe.baseModel! } : undefined;
  const otherMembers = others.map((m) => ({ ingredient: byPath.get(m.model.path)!, parameters: m.parameters, ref: m.model }));
  if (method.needs.base === 'ignored') {
    // Every model is averaged; a base_model that is not listed joins them (mergekit's normalize_config).
    members = recipe.models.map((m) => ({ ingredient: byPath.get(m.model.path)!, parameters: m.parameters, ref: m.model }));
    if (baseMember && !baseEntry) members.push(baseMember);
  } else if (baseMember) {
    members = [baseMember, ...otherMembers];
    baseIndex = 0;
  } else members = otherMembers;

  const seedSetting = recipe.parameters.random_seed;
  const seed = seedSetting?.kind === 'value' && typeof seedSetting.value === 'number' ? seedSetting.value >>> 0 : 0;
  const layerCount = layerCountOf(reference.checkpoint.tensors.keys());
  const steps: TensorStep[] = [];
  let inputBytes = 0;
  let outputBytes = 0;
  for (const [name, refTensor] of reference.checkpoint.tensors) {
    const info = refTensor.info;
    if (!isFloatDtype(info.dtype)) {
      steps.push({ kind: 'copy', name, shape: info.shape, dtype: info.dtype, source: refTensor, from: reference.label });
      inputBytes += info.byteLength;
      outputBytes += info.byteLength;
      continue;
    }
    const inputs = members.map((m) => m.ingredient.checkpoint.tensors.get(name)!);
    const shape = outputShape(method, info.shape, inputs.map((x) => x.info.shape));
    const numel = numelOf(shape);
    const t = layerPositionOf(name, layerCount);
    const params: ParameterValues = {};
    for (const spec of method.parameters) {
      if (spec.level === 'model') continue;
      params[spec.name] = checkedValue(recipe, method, spec, resolveParameter(spec.name, name, t, [recipe.parameters]), name, undefined);
    }
    const modelParams = members.map((m, i) => {
      const values: ParameterValues = {};
      for (const spec of method.parameters) {
        if (spec.level !== 'model') continue;
        const v = resolveParameter(spec.name, name, t, [m.parameters, recipe.parameters]);
        values[spec.name] = i === baseIndex && v === undefined ? undefined : checkedValue(recipe, method, spec, v, name, m.ref);
      }
      return values;
    });
    const outDtype = recipe.outDtype ?? recipe.dtype ?? (inputs[0].info.dtype as FloatDtype);
    let program: TensorProgram;
    try {
      program = method.program({
        name,
        shape,
        numel,
        inputCount: inputs.length,
        baseIndex,
        params,
        modelParams,
        seed,
        tensorKey: tensorKeyOf(name),
        outDtype,
      });
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`${recipeWhere(recipe, recipe.methodLine)}${recipe.method}: ${e.message}`);
      throw e;
    }
    steps.push({ kind: 'method', name, shape, outDtype, inputs, inputLabels: members.map((m) => m.ingredient.label), program, t });
    // Each statistics pass reads the inputs once more.
    const reads = program.passes.length + 1;
    for (const x of inputs) inputBytes += reads * numel * BYTES[x.info.dtype as FloatDtype];
    outputBytes += numel * BYTES[outDtype];
  }
  return { recipe, steps, reference, ingredients, preflight: report, inputBytes, outputBytes };
}

/** The merged tensor's shape: the reference's, or the rows every input has (mergekit's rectify_embed_sizes). */
function outputShape(method: MergeMethod, ref: number[], shapes: number[][]): number[] {
  if (method.needs.vocabulary !== 'common-rows' || ref.length === 0) return ref;
  const rows = Math.min(...shapes.map((s) => s[0]));
  return [rows, ...ref.slice(1)];
}

/** A resolved parameter checked against its declaration; the default when unset. */
function checkedValue(recipe: Recipe, method: MergeMethod, spec: ParameterSpec, v: EvaluatedValue | undefined, tensor: string, model: ModelRef | undefined): number | boolean | undefined {
  const where = recipeWhere(recipe, model?.line ?? recipe.parameters[spec.name]?.line ?? recipe.methodLine);
  const of = model ? ` of ${model.path}` : '';
  if (v === undefined) {
    if (spec.default !== undefined) return spec.default;
    if (spec.required) throw new InputError(`${where}${method.name} needs ${spec.name}${of} (${spec.description}); tensor ${tensor} has none`);
    return undefined;
  }
  if (spec.kind === 'boolean') {
    if (typeof v !== 'boolean') throw new InputError(`${where}${spec.name}${of} must be true or false, got ${JSON.stringify(v)} for tensor ${tensor}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${where}${spec.name}${of} for tensor ${tensor} must be a number, got ${JSON.stringify(v)}`);
  if (spec.kind === 'integer' && !Number.isInteger(v)) throw new InputError(`${where}${spec.name}${of} must be a whole number, got ${v} for tensor ${tensor}`);
  const r = spec.range;
  if (r) {
    const low = r.min !== undefined && (r.minExclusive ? v <= r.min : v < r.min);
    const high = r.max !== undefined && (r.maxExclusive ? v >= r.max : v > r.max);
    if (low || high) throw new InputError(`${where}${spec.name}${of} is ${v} for tensor ${tensor}; it must be in ${rangeText(r)}`);
  }
  return v;
}

export function rangeText(r: NonNullable<ParameterSpec['range']>): string {
  return `${r.min === undefined ? '(−∞' : `${r.minExclusive ? '(' : '['}${r.min}`}, ${r.max === undefined ? '∞)' : `${r.max}${r.maxExclusive ? ')' : ']'}`}`;
}

/** The kernel mode and f32 coefficients of one tensor: the method-specific part of the plan. */
function soupStep(
  recipe: Recipe,
  tensor: string,
  weights: number[],
  mergeParam: (name: string) => EvaluatedValue | undefined,
): { mode: SoupMode; coefficients: Float32Array } {
  const where = recipeWhere(recipe, recipe.parameters.normalize?.line ?? recipe.methodLine);
  const sum = weights.reduce((a, b) => a + b, 0);
  switch (recipe.method) {
    case 'linear': {
      const normalize = booleanParam(recipe, 'normalize', mergeParam('normalize'), true);
      if (normalize && sum === 0) {
        throw new InputError(`${where}the weights for tensor ${tensor} add up to 0, so they cannot be normalised; change them or set normalize: false`);
      }
      const c = new Float32Array(weights.length);
      weights.forEach((w, i) => (c[i] = normalize ? w / sum : w));
      checkFinite(recipe, tensor, c);
      return { mode: 'linear', coefficients: c };
    }
    case 'task_arithmetic': {
      const normalize = booleanParam(recipe, 'normalize', mergeParam('normalize'), false);
      const lambda = numberParam(recipe, 'lambda', mergeParam('lambda'), 1, undefined, tensor);
      // mergekit leaves a (near-)zero sum of weights undivided rather than dividing by it.
      const divisor = normalize && Math.abs(sum) >= 1e-8 ? sum : 1;
      const c = new Float32Array(weights.length + 1);
      weights.forEach((w, i) => (c[i + 1] = (lambda * w) / divisor));
      checkFinite(recipe, tensor, c);
      return { mode: 'delta', coefficients: c };
    }
    default:
      throw new Error(`soupStep: ${recipe.method} is planned by planMethod`);
  }
}

function checkFinite(recipe: Recipe, tensor: string, c: Float32Array): void {
  for (const x of c) {
    if (!Number.isFinite(x)) {
      throw new InputError(`${recipeWhere(recipe, recipe.methodLine)}the coefficients for tensor ${tensor} overflow f32 (${[...c].join(', ')}); use smaller weights`);
    }
  }
}

function numberParam(recipe: Recipe, name: string, v: EvaluatedValue | undefined, fallback: number, model: ModelRef | undefined, tensor: string): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  const where = recipeWhere(recipe, model?.line);
  throw new InputError(`${where}${name}${model ? ` of ${model.path}` : ''} for tensor ${tensor} must be a number, got ${JSON.stringify(v)}`);
}

function booleanParam(recipe: Recipe, name: string, v: EvaluatedValue | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  throw new InputError(`${recipeWhere(recipe, recipe.parameters[name]?.line)}${name} must be true or false, got ${JSON.stringify(v)}`);
}

/**
 * The models a linear merge averages. As in mergekit, a base_model that is not among the models joins
 * them last when a recipe-wide weight gives it one; without one it is only the reference (the source
 * of non-float tensors and config files).
 */
function linearMembers(recipe: Recipe): Recipe['models'] {
  const base = recipe.baseModel;
  if (!base || recipe.models.some((m) => m.model.path === base.path) || !recipe.parameters.weight) return recipe.models;
  return [...recipe.models, { model: base, parameters: {} }];
}

/** Every model a recipe reads, once each: the base first (when given), then the models in order. */
export function modelRefsOf(recipe: Recipe): ModelRef[] {
  const out: ModelRef[] = [];
  const seen = new Set<string>();
  for (const r of [recipe.baseModel, ...recipe.models.map((m) => m.model)]) {
    if (r && !seen.has(r.path)) {
      seen.add(r.path);
      out.push(r);
    }
  }
  return out;
}

/** Checkpoint names, made unique with the recipe path when two models share one (two model.safetensors). */
function labelIngredients(items: { path: string; checkpoint: Checkpoint }[]): string[] {
  const names = items.map((i) => lastSegment(i.checkpoint.name));
  return items.map((item, k) => (names.filter((n) => n === names[k]).length > 1 ? item.path : names[k]));
}

function lastSegment(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? path;
}
