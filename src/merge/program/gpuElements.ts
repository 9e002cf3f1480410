/**
 * What a method's TensorProgram tells a GPU backend, beside its CPU code: which statistics passes a
 * GPU kernel can compute instead (GpuStatistic, attached to a StatisticsPass), and which element kernel
 * reproduces `combine` once the passes are done (GpuElements). A program that says nothing runs on the
 * CPU whatever the backend; the CPU code stays the definition the GPU kernels are tested against.
 */
import type { ModelKeep, SelectionBoundary } from './keep';
import type { Lines } from './lineSums';
import type { SelectionKey, TensorSums, VectorsSpec } from './tensorStats';

export type GpuStatistic =
  /**
   * The boundary of the `rank()` smallest |x_input − x_base| — or, with `variance`, of the variances across
   * every input but the base (sce) — (stable order, select.ts); the GPU answers
   * with accept() instead of the pass's accumulate() calls. finish() is still called.
   */
  | { kind: 'selection'; input: number; base: number | undefined; variance?: boolean; rank(): number; accept(boundary: SelectionBoundary): void }
  /** How many elements have `value` as their key (sce: zero variances); the GPU answers with accept(). */
  | { kind: 'count'; key: SelectionKey; value: number; accept(count: number): void }
  /**
   * Blocked sums Σ dᵢ·dⱼ and Σ|dᵢ| (or what the spec's chain or keeps ask for: tensorStats.ts sumTerms) of the vectors `spec()` names (called after the
   * earlier passes: divisors may be their norms); the pass's accumulate() computes the same sums to the
   * same bits on the CPU. The GPU answers with accept(); finish() is still called. With `scratch`, the
   * program's scratch is one more F32 input, after the inputs (the spec's vectors count it).
   */
  | { kind: 'sums'; spec(): VectorsSpec; accept(sums: TensorSums): void; scratch?: boolean }
  /**
   * A vector an element kernel computes (`elements()`, called after the earlier passes), chunk by chunk:
   * written to the program's scratch when `store` says so, and its blocked sums (one vector: Σ v² of exact
   * squares, Σ|v|) given to accept(). finish() is still called.
   */
  | { kind: 'vector'; elements(): MethodElements; store: boolean; accept(sums: TensorSums): void }
  /**
   * The sums of `spec()` (tensorStats.ts sumTerms; no chain, no keeps) per row or column (lineSums.ts),
   * the vectors of line l divided by lineDivisors()[l·m + k] when given: accept() gets
   * values[l·terms + t]. The pass's accumulate() computes the same sums to the same bits on the CPU;
   * finish() is still called.
   */
  | { kind: 'line-sums'; lines: Lines; spec(): VectorsSpec; lineDivisors?(): Float32Array; accept(values: Float64Array): void }
  /**
   * DELLA's keep masks (taskArithmeticFamily.ts dellaMask): each model's bits over the whole tensor, from
   * the ranks of |x_input − x_base| within each row and the seeded draws; the GPU answers with accept(),
   * one Uint32Array per model (bit e of words[e >>> 5]). finish() is still called.
   */
  | { kind: 'della-keeps'; spec(): DellaKeepsSpec; accept(masks: Uint32Array[]): void }
  /** Computed by the GPU statistic of an earlier pass (the later radix passes of one selection): nothing to do. */
  | { kind: 'covered' };

/** What DELLA's masks are drawn from: rows of `rowLength` elements, and per model its input, random stream, f32(d − ε) and f32(ε). */
export interface DellaKeepsSpec {
  base: number;
  rowLength: number;
  models: { input: number; stream: number; low: number; epsilon: number }[];
}

/** The generalised task arithmetic's element pass (taskArithmeticFamily.ts): inputs are the base, then the models. */
export interface TaskArithmeticElements {
  kernel: 'task_arithmetic';
  models: { weight: number; scale: number; keep: ModelKeep }[];
  consensus: boolean;
  normalize: boolean;
  /** Without consensus: normalize's divisor. */
  divisor: number;
  lambda: number;
}

/** out = Σ cᵢ·xᵢ in input order, f32, from +0 (linear, karcher, SLERP's two coefficients, a copy). */
export interface LinearElements {
  kernel: 'linear';
  coefficients: Float32Array;
}

/**
 * A method with its own element kernel in shaders/merge/methodElements.wgsl, and that kernel's f32 scalars:
 * slerp's pair [c₀, c₁] (out = f32(c₀·a) + f32(c₁·b), the signs of zeros as the CPU's);
 * model_stock [t, f32(1 − t), N]; nearswap [t, 1e-6]; ram [ε]; ramplus (ramplus_tl) [ε, λ₀ … λₙ₋₁];
 * arcee_fusion [T] with each row's KL divergence as its line coefficient; sce [ω₀ … ωₙ₋₁, 1e-6, n];
 * nuslerp [lerp (1 or 0), a, b, divisor];
 * multislerp [w₀ … wₙ₋₁, den₀ … denₙ₋₁, p₀ … pₙ₋₁, ‖m‖, cos ρ, sin ρ/ρ, Σ‖vᵢ‖wᵢ, lerp (1: the 2-model fallback, or 0)];
 * karcher's four kernels (its iteration's vectors and its output), the layout methodElements.wgsl states.
 */
export interface MethodElements {
  kernel: 'pair' | 'model_stock' | 'nearswap' | 'ram' | 'ramplus' | 'arcee_fusion' | 'sce' | 'nuslerp' | 'multislerp' | 'karcher_start' | 'karcher_tangent' | 'karcher_step' | 'karcher';
  scalars: number[];
  /** The program's scratch (TensorProgram.scratch) is one more F32 input: after the inputs, or alone. */
  scratch?: 'after' | 'alone';
  /** nuslerp, multislerp: the inputs are the base, then the models (task vectors, added back to the base). */
  base?: boolean;
  /** sce: which elements keep their deltas — all, none, or those not below `boundary` (variance keys). */
  keep?: 'all' | 'none' | 'select';
  boundary?: SelectionBoundary;
  /**
   * nuslerp by row or column, model_stock's filter_wise, arcee_fusion: coefficients per line instead of the uniform
   * ones — `perLine` f32 values for each line l at values[l·perLine …] (nuslerp: lerp, a, b, divisor;
   * model_stock: t, f32(1 − t); arcee_fusion: the row's KL divergence); `scalars` keeps the rest (model_stock: N).
   */
  lines?: { lines: Lines; perLine: number; values: Float32Array };
}

/**
 * Every output element is NaN, as the program's statistics prove (multislerp with a NaN among its scalars:
 * each element's chain passes through it): the runner writes the output dtype's NaN without a kernel and
 * without reading the inputs; the CPU's combine() gives the same bits.
 */
export interface NaNElements {
  kernel: 'nan';
}

export type GpuElements = TaskArithmeticElements | LinearElements | MethodElements | NaNElements;
