/**
 * Runs one tensor's TensorProgram on the CPU: streams the inputs through each statistics pass, then
 * through the output pass, yielding the output in the output dtype chunk by chunk. Memory: two chunks
 * of every input (the current one and the one being read) plus the output chunk, whatever the tensor.
 *
 * The inputs are read from element 0 for `numel` elements: a model whose embedding has more rows than
 * the output contributes its first rows (mergekit's vocabulary rule), the rest is never read.
 */
import { throwIfAborted } from '../../errors';
import type { CheckpointTensor } from '../../formats/checkpoint';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../../formats/floatArrays';
import type { FloatDtype } from '../../formats/dtype';
import type { ElementChunk, TensorProgram } from './types';

export interface ProgramTensor {
  name: string;
  numel: number;
  outDtype: FloatDtype;
  inputs: CheckpointTensor[];
  program: TensorProgram;
}

/** Elements per chunk: within `maxElements`, a multiple of `multiple` (whole rows) and of 4. */
export function programChunkElements(program: TensorProgram, maxElements: number): number {
  const multiple = Math.max(1, program.combineChunkMultiple ?? 1, ...program.passes.map((p) => p.chunkMultiple ?? 1));
  const unit = lcm(multiple, 4);
  return Math.max(unit, Math.floor(maxElements / unit) * unit);
}

function lcm(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y) [x, y] = [y, x % y];
  return (a / x) * b;
}

/** The bytes of elements [offset, offset + count) of every input, as stored (the CPU and GPU runners read alike). */
export function readInputRange(t: ProgramTensor, offset: number, count: number): Promise<Uint8Array[]> {
  return Promise.all(
    t.inputs.map(async (input) => {
      const dtype = input.info.dtype as FloatDtype;
      const width = FLOAT_BYTES[dtype];
      const bytes = await input.source.read(input.info.byteOffset + offset * width, count * width);
      if (bytes.length !== count * width) {
        throw new Error(`${input.file}: tensor ${input.info.name}: read ${bytes.length} bytes for ${count} ${dtype} elements at element ${offset}`);
      }
      return bytes;
    }),
  );
}

/** The f32 chunks of every input, in element order; the next chunk is read while one is used. */
async function* chunksOf(t: ProgramTensor, chunkElements: number, signal: AbortSignal | undefined): AsyncGenerator<ElementChunk> {
  const read = (offset: number): Promise<ElementChunk> => {
    const count = Math.min(chunkElements, t.numel - offset);
    return readInputRange(t, offset, count).then((raw) => ({ offset, count, x: raw.map((bytes, i) => decodeToF32(t.inputs[i].info.dtype as FloatDtype, bytes)) }));
  };
  if (t.numel === 0) return;
  let pending = read(0);
  try {
    for (let offset = 0; offset < t.numel; ) {
      const chunk = await pending;
      throwIfAborted(signal);
      offset += chunk.count;
      pending = offset < t.numel ? read(offset) : Promise.resolve({ offset, count: 0, x: [] });
      yield chunk;
    }
  } finally {
    pending.catch(() => undefined);
  }
}

/** Runs the passes, then yields the output in `outDtype` (F64: the f32 result widened exactly). */
export async function* runTensorProgram(
  t: ProgramTensor,
  opts: { maxChunkElements: number; signal?: AbortSignal },
): AsyncGenerator<Uint8Array> {
  const chunkElements = programChunkElements(t.program, opts.maxChunkElements);
  for (const pass of t.program.passes) {
    for await (const chunk of chunksOf(t, chunkElements, opts.signal)) pass.accumulate(chunk);
    pass.finish();
  }
  for await (const chunk of chunksOf(t, chunkElements, opts.signal)) {
    const out = new Float32Array(chunk.count);
    t.program.combine(chunk, out);
    canonicalNaNs(out);
    yield encodeFromF32(t.outDtype, out);
  }
}

/** NaN → the canonical quiet NaN 0x7fc00000 (as the soup kernel writes), whatever payload came in. */
export function canonicalNaNs(out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) if (out[i] !== out[i]) bits[i] = 0x7fc00000;
}
