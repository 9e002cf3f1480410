/**
 * A soup computed in memory, tensor by tensor, as the model runtime's WeightSource: what `souplab eval`
 * evaluates for a recipe and what the search loads at each point, with nothing written to disk.
 *
 * Each tensor is computed exactly as runMerge computes it for a file — the same plan (coefficients,
 * input order, output dtype) and the same backend jobs — and then decoded to f32. So the weights the
 * evaluator sees are bit for bit those of the soup `souplab merge` writes with the same recipe and backend.
 * streamF32 gives the same values chunk by chunk (the GGUF export writes them so, never holding a tensor whole).
 */
import { InputError } from '../errors';
import { isFloatDtype, numelOf, type FloatDtype } from '../formats/dtype';
import { decodeToF32 } from '../formats/floatArrays';
import type { CheckpointTensor } from '../formats/checkpoint';
import { readTensorChunks } from '../formats/tensorChunks';
import type { WeightSource } from '../model/types';
import type { KernelDtype, SoupBackend, SoupJob } from './kernel';
import type { MergePlan, MethodStep, SoupStep, TensorStep } from './plan';
import { methodOutputs, soupInputChunks, toKernelInput } from './runMerge';

export interface SoupWeightOptions {
  /** Bytes one job holds (inputs + output), default 16 MiB, as runMerge. */
  maxJobBytes?: number;
  /** Jobs of one tensor in flight at once (default 4). */
  maxJobsInFlight?: number;
}

type WeightDtype = ReturnType<WeightSource['dtype']>;

export function soupWeightSource(plan: MergePlan, backend: SoupBackend, options: SoupWeightOptions = {}): WeightSource {
  const steps = new Map<string, TensorStep>(plan.steps.map((s) => [s.name, s]));
  const stepOf = (name: string): TensorStep => {
    const s = steps.get(name);
    if (!s) throw new InputError(`the soup has no tensor ${name}`);
    return s;
  };
  const maxJobBytes = options.maxJobBytes ?? 16 << 20;
  const inFlight = Math.max(1, options.maxJobsInFlight ?? 4);
  const stream = (name: string, signal?: AbortSignal): AsyncIterable<Float32Array> => {
    const step = stepOf(name);
    if (step.kind === 'copy') {
      if (!isFloatDtype(step.dtype)) throw new InputError(`tensor ${name} is ${step.dtype}, not a float tensor a model can load`);
      return copyTensorF32(step.source, step.dtype as FloatDtype, signal);
    }
    if (step.outDtype === 'F64') throw new InputError(`tensor ${name} would be F64: the model runtime loads F32, F16 and BF16 weights (set the recipe's dtype)`);
    if (step.kind === 'method') return methodTensorF32(step, backend, maxJobBytes, signal);
    return soupTensorF32(step, backend, maxJobBytes, inFlight, signal);
  };
  return {
    names: () => [...steps.keys()],
    shape: (name) => stepOf(name).shape,
    dtype: (name): WeightDtype => {
      const s = stepOf(name);
      const d = s.kind === 'copy' ? s.dtype : s.outDtype;
      return d === 'F16' || d === 'BF16' ? d : 'F32';
    },
    async readF32(name, signal) {
      const out = new Float32Array(numelOf(stepOf(name).shape));
      let at = 0;
      for await (const piece of stream(name, signal)) {
        out.set(piece, at);
        at += piece.length;
      }
      return out;
    },
    streamF32: stream,
  };
}

async function* copyTensorF32(t: CheckpointTensor, dtype: FloatDtype, signal: AbortSignal | undefined): AsyncGenerator<Float32Array> {
  for await (const bytes of readTensorChunks(t, { chunkBytes: 16 << 20, signal })) yield decodeToF32(dtype, bytes);
}

/** A soup step's values, chunk by chunk in order, `inFlight` backend jobs ahead of the reader. */
async function* soupTensorF32(step: SoupStep, backend: SoupBackend, maxJobBytes: number, inFlight: number, signal: AbortSignal | undefined): AsyncGenerator<Float32Array> {
  const outKernel = step.outDtype as KernelDtype;
  const queue: Promise<Float32Array>[] = [];
  try {
    for await (const { count, bytes } of soupInputChunks(step, backend, maxJobBytes, signal)) {
      const inputs = bytes.map((b, i) => toKernelInput(step.inputs[i], b));
      const job: SoupJob = { mode: step.mode, coefficients: step.coefficients, inputs, outDtype: outKernel, elementCount: count };
      const work = backend.run(job, signal).then((out) => decodeToF32(outKernel, out));
      work.catch(() => undefined); // awaited in order below; a rejection must not go unhandled meanwhile
      queue.push(work);
      if (queue.length >= inFlight) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
  } finally {
    await Promise.allSettled(queue);
  }
}

/** A registry method's tensor (ties, slerp, …), computed as runMerge computes it, decoded to f32 chunk by chunk. */
async function* methodTensorF32(step: MethodStep, backend: SoupBackend, maxJobBytes: number, signal: AbortSignal | undefined): AsyncGenerator<Float32Array> {
  const outDtype = step.outDtype as KernelDtype;
  for await (const bytes of methodOutputs(step, backend, maxJobBytes, signal)) yield decodeToF32(outDtype, bytes);
}
