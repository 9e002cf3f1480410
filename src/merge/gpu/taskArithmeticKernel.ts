/**
 * The generalised task arithmetic's element pass as a WebGPU job (shaders/merge/taskArithmetic.wgsl): the
 * inputs of one chunk of a tensor (the base first), the whole-tensor statistics the passes produced
 * (magnitude selections, rescale factors) and the method's switches, packed into the kernel's uniform.
 */
import type { KernelDtype, SoupInput } from '../kernel';
import type { TaskArithmeticElements } from '../program/gpuElements';
import type { ModelKeep, SelectionBoundary } from '../program/keep';
import { taskArithmeticShaderCode, taskArithmeticShapeKey, type KeepKind, type TaskArithmeticShape } from './taskArithmeticShader';
import type { ElementwiseJob } from './elementwiseJob';

export interface TaskArithmeticChunk {
  /** The base, then one input per model, `elementCount` elements each. */
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  /** The tensor index of the chunk's first element (masks and cuts are by tensor index). */
  offset: number;
  /** The program's element pass (src/merge/program/gpuElements.ts). */
  elements: TaskArithmeticElements;
}

const HEADER_WORDS = 8;
/** Words of shaders/merge/keep.wgsl's `Model`. */
export const MODEL_WORDS = 12;

/** A selection boundary as shaders/merge/selection.wgsl's isBelow reads it: key value, cut index low and high words. */
export function putBoundary(words: Uint32Array, at: number, b: SelectionBoundary): void {
  words[at] = b.valueBits >>> 0;
  if (b.cutIndex === Infinity || b.cutIndex >= 2 ** 53) {
    words[at + 1] = 0xffffffff;
    words[at + 2] = 0xffffffff;
  } else {
    words[at + 1] = b.cutIndex >>> 0;
    words[at + 2] = Math.floor(b.cutIndex / 4294967296) >>> 0;
  }
}

/**
 * The words of shaders/merge/keep.wgsl's `Model` (MODEL_WORDS from `at`) that say what `keep` keeps; weight
 * and scale are the caller's. A 'bits' mask (shaders/merge/keepBits.wgsl) needs `bits`: where its words
 * start in the kernel's mask buffer, and the tensor index of that first word's bit 0.
 */
export function putKeep(words: Uint32Array, at: number, keep: ModelKeep, bits?: { word: number; firstBit: number }): void {
  if (keep.kind === 'bits') {
    if (!bits) throw new RangeError('putKeep: a bit mask needs its place in the mask buffer');
    words[at + 4] = bits.word >>> 0;
    words[at + 5] = bits.firstBit >>> 0;
  }
  if (keep.kind === 'random') {
    new Float32Array(words.buffer, words.byteOffset + 4 * (at + 2), 1)[0] = keep.p;
    words[at + 3] = keep.stream >>> 0;
  }
  if (keep.kind === 'largest' || keep.kind === 'between') putBoundary(words, at + 4, keep.below);
  if (keep.kind === 'between') putBoundary(words, at + 8, keep.notAbove);
}

export function taskArithmeticJob(chunk: TaskArithmeticChunk): ElementwiseJob {
  const e = chunk.elements;
  const shape: TaskArithmeticShape = {
    inputDtypes: chunk.inputs.map((i) => i.dtype),
    outDtype: chunk.outDtype,
    keep: e.models.map((m): KeepKind => m.keep.kind),
    consensus: e.consensus,
    normalize: e.normalize,
    scaled: Math.fround(e.lambda) !== 1,
  };
  const key = taskArithmeticShapeKey(shape);
  const masks = e.models.flatMap((m, model) => (m.keep.kind === 'bits' ? [{ model, words: m.keep.words }] : []));
  return {
    inputs: chunk.inputs,
    outDtype: chunk.outDtype,
    elementCount: chunk.elementCount,
    shaderKey: `taskArithmetic.wgsl ${key}`,
    shaderCode: () => taskArithmeticShaderCode(shape),
    params(pieceStart: number) {
      const place = maskPlaces(pieceStart);
      const buf = new ArrayBuffer(4 * (HEADER_WORDS + MODEL_WORDS * Math.max(1, e.models.length)));
      const words = new Uint32Array(buf);
      const floats = new Float32Array(buf);
      const offset = chunk.offset + pieceStart;
      words[4] = offset >>> 0;
      words[5] = Math.floor(offset / 4294967296) >>> 0;
      floats[6] = e.divisor;
      floats[7] = e.lambda;
      e.models.forEach((m, j) => {
        const at = HEADER_WORDS + MODEL_WORDS * j;
        floats[at] = m.weight;
        floats[at + 1] = m.scale;
        putKeep(words, at, m.keep, place.get(j));
      });
      return new Uint8Array(buf);
    },
    storage: masks.length > 0 ? (pieceStart, count) => maskWords(pieceStart, count) : undefined,
  };

  /** DELLA's masks of the piece from `pieceStart` to the job's end: their words from the one holding its first element, `stride` words each. */
  function maskSpan(pieceStart: number): { firstWord: number; stride: number } {
    const firstWord = Math.floor((chunk.offset + pieceStart) / 32);
    return { firstWord, stride: Math.ceil((chunk.offset + chunk.elementCount) / 32) - firstWord };
  }

  /** Per model with a bit mask: where its words are in the piece's mask buffer (model k of them at k·stride). */
  function maskPlaces(pieceStart: number): Map<number, { word: number; firstBit: number }> {
    const { firstWord, stride } = maskSpan(pieceStart);
    return new Map(masks.map(({ model }, k) => [model, { word: k * stride, firstBit: (firstWord * 32) % 4294967296 }]));
  }

  /** The mask buffer of a piece: each masked model's words over the piece's elements (the rest of its stride unused). */
  function maskWords(pieceStart: number, count: number): Uint32Array<ArrayBuffer> {
    const { firstWord, stride } = maskSpan(pieceStart);
    const end = Math.ceil((chunk.offset + pieceStart + count) / 32);
    const out = new Uint32Array(masks.length * stride);
    masks.forEach(({ words }, k) => out.set(words.subarray(firstWord, end), k * stride));
    return out;
  }
}
