/**
 * The arithmetic of one tensor as a method hands it to the program machinery: its context, the chunks
 * the runner streams, the statistics passes and the output pass (TensorProgram). The method
 * declarations (methods/types.ts) build these; the runners (runProgram.ts, gpu/runProgramGpu.ts) run
 * them. methods/types.ts describes the whole design.
 */
import type { FloatDtype } from '../../formats/dtype';
import type { GpuElements, GpuStatistic } from './gpuElements';

/** Resolved parameter values for one tensor. */
export type ParameterValues = Record<string, number | boolean | undefined>;

export interface TensorContext {
  name: string;
  shape: number[];
  numel: number;
  /** Number of kernel inputs (base included when used). */
  inputCount: number;
  /** 0 when inputs[0] is the base model; undefined when the method merges without one. */
  baseIndex: number | undefined;
  /** tensor- and recipe-level parameters. */
  params: ParameterValues;
  /** model-level parameters of each kernel input (the base's entry holds its own, usually unused). */
  modelParams: ParameterValues[];
  /** The merge's random seed (methods with needs.random). */
  seed: number;
  /** A stable 32-bit number for this tensor name: random streams differ per tensor. */
  tensorKey: number;
  /** The output dtype, for methods whose arithmetic depends on it (none today). */
  outDtype: FloatDtype;
}

/** f32 values of every input for elements [offset, offset + count) of the tensor. */
export interface ElementChunk {
  offset: number;
  count: number;
  x: Float32Array[];
  /**
   * The program's scratch (TensorProgram.scratch) over the same elements, read and written in place:
   * what a pass writes there, the later passes and `combine` read. Absent for programs without one.
   */
  scratch?: Float32Array;
}

/**
 * The reductions statistics passes perform (for GPU kernels; the CPU runs the pass's own code):
 * - moments: f64 sums of products of operands (norms², dot products, Σ|δ|, Σδ²), per tensor, row or column;
 * - radix-high / radix-low: 65536-bin histograms of the high / low 16 bits of an f32 key's bits
 *   (|δ|, a variance), per model: an exact rank select in two passes;
 * - tie-cut: counts of elements equal to a selected key, in element order, to find the index where a
 *   stable sort would cut them;
 * - row-rank: within each row, the stable ascending rank of |δ| (DELLA): rows are processed whole;
 * - custom: anything else the method file documents.
 */
export type StatisticsKind = 'moments' | 'radix-high' | 'radix-low' | 'tie-cut' | 'row-rank' | 'custom';

export interface StatisticsPass {
  readonly kind: StatisticsKind;
  /** For progress and errors: "magnitude threshold (high bits)". */
  readonly label: string;
  /** Chunk boundaries a pass needs: whole rows (row-rank). The runner chunks on multiples of this. */
  readonly chunkMultiple?: number;
  accumulate(chunk: ElementChunk): void;
  finish(): void;
  /**
   * Asked by the runner just before the pass would run (after the earlier passes' finish()): true
   * leaves it out, neither accumulate() nor finish() is called — an iteration that has converged
   * (karcher) skips the passes of the iterations it no longer needs.
   */
  skip?(): boolean;
  /** What a GPU backend computes instead of accumulate(), one per part of a zipped pass (gpuElements.ts); absent: the CPU runs it. */
  gpu?: GpuStatistic[];
}

export interface TensorProgram {
  passes: StatisticsPass[];
  /**
   * One f32 number per element that the runner keeps for this program while it runs the tensor
   * (karcher's tensor-sized iterate): allocated zeroed when the tensor starts, handed to every pass
   * and to `combine` as ElementChunk.scratch, dropped when the tensor is written. 4 bytes per
   * element, which the method's needs.memoryPerTensor states.
   */
  scratch?: boolean;
  /** The output pass: writes out[0 .. chunk.count) in f32. */
  combine(chunk: ElementChunk, out: Float32Array): void;
  /** Chunks of the output pass must be whole multiples of this (per-row scalars). */
  combineChunkMultiple?: number;
  /** After the passes: the element kernel and its scalars, for GPU backends and diagnostics. */
  describe(): { kernel: string; scalars: Float32Array };
  /** After the passes: the GPU element kernel that reproduces combine(), if there is one (gpuElements.ts). */
  gpuElements?(): GpuElements | undefined;
  /** Notes for the person, raised once per merge (e.g. "sce: tensor x has no task vector variance"). */
  notes?: string[];
}
