/**
 * A soup computed in memory, tensor by tensor, as the model runtime's WeightSource: what `souplab eval`
 * evaluates for a recipe and what the search loads at each point, with nothing written to disk.
 *
 * Each tensor is computed exactly as runMerge computes it for a file — the same plan (coefficients,
 * input order, output dtype) and the same backend jobs — and then decoded to f32. So the weights the
 * evaluator sees are bit for bit those of the soup `souplab merge` writes with the same recipe and backend.
 */
import { InputError, throwIfAborted } from '../errors';
import { isFloatDtype, numelOf, type FloatDtype } from '../formats/dtype';
import { decodeToF32 } from '../formats/floatArrays';
import { readTensorChunks } from '../formats/tensorChunks';
import type { WeightSource } from '../model/types';
import type { KernelDtype, SoupBackend, SoupJob } from './kernel';
import type { MergePlan, MethodStep, SoupStep, TensorStep } from './plan';
import { checkedChunk, chunkElementsFor, INPUT_BYTES, methodOutputs, toKernelInput } from './runMerge';

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
  return {
    names: () => [...steps.keys()],
    shape: (name) => stepOf(name).shape,
    dtype: (name): WeightDtype => {
      const s = stepOf(name);
      const d = s.kind === 'copy' ? s.dtype : s.outDtype;
      return d === 'F16' || d === 'BF16' ? d : 'F32';
    },
    async readF32(name, signal) {
      const step = stepOf(name);
      if (step.kind === 'copy') {
        if (!isFloatDtype(step.dtype)) throw new InputError(`tensor ${name} is ${step.dtype}, not a float tensor a model can load`);
        const bytes = await step.source.source.read(step.source.info.byteOffset, step.source.info.byteLength);
        return decodeToF32(step.dtype as FloatDtype, bytes);
      }
      if (step.outDtype === 'F64') throw new InputError(`tensor ${name} would be F64: the model runtime loads F32, F16 and BF16 weights (set the recipe's dtype)`);
      if (step.kind === 'method') return methodTensorF32(step, backend, maxJobBytes, signal);
      return soupTensorF32(step, backend, maxJobBytes, inFlight, signal);
    },
  };
}

async function soupTensorF32(step: SoupStep, backend: SoupBackend, maxJobBytes: number, inFlight: number, signal: AbortSignal | undefined): Promise<Float32Array> {
  const numel = numelOf(step.shape);
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  const outKernel = step.outDtype as KernelDtype;
  const chunk = chunkElementsFor(step, backend, maxJobBytes);
  const readers = step.inputs.map((t) => readTensorChunks(t, { chunkBytes: chunk * INPUT_BYTES[t.info.dtype], signal }));
  const pending = new Set<Promise<void>>();
  try {
    for (let done = 0; done < numel; ) {
      throwIfAborted(signal);
      const pieces = await Promise.all(readers.map((r) => r.next()));
      const count = Math.min(chunk, numel - done);
      const inputs = pieces.map((p, i) => toKernelInput(step.inputs[i], checkedChunk(step.inputs[i], p.done ? undefined : p.value, count)));
      const job: SoupJob = { mode: step.mode, coefficients: step.coefficients, inputs, outDtype: outKernel, elementCount: count };
      const at = done;
      const work = backend.run(job, signal).then((bytes) => void decodeToF32(outKernel, bytes, out.subarray(at, at + count)));
      const tracked: Promise<void> = work.finally(() => pending.delete(tracked));
      tracked.catch(() => undefined);
      pending.add(tracked);
      done += count;
      if (pending.size >= inFlight) await Promise.race(pending);
    }
    await Promise.all(pending);
  } finally {
    await Promise.allSettled(pending);
    await Promise.all(readers.map((r) => r.return(undefined)));
  }
  return out;
}

/** A registry method's tensor (ties, slerp, …), computed as runMerge computes it, decoded to f32. */
async function methodTensorF32(step: MethodStep, backend: SoupBackend, maxJobBytes: number, signal: AbortSignal | undefined): Promise<Float32Array> {
  const out = new Float32Array(numelOf(step.shape));
  const outDtype = step.outDtype as KernelDtype;
  let at = 0;
  for await (const bytes of methodOutputs(step, backend, maxJobBytes, signal)) {
    const count = bytes.length / INPUT_BYTES[outDtype];
    decodeToF32(outDtype, bytes, out.subarray(at, at + count));
    at += count;
  }
  return out;
}
