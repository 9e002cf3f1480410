/**
 * One elementwise soup job — the unit of work the merge orchestrator hands to a backend — and the
 * single-threaded reference arithmetic every backend (CPU workers, WGSL on WebGPU) is tested against.
 *
 * Arithmetic (binding for every backend):
 *   linear: acc = 0;  for i in order: acc = f32(acc + f32(cᵢ·xᵢ))
 *   delta:  acc = b;  for i ≥ 1:      acc = f32(acc + f32(cᵢ·f32(xᵢ − b)))     (b = inputs[0], c₀ unused)
 * then one rounding of acc to outDtype, round to nearest even; a NaN becomes the canonical quiet NaN
 * (F32 0x7fc00000, BF16 0x7fc0, F16 0x7e00). Inputs are decoded exactly (f16/bf16 → f32 is exact).
 *
 * Backends: the CPU backend (src/merge/cpu: WebAssembly SIMD or JavaScript loops, in worker threads
 * or web workers) is bit-exact to this reference. The WebGPU backend (shaders/merge/soup.wgsl, driven by
 * src/merge/gpu/webgpuSoupBackend.ts) is allowed 1 ulp of the output dtype with ≥ 99.9 % of elements
 * identical, because a GPU may flush f32 subnormals to zero; the kernel prevents FMA contraction and
 * does every decode, encode and NaN test on integer bits (SwiftShader, for one, flushes subnormal BF16 inputs to zero; every other element it computes matches).
 */
import { InputError } from '../errors';
import type { ProgramTensor } from './program/runProgram';
import type { LoraRowsComputer } from '../formats/lora/loraRows';
import { bf16ToF32Bits, bitsToF32, f16ToF32Bits, f32BitsToBf16, f32BitsToF16, f32ToBits } from '../formats/floatCodecs';
import { KERNEL_DTYPE_BYTES, type KernelDtype } from './kernelDtype';

export { KERNEL_DTYPE_BYTES, type KernelDtype };

export interface SoupInput {
  dtype: KernelDtype;
  /** elementCount × size of dtype bytes, little-endian; the view's byteOffset may be anything. */
  bytes: Uint8Array;
}

interface SoupJobCommon {
  /** f32 coefficients computed by the plan on the host (weights already normalised / × λ), one per input. */
  coefficients: Float32Array;
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  /**
   * Where the caller would like the result (elementCount × size of outDtype bytes). A backend may
   * write it there and return that view, or return bytes of its own; the caller uses what run() returns.
   */
  output?: Uint8Array;
}

/** Σ cᵢ·xᵢ over all inputs. */
export interface LinearSoupJob extends SoupJobCommon {
  mode: 'linear';
}

/** b + Σ cᵢ·(xᵢ − b) with b = inputs[0], the base; coefficients[0] is ignored. */
export interface DeltaSoupJob extends SoupJobCommon {
  mode: 'delta';
}

/**
 * A discriminated union on `mode`, so that methods with their own parameters (TIES' density and sign
 * election, DARE's drop rate and seed, SLERP's t) are added as new members without touching these.
 */
export type SoupJob = LinearSoupJob | DeltaSoupJob;
export type SoupMode = SoupJob['mode'];

/** The parts of a job the arithmetic needs; inputs and output cover the same `count` elements. */
export interface SoupSpan {
  mode: SoupMode;
  coefficients: Float32Array;
  inputs: { dtype: KernelDtype; bytes: Uint8Array }[];
  outDtype: KernelDtype;
  count: number;
}

export interface SoupBackend {
  readonly kind: 'webgpu' | 'cpu';
  /** For people, e.g. "WebGPU on nvidia / hopper" or "CPU, 2 worker threads". */
  readonly description: string;
  /** The orchestrator never sends a job with more elements than this. */
  readonly maxChunkElements: number;
  /**
   * True when run() takes inputs and `output` in SharedArrayBuffers and works on them in place: the
   * orchestrator then reads straight into shared memory it reuses (no copies between threads).
   */
  readonly sharedMemory?: boolean;
  /**
   * `count` views of `bytes` bytes each in memory the backend's kernels compute in place with no copy
   * at all (the CPU backend: a shared WebAssembly memory its SIMD kernel reads and writes), lent to
   * the caller's slabs until release(); undefined where there is none. Jobs elsewhere in shared memory
   * still run.
   */
  sharedSlabs?(bytes: number, count: number): { slabs: Uint8Array[]; release(): void } | undefined;
  /** May be called concurrently; the backend pipelines. Rejects with CancelledError when `signal` fires. */
  run(job: SoupJob, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Runs a registry method's tensor (statistics passes, then the output pass), yielding the output in
   * order; absent, the method runs on the CPU (program/runProgram.ts). The WebGPU backend's runs the
   * passes and kernels it has on the GPU.
   */
  runProgram?(tensor: ProgramTensor, opts: { maxChunkElements: number; signal?: AbortSignal }): AsyncIterableIterator<Uint8Array>;
  /**
   * Set where runProgram() starts its work at once (on other threads) rather than when first iterated:
   * how many method tensors after the one being written runMerge may start early, so that several
   * tensors compute at a time. Their iterators are drained in order, or closed (return()) on failure.
   */
  readonly programsAhead?: number;
  /**
   * Starts now what the first job would otherwise wait for (the CPU backend's worker threads: their
   * scripts load in ≈ 0.1–0.2 s), so that a backend made before the user asks to merge is ready.
   */
  warm?(): void;
  /**
   * Computes the rows of LoRA-adapted inputs (src/formats/lora) while this backend merges; absent, the
   * CPU does (the WebGPU backend's runs shaders/merge/loraRows.wgsl). runRecipe binds it to the inputs.
   */
  readonly loraRows?: LoraRowsComputer;
  dispose(): Promise<void>;
}

/** Canonical quiet NaN bit patterns of the output dtypes. */
export const CANONICAL_NAN = { F32: 0x7fc00000, F16: 0x7e00, BF16: 0x7fc0 } as const;

/**
 * Checks a job's shape; every backend calls this before doing any work. The messages are for the
 * person running the merge, but a failure here is a bug in the plan rather than in their files.
 */
export function validateSoupJob(job: SoupJob): void {
  const n = job.elementCount;
  if (!Number.isInteger(n) || n < 0) throw new InputError(`soup job: element count ${n} is not a whole number ≥ 0`);
  if (job.mode !== 'linear' && job.mode !== 'delta') throw new InputError(`soup job: unknown mode ${String((job as { mode: unknown }).mode)}`);
  if (job.inputs.length === 0) throw new InputError('soup job: no inputs');
  if (job.coefficients.length !== job.inputs.length) {
    throw new InputError(`soup job: ${job.coefficients.length} coefficients for ${job.inputs.length} inputs`);
  }
  for (let i = 0; i < job.coefficients.length; i++) {
    if (!Number.isFinite(job.coefficients[i])) throw new InputError(`soup job: coefficient ${i} is ${job.coefficients[i]}, not a finite number`);
  }
  if (!(job.outDtype in KERNEL_DTYPE_BYTES)) throw new InputError(`soup job: output dtype ${String(job.outDtype)} is not F32, F16 or BF16`);
  job.inputs.forEach((input, i) => {
    const size = KERNEL_DTYPE_BYTES[input.dtype];
    if (size === undefined) throw new InputError(`soup job: input ${i} has dtype ${String(input.dtype)}, not F32, F16 or BF16`);
    if (input.bytes.byteLength !== n * size) {
      throw new InputError(`soup job: input ${i} (${input.dtype}) has ${input.bytes.byteLength} bytes, expected ${n * size} for ${n} elements`);
    }
  });
}

// ---- The reference: one element at a time, written for clarity, not speed. ----

function readElement(input: SoupInput, view: DataView, i: number): number {
  switch (input.dtype) {
    case 'F32':
      return view.getFloat32(i * 4, true);
    case 'BF16':
      return bitsToF32(bf16ToF32Bits(view.getUint16(i * 2, true)));
    case 'F16':
      return bitsToF32(f16ToF32Bits(view.getUint16(i * 2, true)));
  }
}

function writeElement(outDtype: KernelDtype, view: DataView, i: number, acc: number): void {
  if (Number.isNaN(acc)) {
    if (outDtype === 'F32') view.setUint32(i * 4, CANONICAL_NAN.F32, true);
    else view.setUint16(i * 2, CANONICAL_NAN[outDtype], true);
    return;
  }
  switch (outDtype) {
    case 'F32':
      view.setFloat32(i * 4, acc, true);
      return;
    case 'BF16':
      view.setUint16(i * 2, f32BitsToBf16(f32ToBits(acc)), true);
      return;
    case 'F16':
      view.setUint16(i * 2, f32BitsToF16(f32ToBits(acc)), true);
      return;
  }
}

/** The single-threaded reference arithmetic (see the top of this file). Slow and obviously right. */
export function runSoupJobReference(job: SoupJob): Uint8Array {
  validateSoupJob(job);
  const n = job.elementCount;
  const out = new Uint8Array(n * KERNEL_DTYPE_BYTES[job.outDtype]);
  const outView = new DataView(out.buffer);
  const views = job.inputs.map((inp) => new DataView(inp.bytes.buffer, inp.bytes.byteOffset, inp.bytes.byteLength));
  const c = job.coefficients;
  const fr = Math.fround;
  for (let e = 0; e < n; e++) {
    let acc: number;
    if (job.mode === 'linear') {
      acc = 0;
      for (let i = 0; i < job.inputs.length; i++) acc = fr(acc + fr(c[i] * readElement(job.inputs[i], views[i], e)));
    } else {
      const b = readElement(job.inputs[0], views[0], e);
      acc = b;
      for (let i = 1; i < job.inputs.length; i++) acc = fr(acc + fr(c[i] * fr(readElement(job.inputs[i], views[i], e) - b)));
    }
    writeElement(job.outDtype, outView, e, acc);
  }
  return out;
}
