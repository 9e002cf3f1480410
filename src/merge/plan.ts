/**
 * Recipe + opened checkpoints → MergePlan: for every output tensor, what to compute and from what.
 *
 * A float tensor becomes a soup step: the kernel mode, its f32 coefficients (computed in f64 from the
 * recipe's parameters, then rounded once to f32; the f64 ones are kept for F64 outputs), the input tensors in kernel order and the output
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

export interface SoupStep {
  kind: 'soup';
  name: string;
  shape: number[];
  /** The dtype written; an F64 output is computed in f64 (runMerge), the others by the backend in f32. */
  outDtype: FloatDtype;
  mode: SoupMode;
  /** One per input, in kernel order (for delta, inputs[0] is the base and coefficients[0] is 0). */
  coefficients: Float32Array;
  /** The same coefficients before rounding to f32: what an F64 output is computed with. */
  exactCoefficients: Float64Array;
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

export type TensorStep = SoupStep | CopyStep;

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
  const report = preflight(ingredients, ingredients.indexOf(reference));
  if (report.errors.length > 0) throw new PreflightError(report);

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
    steps.push({
      kind: 'soup', name, shape: info.shape, outDtype, mode: step.mode,
      coefficients: Float32Array.from(step.coefficients), exactCoefficients: step.coefficients, inputs, inputLabels, weights, t,
    });
    for (const x of inputs) inputBytes += x.info.byteLength;
    outputBytes += numel * BYTES[outDtype];
  }
  return { recipe, steps, reference, ingredients, preflight: report, inputBytes, outputBytes };
}

const BYTES: Record<FloatDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** The kernel mode and f32 coefficients of one tensor: the method-specific part of the plan. */
function soupStep(
  recipe: Recipe,
  tensor: string,
  weights: number[],
  mergeParam: (name: string) => EvaluatedValue | undefined,
): { mode: SoupMode; coefficients: Float64Array } {
  const where = recipeWhere(recipe, recipe.parameters.normalize?.line ?? recipe.methodLine);
  // Normalising divides by the sum; weights near the f64 limit (1e308 twice) make it Infinity and
  // every share 0. Then the weights are scaled by the largest |w| first (the shares stay the same).
  const plainSum = weights.reduce((a, b) => a + b, 0);
  const scale = Number.isFinite(plainSum) ? 1 : Math.max(...weights.map(Math.abs));
  const scaled = weights.map((w) => w / scale);
  const sum = scaled.reduce((a, b) => a + b, 0);
  switch (recipe.method) {
    case 'linear': {
      const normalize = booleanParam(recipe, 'normalize', mergeParam('normalize'), true);
      if (normalize && sum === 0) {
        throw new InputError(`${where}the weights for tensor ${tensor} add up to 0, so they cannot be normalised; change them or set normalize: false`);
      }
      const c = new Float64Array(weights.length);
      weights.forEach((w, i) => (c[i] = normalize ? scaled[i] / sum : w));
      checkFinite(recipe, tensor, c);
      return { mode: 'linear', coefficients: c };
    }
    case 'task_arithmetic': {
      const normalize = booleanParam(recipe, 'normalize', mergeParam('normalize'), false);
      const lambda = numberParam(recipe, 'lambda', mergeParam('lambda'), 1, undefined, tensor);
      // mergekit leaves a (near-)zero sum of weights undivided rather than dividing by it.
      const divide = normalize && Math.abs(sum * scale) >= 1e-8;
      const c = new Float64Array(weights.length + 1);
      weights.forEach((w, i) => (c[i + 1] = divide ? (lambda * scaled[i]) / sum : lambda * w));
      checkFinite(recipe, tensor, c);
      return { mode: 'delta', coefficients: c };
    }
  }
}

function checkFinite(recipe: Recipe, tensor: string, c: Float64Array): void {
  for (const x of c) {
    if (!Number.isFinite(Math.fround(x))) {
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
