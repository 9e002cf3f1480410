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
import { layerCountOf, layerIndexOf, layerPositionOf, resolveParameter, type EvaluatedValue } from './params';
import { preflight, PreflightError, type PreflightReport } from './preflight';
import { recipeWhere, type ModelRef, type Recipe, type RecipeSlice } from './recipe';
import { getMethod } from './methods/registry';
import { tensorKeyOf } from './program/counterRandom';
import { numberProblem } from './program/parameterChecks';
import type { MergeMethod, ParameterSpec, ParameterValues, TensorContext, TensorProgram } from './methods/types';

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
  /**
   * What built `program`: the registry method's name and the tensor's context, plain data from which
   * another thread rebuilds the same program (getMethod(method).program(context)) to run it there.
   */
  method: string;
  context: TensorContext;
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
  /**
   * True when a method may stop before its last declared pass (karcher: once it has converged):
   * inputBytes then counts every pass it may run, an upper bound.
   */
  inputBytesAtMost?: boolean;
  outputBytes: number;
  /** The output's number of layers when it differs from the reference's (a `slices:` recipe). */
  outputLayers?: number;
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
  const method = getMethod(recipe.method);
  if (recipe.slices) return planSlices(recipe, method, ingredients);
  const reference = byPath.get(recipe.baseModel?.path ?? recipe.models[0].model.path)!;
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
      steps.push(copyStep(name, refTensor, reference.label));
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
  let inputBytesAtMost = false;
  let outputBytes = 0;
  for (const [name, refTensor] of reference.checkpoint.tensors) {
    const info = refTensor.info;
    if (!isFloatDtype(info.dtype)) {
      steps.push(copyStep(name, refTensor, reference.label));
      inputBytes += info.byteLength;
      outputBytes += info.byteLength;
      continue;
    }
    const inputs = members.map((m) => m.ingredient.checkpoint.tensors.get(name)!);
    const step = buildMethodStep(recipe, method, {
      name,
      refShape: info.shape,
      t: layerPositionOf(name, layerCount),
      seed,
      baseIndex,
      members: members.map((m, i) => ({ tensor: inputs[i], label: m.ingredient.label, ref: m.ref, levels: [m.parameters, recipe.parameters] })),
      tensorLevels: [recipe.parameters],
    });
    steps.push(step);
    const reads = methodStepReads(step, inputs);
    inputBytes += reads.bytes;
    inputBytesAtMost ||= reads.atMost;
    outputBytes += numelOf(step.shape) * BYTES[step.outDtype];
  }
  return { recipe, steps, reference, ingredients, preflight: report, inputBytes, inputBytesAtMost, outputBytes };
}

/**
 * Bytes a method step reads: each input once per statistics pass and once for the output; `atMost`
 * when a pass may skip itself (karcher's iterations after it converges).
 */
function methodStepReads(step: MethodStep, inputs: CheckpointTensor[]): { bytes: number; atMost: boolean } {
  const numel = numelOf(step.shape);
  const reads = step.program.passes.length + 1;
  return { bytes: inputs.reduce((s, x) => s + reads * numel * BYTES[x.info.dtype as FloatDtype], 0), atMost: step.program.passes.some((p) => p.skip !== undefined) };
}

const PRE_WEIGHT = /embed|(?:^|\.)(?:wte|wpe)(?:\.|$)/;
const LAYER_NAME = /((?:^|\.)(?:layers|layer|h|blocks|block)\.)(\d+)(?=\.|$)/;

/**
 * A `slices:` recipe (a frankenmerge), as mergekit's MergePlanner.plan_module lays it out: the
 * embeddings from the first slice's sources, then each slice's layers in order, renumbered from 0
 * (layer i of a slice reads layer first + i of each source; t = i/(n − 1) within the slice, 1 for a
 * one-layer slice), then the final norm and lm_head from the last slice's sources; every tensor merged
 * by the method over the slice's sources (passthrough: copied, or scaled). Parameters: the source's
 * own, then the slice's, then the recipe's.
 */
function planSlices(recipe: Recipe, method: MergeMethod, ingredients: Ingredient[]): MergePlan {
  const byPath = new Map(ingredients.map((g) => [g.path, g]));
  const slices = recipe.slices!;
  const reference = byPath.get(slices[0].sources[0].model.path)!;
  const report: PreflightReport = { errors: [], warnings: [], infos: [], reference: reference.label };
  const seedSetting = recipe.parameters.random_seed;
  const seed = seedSetting?.kind === 'value' && typeof seedSetting.value === 'number' ? seedSetting.value >>> 0 : 0;
  const basePath = recipe.baseModel?.path;
  const steps: TensorStep[] = [];
  let inputBytes = 0;
  let inputBytesAtMost = false;
  let outputBytes = 0;

  const add = (outName: string, slice: RecipeSlice, sourceNames: string[], t: number) => {
    const order = slice.sources.map((src, i) => ({ src, name: sourceNames[i] }));
    let baseIndex: number | undefined;
    if (method.needs.base !== 'ignored' && basePath !== undefined) {
      const b = order.findIndex((o) => o.src.model.path === basePath);
      if (b >= 0) {
        order.unshift(...order.splice(b, 1));
        baseIndex = 0;
      }
    }
    const tensors = order.map((o) => {
      const g = byPath.get(o.src.model.path)!;
      const tensor = g.checkpoint.tensors.get(o.name);
      if (!tensor) throw new InputError(`${recipeWhere(recipe, o.src.line ?? slice.line)}model ${o.src.model.path} has no tensor ${o.name} (layer_range [${o.src.layerRange.join(', ')}])`);
      return tensor;
    });
    const first = tensors[0].info;
    tensors.forEach((x, i) => {
      if (x.info.shape.join() !== first.shape.join()) {
        throw new InputError(`${recipeWhere(recipe, order[i].src.line ?? slice.line)}${order[i].src.model.path}: tensor ${order[i].name} has shape [${x.info.shape.join(', ')}], ${order[0].src.model.path} has [${first.shape.join(', ')}] (${order[0].name})`);
      }
    });
    if (!isFloatDtype(first.dtype)) {
      steps.push(copyStep(outName, tensors[0], byPath.get(order[0].src.model.path)!.label));
      inputBytes += first.byteLength;
      outputBytes += first.byteLength;
      return;
    }
    const step = buildMethodStep(recipe, method, {
      name: outName,
      refShape: first.shape,
      t,
      seed,
      baseIndex,
      members: order.map((o, i) => ({ tensor: tensors[i], label: byPath.get(o.src.model.path)!.label, ref: o.src.model, levels: [o.src.parameters, slice.parameters, recipe.parameters] })),
      tensorLevels: [slice.parameters, recipe.parameters],
    });
    steps.push(step);
    const reads = methodStepReads(step, tensors);
    inputBytes += reads.bytes;
    inputBytesAtMost ||= reads.atMost;
    outputBytes += numelOf(step.shape) * BYTES[step.outDtype];
  };

  const outside = [...reference.checkpoint.tensors.keys()].filter((n) => layerIndexOf(n) === undefined);
  for (const name of outside.filter((n) => PRE_WEIGHT.test(n))) add(name, slices[0], slices[0].sources.map(() => name), 0);
  let outLayer = 0;
  for (const slice of slices) {
    const n = slice.sources[0].layerRange[1] - slice.sources[0].layerRange[0];
    const firstModel = byPath.get(slice.sources[0].model.path)!.checkpoint;
    const layerNames = (i: number) => [...firstModel.tensors.keys()].filter((k) => layerIndexOf(k) === i);
    for (let idx = 0; idx < n; idx++) {
      const t = n > 1 ? idx / (n - 1) : 1;
      const names = layerNames(slice.sources[0].layerRange[0] + idx);
      if (names.length === 0) {
        throw new InputError(`${recipeWhere(recipe, slice.sources[0].line ?? slice.line)}model ${slice.sources[0].model.path} has no layer ${slice.sources[0].layerRange[0] + idx} (layer_range [${slice.sources[0].layerRange.join(', ')}])`);
      }
      for (const name of names) {
        add(withLayer(name, outLayer), slice, slice.sources.map((src) => withLayer(name, src.layerRange[0] + idx)), t);
      }
      outLayer++;
    }
  }
  const last = slices[slices.length - 1];
  for (const name of outside.filter((n) => !PRE_WEIGHT.test(n))) add(name, last, last.sources.map(() => name), 0);
  return { recipe, steps, reference, ingredients, preflight: report, inputBytes, inputBytesAtMost, outputBytes, outputLayers: outLayer };
}

/** A tensor that is not floating point (token type ids, masks) goes to the output as `from` has it. */
function copyStep(name: string, source: CheckpointTensor, from: string): CopyStep {
  return { kind: 'copy', name, shape: source.info.shape, dtype: source.info.dtype, source, from };
}

function withLayer(name: string, layer: number): string {
  return name.replace(LAYER_NAME, (_m, prefix: string) => `${prefix}${layer}`);
}

interface StepSpec {
  /** The output tensor's name. */
  name: string;
  refShape: number[];
  t: number;
  seed: number;
  baseIndex: number | undefined;
  /** Kernel inputs in order, each with the parameter maps it reads, most specific first. */
  members: { tensor: CheckpointTensor; label: string; ref: ModelRef; levels: (Recipe['parameters'] | undefined)[] }[];
  /** Where tensor-level parameters are read, most specific first. */
  tensorLevels: (Recipe['parameters'] | undefined)[];
}

/** One float tensor of a registry method: parameters resolved and checked, the method's TensorProgram. */
function buildMethodStep(recipe: Recipe, method: MergeMethod, spec: StepSpec): MethodStep {
  const { name, t } = spec;
  const inputs = spec.members.map((m) => m.tensor);
  const shape = outputShape(method, spec.refShape, inputs.map((x) => x.info.shape));
  const numel = numelOf(shape);
  const params: ParameterValues = {};
  for (const p of method.parameters) {
    if (p.level === 'model') continue;
    params[p.name] = checkedValue(recipe, method, p, resolveParameter(p.name, name, t, spec.tensorLevels), name, undefined);
  }
  const modelParams = spec.members.map((m, i) => {
    const values: ParameterValues = {};
    for (const p of method.parameters) {
      if (p.level !== 'model') continue;
      const v = resolveParameter(p.name, name, t, m.levels);
      values[p.name] = i === spec.baseIndex && v === undefined ? undefined : checkedValue(recipe, method, p, v, name, m.ref);
    }
    return values;
  });
  const outDtype = recipe.outDtype ?? recipe.dtype ?? (inputs[0].info.dtype as FloatDtype);
  let program: TensorProgram;
  const context: TensorContext = { name, shape, numel, inputCount: inputs.length, baseIndex: spec.baseIndex, params, modelParams, seed: spec.seed, tensorKey: tensorKeyOf(name), outDtype };
  try {
    program = method.program(context);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${recipeWhere(recipe, recipe.methodLine)}${recipe.method}: ${e.message}`);
    throw e;
  }
  return { kind: 'method', name, shape, outDtype, inputs, inputLabels: spec.members.map((m) => m.label), program, method: method.name, context, t };
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
  const problem = numberProblem(spec, v);
  if (problem) throw new InputError(`${where}${spec.name}${of} is ${v} for tensor ${tensor}; it ${problem}`);
  return v;
}

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
    default:
      throw new Error(`soupStep: ${recipe.method} is planned by planMethod`);
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
  for (const r of [recipe.baseModel, ...recipe.models.map((m) => m.model), ...(recipe.slices ?? []).flatMap((sl) => sl.sources.map((s) => s.model))]) {
    if (r && !seen.has(r.path)) {
      seen.add(r.path);
      out.push(r);
    }
  }
  return out;
}

/** Checkpoint names, made unique with the recipe path when two models share one (two model.safetensors). */
export function labelIngredients(items: { path: string; checkpoint: Checkpoint }[]): string[] {
  const names = items.map((i) => lastSegment(i.checkpoint.name));
  return items.map((item, k) => (names.filter((n) => n === names[k]).length > 1 ? item.path : names[k]));
}

function lastSegment(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? path;
}
