/**
 * Runs one tensor's TensorProgram on the CPU: streams the inputs through each statistics pass, then
 * through the output pass, yielding the output in the output dtype chunk by chunk. Memory: two chunks
 * of every input (the current one and the one being read), raw and decoded, plus the output chunk,
 * whatever the tensor; allocated once per tensor and reused by every pass. A program that keeps a
 * tensor-sized scratch (TensorProgram.scratch: karcher's iterate) adds 4 bytes per element while its
 * tensor runs.
 *
 * The inputs are read from element 0 for `numel` elements: a model whose embedding has more rows than
 * the output contributes its first rows (mergekit's vocabulary rule), the rest is never read.
 */
import { throwIfAborted } from '../../errors';
import type { CheckpointTensor } from '../../formats/checkpoint';
import { decodeToF32, encodeFromF32, FLOAT_BYTES } from '../../formats/floatArrays';
import type { FloatDtype } from '../../formats/dtype';
import type { ElementChunk, TensorContext, TensorProgram } from './tensorProgram';

export interface ProgramTensor {
  name: string;
  numel: number;
  outDtype: FloatDtype;
  inputs: CheckpointTensor[];
  program: TensorProgram;
  /** The registry method and context `program` was built from: another thread rebuilds it from these. */
  method?: string;
  context?: TensorContext;
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

/**
 * The bytes of elements [offset, offset + count) of every input, as stored (the CPU and GPU runners read
 * alike); read into `into[i]` when given and the source can, else into fresh buffers.
 */
export function readInputRange(t: ProgramTensor, offset: number, count: number, into?: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return Promise.all(
    t.inputs.map(async (input, i) => {
      const dtype = input.info.dtype as FloatDtype;
      const width = FLOAT_BYTES[dtype];
      const at = input.info.byteOffset + offset * width;
      const target = into?.[i].subarray(0, count * width);
      let bytes: Uint8Array;
      if (target && input.source.readInto) {
        await input.source.readInto(at, target);
        bytes = target;
      } else bytes = await input.source.read(at, count * width);
      if (bytes.length !== count * width) {
        throw new Error(`${input.file}: tensor ${input.info.name}: read ${bytes.length} bytes for ${count} ${dtype} elements at element ${offset}`);
      }
      return bytes;
    }),
  );
}

/**
 * The f32 chunks of every input, in element order; the next chunk is read while one is used. Two sets
 * of buffers (raw bytes and f32 values, per input) serve every pass of the tensor in turn: a chunk's
 * arrays are valid until the consumer asks for the chunk after next, and fresh large buffers would
 * cost page faults and collections comparable to the arithmetic itself.
 */
class ChunkReader {
  private readonly sets: { raw: Uint8Array[]; f32: Float32Array[] }[];

  constructor(
    private readonly t: ProgramTensor,
    private readonly chunkElements: number,
    private readonly scratch: Float32Array | undefined,
  ) {
    const count = Math.min(chunkElements, t.numel);
    this.sets = [0, 1].map(() => ({
      raw: t.inputs.map((input) => new Uint8Array(count * FLOAT_BYTES[input.info.dtype as FloatDtype])),
      f32: t.inputs.map(() => new Float32Array(count)),
    }));
  }

  private async read(offset: number, set: number): Promise<ElementChunk> {
    const { t } = this;
    const count = Math.min(this.chunkElements, t.numel - offset);
    const buffers = this.sets[set];
    const raw = await readInputRange(t, offset, count, buffers.raw);
    const x = raw.map((bytes, i) => decodeToF32(t.inputs[i].info.dtype as FloatDtype, bytes, buffers.f32[i].subarray(0, count)));
    return withScratch({ offset, count, x }, this.scratch);
  }

  async *chunks(signal: AbortSignal | undefined): AsyncGenerator<ElementChunk> {
    const { t } = this;
    if (t.numel === 0) return;
    let set = 0;
    let pending = this.read(0, set);
    try {
      for (let offset = 0; offset < t.numel; ) {
        const chunk = await pending;
        throwIfAborted(signal);
        offset += chunk.count;
        set ^= 1;
        pending = offset < t.numel ? this.read(offset, set) : Promise.resolve({ offset, count: 0, x: [] });
        yield chunk;
      }
    } finally {
      pending.catch(() => undefined);
    }
  }
}

/** Runs the passes, then yields the output in `outDtype` (F64: the f32 result widened exactly). */
export async function* runTensorProgram(
  t: ProgramTensor,
  opts: { maxChunkElements: number; signal?: AbortSignal },
): AsyncGenerator<Uint8Array> {
  const chunkElements = programChunkElements(t.program, opts.maxChunkElements);
  const blockElements = programChunkElements(t.program, BLOCK_ELEMENTS);
  const reader = new ChunkReader(t, chunkElements, programScratch(t));
  for (const pass of t.program.passes) {
    if (pass.skip?.()) continue;
    for await (const chunk of reader.chunks(opts.signal)) for (const block of blocksOf(chunk, blockElements)) pass.accumulate(block);
    pass.finish();
  }
  const scratch = new Float32Array(Math.min(chunkElements, t.numel));
  for await (const chunk of reader.chunks(opts.signal)) {
    const out = scratch.subarray(0, chunk.count);
    out.fill(0);
    for (const block of blocksOf(chunk, blockElements)) t.program.combine(block, out.subarray(block.offset - chunk.offset, block.offset - chunk.offset + block.count));
    canonicalNaNs(out);
    yield encodeFromF32(t.outDtype, out);
  }
}

/**
 * Elements a pass or the output pass handles at a time: chunks are read large (few reads), but the
 * arithmetic goes over them in blocks whose arrays — the inputs', the method's scratch, the output's —
 * stay in the core's cache between the loops of a method (a method's loops go over a whole block one
 * after another). Results do not depend on it: passes see elements in order whatever the chunking.
 */
const BLOCK_ELEMENTS = 16384;

/** The chunk as consecutive blocks of `block` elements (views, no copies). */
function* blocksOf(chunk: ElementChunk, block: number): Generator<ElementChunk> {
  if (chunk.count <= block) {
    yield chunk;
    return;
  }
  for (let s = 0; s < chunk.count; s += block) {
    const count = Math.min(block, chunk.count - s);
    yield { offset: chunk.offset + s, count, x: chunk.x.map((a) => a.subarray(s, s + count)), scratch: chunk.scratch?.subarray(s, s + count) };
  }
}

/** The tensor-sized scratch a program asks for (TensorProgram.scratch), zeroed; one per run of the tensor. */
export function programScratch(t: ProgramTensor): Float32Array | undefined {
  return t.program.scratch ? new Float32Array(t.numel) : undefined;
}

/** The chunk with its view of the program's scratch, if there is one. */
export function withScratch(chunk: ElementChunk, scratch: Float32Array | undefined): ElementChunk {
  if (scratch) chunk.scratch = scratch.subarray(chunk.offset, chunk.offset + chunk.count);
  return chunk;
}

/** NaN → the canonical quiet NaN 0x7fc00000 (as the soup kernel writes), whatever payload came in. */
export function canonicalNaNs(out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) if (out[i] !== out[i]) bits[i] = 0x7fc00000;
}
