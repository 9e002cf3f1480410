/**
 * The shape of a merge method: what it declares (parameters, needs, description — read by the recipe
 * parser, validator and writer, the plan, the studio's editors and the methods table) and how it computes one
 * tensor. Modelled on mergekit's MergeMethod (mergekit/merge_methods/base.py, registry.py).
 *
 * ## The arithmetic of one tensor: statistics passes, then one element-wise pass
 *
 * Every weights-only method in mergekit is, per tensor, either element-wise (linear, task arithmetic,
 * nearswap, ram) or element-wise once a few whole-tensor numbers are known: a magnitude threshold
 * (TIES, breadcrumbs), norms and dot products (the SLERP family, model_stock, karcher), variances
 * (sce), the L1 norm of a dropped delta (DARE/DELLA's rescale). So a method turns one output tensor
 * into a TensorProgram:
 *
 *   1. `passes`: zero or more statistics passes. The runner streams the tensor's inputs through each
 *      pass in order, in chunks (ElementChunk: f32 values of every input for elements
 *      [offset, offset + count)), calls `accumulate` on each chunk in element order, then `finish`.
 *      A pass's accumulators are a fixed size whatever the tensor's length (a 65536-bin histogram, a
 *      few f64 sums, at most one number per row or column), so memory stays flat — but for a program
 *      that asks for a `scratch` (one f32 per element, which its passes write and read: karcher's
 *      iterate, as mergekit keeps it). A pass may `skip()` itself once it is not needed (an iteration
 *      that has converged), so the number of passes that run depends on the data.
 *   2. `combine`: the output pass. For each chunk, out[e] is a pure function of the inputs' values at
 *      element e, the element's index (offset + e: random masks, tie cuts), its row/column (per-row
 *      statistics), and the scalars the passes produced. f32 arithmetic, in the order the method file
 *      documents (mirroring mergekit's torch expression), written to a Float32Array; the runner rounds
 *      once to the output dtype (round to nearest even, NaN → canonical quiet NaN).
 *
 * Inputs are decoded exactly (F16/BF16 → f32 exact, F64 rounded to f32 once). Kernel order: the base
 * first when the method uses one (`TensorContext.baseIndex` = 0), then the other models in recipe order.
 *
 * ## For a GPU backend
 *
 * Each pass names its reduction in `kind` (see StatisticsKind); the partial results of every kind are
 * mergeable by addition (sums, histogram counts, per-chunk tie counts), so a GPU computes one partial
 * per workgroup/chunk and adds them, in f32 or better. `describe()` gives, after the passes, the
 * element kernel's name and its scalars in a flat Float32Array (the uniform a WGSL kernel reads); the
 * CPU `combine` is the twin that kernel is tested against. Statistics accumulate in f64 on the CPU;
 * a GPU accumulating in f32 differs only in those scalars' last bits, which the 1-ulp-of-output
 * tolerance covers.
 */
import type { TensorContext, TensorProgram } from '../program/tensorProgram';

/** The arithmetic's types live with the program machinery that runs them; the methods read them from here too. */
export type { ElementChunk, ParameterValues, StatisticsKind, StatisticsPass, TensorContext, TensorProgram } from '../program/tensorProgram';

// ---- Declarations ----

/**
 * Where a parameter is set and how often it is evaluated:
 * - recipe: once for the whole merge (top-level `parameters:`, a plain value: random_seed);
 * - tensor: for every tensor, from the top-level `parameters:` (filters and layer gradients allowed:
 *   t, lambda, normalize, rescale) — mergekit's `parameters()`;
 * - model: for every tensor and every model, from the model's `parameters:` falling back to the
 *   top-level ones (filters and gradients allowed: weight, density, gamma, epsilon) — mergekit's
 *   `tensor_parameters()`.
 */
export type ParameterLevel = 'recipe' | 'tensor' | 'model';

export type ParameterKind = 'number' | 'integer' | 'boolean';

export interface ParameterRange {
  min?: number;
  max?: number;
  /** The bound itself is not allowed (density in (0, 1]). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface ParameterSpec {
  /** As mergekit names it. */
  name: string;
  level: ParameterLevel;
  kind: ParameterKind;
  /** Used when the recipe does not set it; absent when `required`, or when "unset" has a meaning. */
  default?: number | boolean;
  /** A recipe that leaves it unset is refused (for model parameters: for every model but the base). */
  required: boolean;
  range?: ParameterRange;
  /** One line for the studio's editor and the methods table. */
  description: string;
}

/** What a method needs of the recipe's models. */
export interface MethodNeeds {
  /**
   * required: task vectors are taken from base_model; optional: used when given (nuslerp,
   * multislerp); ignored: a base_model only names the reference for non-float tensors and config files.
   */
  base: 'required' | 'optional' | 'ignored';
  /** How many models besides the base it merges (the base excluded when it is listed among the models). */
  models: { min: number; max?: number };
  /** The whole-tensor statistics it computes before the element pass, for people (the methods table, the studio). */
  statistics: string[];
  /** Memory held per tensor beyond the streamed chunks, for the methods table. */
  memoryPerTensor: string;
  /** Accepts mergekit `slices:` recipes (passthrough); every other method takes `models:`. */
  slices?: boolean;
  /** Larger vocabularies (embedding/lm_head rows beyond the reference's) are cut to the reference's rows. */
  vocabulary: 'cut-to-reference' | 'common-rows' | 'equal';
  /** Draws random masks: `random_seed` is recorded in the output. */
  random?: boolean;
}

export interface MethodInfo {
  /** mergekit's name, written in `merge_method:`. */
  name: string;
  /** For people: "TIES", "Model Breadcrumbs". */
  title: string;
  /** One or two sentences for the studio's method picker. */
  description: string;
  reference: { label: string; url: string };
  parameters: ParameterSpec[];
  needs: MethodNeeds;
}

export interface MergeMethod extends MethodInfo {
  /** The arithmetic of one tensor. Throws InputError for values the recipe cannot use on it. */
  program(ctx: TensorContext): TensorProgram;
}
