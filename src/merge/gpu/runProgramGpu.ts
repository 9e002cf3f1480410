/**
 * Runs one tensor's TensorProgram (src/merge/methods) with the GPU doing what it can: the statistics
 * passes that carry a GpuStatistic (selections, counts and sums: shaders/merge/stats.wgsl through tensorStats.ts),
 * and the element pass when the program names a GPU element kernel (gpuElements(): the task-arithmetic
 * family's shaders/merge/taskArithmetic.wgsl, the other methods' shaders/merge/methodElements.wgsl, or a linear
 * combination on shaders/merge/soup.wgsl). Every other
 * pass, and the element pass of a program without a GPU kernel, runs the program's own CPU code on
 * streamed chunks — so every method runs with `--backend webgpu`, and the GPU results are the CPU's
 * within the tolerance the tests hold them to (1 ulp of the output dtype, ≥ 99.9 % identical).
 *
 * Memory: one chunk of every input in flight (and, for a selection, the tensor's chunks on the GPU
 * while they fit tensorStats' resident budget), whatever the number of tensors; a program's scratch
 * (karcher's iterate) stays here, 4 bytes per element, and goes to the kernels that read it as one
 * more F32 input — a 'vector' statistic's kernel writes it back chunk by chunk.
 */
import { throwIfAborted } from '../../errors';
import type { FloatDtype } from '../../formats/dtype';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../../formats/floatArrays';
import { KERNEL_DTYPE_BYTES, type KernelDtype, type SoupInput, type SoupJob } from '../kernel';
import { elementsOf } from '../program/elementsOf';
import type { MethodElements } from '../program/gpuElements';
import type { SelectionBoundary } from '../program/keep';
import type { MagnitudeSelection, SelectionKey, TensorChunkSource } from '../program/tensorStats';
import { canonicalNaNs, programChunkElements, programScratch, readInputRange, runTensorProgram, withScratch, type ProgramTensor } from '../program/runProgram';
import type { ElementChunk, StatisticsPass } from '../methods/types';
import { methodElementsJob } from './methodElementsKernel';
import { taskArithmeticJob } from './taskArithmeticKernel';
import type { GpuTensorStats } from './tensorStatsGpu';
import type { WebGPUSoupBackend } from './gpuSoupBackend';

export interface GpuProgramOptions {
  backend: WebGPUSoupBackend;
  stats: GpuTensorStats;
  maxChunkElements: number;
  signal?: AbortSignal;
  /** Counts what ran where, for tests and progress. */
  counters?: { gpuPasses: number; cpuPasses: number; gpuElementChunks: number; cpuElementChunks: number };
}

const KERNEL_DTYPES = new Set<string>(['F32', 'F16', 'BF16']);

/** The statistics boundary of a GPU selection ("the r smallest"), as select.ts states it. */
export function boundaryOf(sel: MagnitudeSelection): SelectionBoundary {
  if (sel.count === 0) return { valueBits: 0, cutIndex: 0, below: 0 };
  return { valueBits: sel.threshold, cutIndex: sel.cut >= Number.MAX_SAFE_INTEGER ? Infinity : sel.cut, below: sel.before };
}

export async function* runTensorProgramOnGpu(t: ProgramTensor, opts: GpuProgramOptions): AsyncGenerator<Uint8Array> {
  const { program } = t;
  const dtypes = t.inputs.map((i) => i.info.dtype);
  // F64 inputs or output: the CPU's runner, all of it.
  if (!(KERNEL_DTYPES.has(t.outDtype) && dtypes.every((d) => KERNEL_DTYPES.has(d)))) {
    yield* runTensorProgram(t, opts);
    return;
  }
  const chunkElements = programChunkElements(program, Math.min(opts.maxChunkElements, opts.backend.maxChunkElements));
  // Whole rows longer than a GPU job (a row-wise program on a huge row): the CPU's element pass.
  const fitsGpu = chunkElements <= opts.backend.maxChunkElements;
  const readRaw = (start: number, count: number): Promise<Uint8Array[]> => readInputRange(t, start, count);
  const source: TensorChunkSource = { elementCount: t.numel, dtypes: dtypes as KernelDtype[], read: (s, c) => readRaw(s, c) };
  const scratch = programScratch(t);
  const toChunk = (offset: number, raw: Uint8Array[]): ElementChunk =>
    withScratch(
      {
        offset,
        count: raw.length ? raw[0].length / FLOAT_BYTES[dtypes[0] as FloatDtype] : 0,
        x: raw.map((bytes, i) => decodeToF32(dtypes[i] as FloatDtype, bytes)),
      },
      scratch,
    );
  async function* rawChunks(): AsyncGenerator<{ offset: number; raw: Uint8Array[] }> {
    let pending = t.numel > 0 ? readRaw(0, Math.min(chunkElements, t.numel)) : undefined;
    for (let offset = 0; offset < t.numel && pending; ) {
      const raw = await pending;
      throwIfAborted(opts.signal);
      const here = offset;
      offset += chunkElements;
      pending = offset < t.numel ? readRaw(offset, Math.min(chunkElements, t.numel - offset)) : undefined;
      pending?.catch(() => undefined);
      yield { offset: here, raw };
    }
  }

  // The program's scratch as one more F32 input of a statistic or an element kernel.
  const scratchBytes = (start: number, count: number): Uint8Array => new Uint8Array(scratch!.buffer, start * 4, count * 4);
  const withScratchInput: TensorChunkSource = { elementCount: t.numel, dtypes: [...source.dtypes, 'F32'], read: async (s, c) => [...(await readRaw(s, c)), scratchBytes(s, c)] };
  const elementInputs = (raw: Uint8Array[], offset: number, count: number, scratchAt: MethodElements['scratch']): SoupInput[] => {
    const inputs = scratchAt === 'alone' ? [] : raw.map((bytes, i) => ({ dtype: dtypes[i] as KernelDtype, bytes }));
    return scratchAt ? [...inputs, { dtype: 'F32', bytes: scratchBytes(offset, count) }] : inputs;
  };
  /** The vector an element kernel computes, as a source for the sums (each range computed when the sums read it, stored to the scratch if asked). */
  const vectorSource = (elements: MethodElements, store: boolean): TensorChunkSource => ({
    elementCount: t.numel,
    dtypes: ['F32'],
    read: async (start, count) => {
      const inputs = elementInputs(await readRaw(start, count), start, count, elements.scratch);
      const bytes = await opts.backend.runElementwise(methodElementsJob({ inputs, outDtype: 'F32', elementCount: count, offset: start, elements }), opts.signal);
      if (store) scratchBytes(start, count).set(bytes);
      return [bytes];
    },
  });
  const gpuCanTake = (pass: StatisticsPass): boolean => pass.gpu !== undefined && pass.gpu.length > 0;
  for (const pass of program.passes) {
    if (pass.skip?.()) continue;
    // Per-line sums the GPU cannot chunk (a column group larger than one binding): the CPU's pass.
    let onGpu = gpuCanTake(pass);
    if (onGpu) {
      for (const s of pass.gpu!) {
        if (s.kind === 'line-sums') {
          const values = await opts.stats.lineSums(source, s.lines, s.spec(), s.lineDivisors?.(), opts.signal);
          if (values) s.accept(values);
          else onGpu = false;
        } else if (s.kind === 'della-keeps') {
          const masks = await opts.stats.dellaKeeps(source, s.spec(), opts.signal);
          if (masks) s.accept(masks);
          else onGpu = false;
        } else if (s.kind === 'selection') {
          const key: SelectionKey = s.variance ? { kind: 'variance', base: s.base ?? 0 } : { kind: 'magnitude', input: s.input, base: s.base };
          s.accept(boundaryOf(await opts.stats.selectByKey(source, key, 'smallest', s.rank(), opts.signal)));
        } else if (s.kind === 'sums') s.accept(await opts.stats.sums(s.scratch ? withScratchInput : source, s.spec(), opts.signal));
        else if (s.kind === 'vector') s.accept(await opts.stats.sums(vectorSource(s.elements(), s.store), {}, opts.signal));
        else if (s.kind === 'count') s.accept(await opts.stats.countKeys(source, s.key, s.value, opts.signal));
      }
    }
    if (onGpu) {
      if (opts.counters) opts.counters.gpuPasses++;
    } else {
      for await (const { offset, raw } of rawChunks()) pass.accumulate(toChunk(offset, raw));
      if (opts.counters) opts.counters.cpuPasses++;
    }
    pass.finish();
  }

  const elements = fitsGpu ? elementsOf(program, t.inputs.length) : undefined;
  if (elements?.kernel === 'nan') {
    // An output the statistics proved all NaN: the output dtype's NaN, chunk by chunk, the inputs unread.
    for (let offset = 0; offset < t.numel; offset += chunkElements) {
      throwIfAborted(opts.signal);
      const out = new Float32Array(Math.min(chunkElements, t.numel - offset)).fill(NaN);
      canonicalNaNs(out);
      yield encodeFromF32(t.outDtype, out);
    }
    return;
  }
  const outDtype = t.outDtype as KernelDtype;
  const runChunk = (offset: number, raw: Uint8Array[]): Promise<Uint8Array> => {
    const count = raw[0].length / KERNEL_DTYPE_BYTES[dtypes[0] as KernelDtype];
    const inputs = elementInputs(raw, offset, count, elements!.kernel === 'linear' || elements!.kernel === 'task_arithmetic' ? undefined : elements!.scratch);
    if (elements!.kernel === 'linear') {
      const job: SoupJob = { mode: 'linear', coefficients: elements!.coefficients, inputs, outDtype, elementCount: count };
      return opts.backend.run(job, opts.signal);
    }
    if (elements!.kernel === 'task_arithmetic') return opts.backend.runElementwise(taskArithmeticJob({ inputs, outDtype, elementCount: count, offset, elements: elements! }), opts.signal);
    return opts.backend.runElementwise(methodElementsJob({ inputs, outDtype, elementCount: count, offset, elements: elements! }), opts.signal);
  };
  // The GPU computes one chunk while the next is read.
  let inFlight: Promise<Uint8Array> | undefined;
  for await (const { offset, raw } of rawChunks()) {
    if (!elements) {
      const chunk = toChunk(offset, raw);
      const out = new Float32Array(chunk.count);
      program.combine(chunk, out);
      canonicalNaNs(out);
      if (opts.counters) opts.counters.cpuElementChunks++;
      yield encodeFromF32(t.outDtype, out);
      continue;
    }
    const next = runChunk(offset, raw);
    next.catch(() => undefined);
    if (inFlight) yield await inFlight;
    inFlight = next;
    if (opts.counters) opts.counters.gpuElementChunks++;
  }
  if (inFlight) yield await inFlight;
}
