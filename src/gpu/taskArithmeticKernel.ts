/**
 * The generalised task arithmetic's element pass as a WebGPU job (shaders/taskArithmetic.wgsl): the
 * inputs of one chunk of a tensor (the base first), the whole-tensor statistics the passes produced
 * (magnitude selections, rescale factors) and the method's switches, packed into the kernel's uniform.
 */
import type { KernelDtype, SoupInput } from '../merge/kernel';
import { taskArithmeticShaderCode, taskArithmeticShapeKey, type KeepKind, type TaskArithmeticShape } from './taskArithmeticShader';
import type { ElementwiseJob } from './webgpuSoupBackend';

/** A selection boundary as src/merge/methods/select.ts gives it: below iff key < valueBits, or key = valueBits and index < cutIndex. */
export interface SelectionBoundary {
  valueBits: number;
  /** An element index, or Infinity (every tie is below). */
  cutIndex: number;
}

export type ModelKeep =
  | { kind: 'all' }
  /** TIES: keep what is not below the boundary of the numel − k smallest. */
  | { kind: 'largest'; below: SelectionBoundary }
  /** Breadcrumbs: keep what is not below `below` and is below `notAbove`. */
  | { kind: 'between'; below: SelectionBoundary; notAbove: SelectionBoundary }
  /** DARE: keep when uniform24(stream, index) < p. */
  | { kind: 'random'; stream: number; p: number };

export interface TaskArithmeticModel {
  weight: number;
  /** The rescale factor of the kept delta (1 without rescale). */
  scale: number;
  keep: ModelKeep;
}

export interface TaskArithmeticChunk {
  /** The base, then one input per model, `elementCount` elements each. */
  inputs: SoupInput[];
  outDtype: KernelDtype;
  elementCount: number;
  /** The tensor index of the chunk's first element (masks and cuts are by tensor index). */
  offset: number;
  models: TaskArithmeticModel[];
  consensus: boolean;
  normalize: boolean;
  /** Without consensus: the divisor of normalize (f32 Σ weights, 1 when |Σ| < 1e-8). */
  divisor: number;
  lambda: number;
}

const HEADER_WORDS = 8;
const MODEL_WORDS = 12;

function putBoundary(words: Uint32Array, at: number, b: SelectionBoundary): void {
  words[at] = b.valueBits >>> 0;
  if (b.cutIndex === Infinity || b.cutIndex >= 2 ** 53) {
    words[at + 1] = 0xffffffff;
    words[at + 2] = 0xffffffff;
  } else {
    words[at + 1] = b.cutIndex >>> 0;
    words[at + 2] = Math.floor(b.cutIndex / 4294967296) >>> 0;
  }
}

export function taskArithmeticJob(chunk: TaskArithmeticChunk): ElementwiseJob {
  const shape: TaskArithmeticShape = {
    inputDtypes: chunk.inputs.map((i) => i.dtype),
    outDtype: chunk.outDtype,
    keep: chunk.models.map((m): KeepKind => m.keep.kind),
    consensus: chunk.consensus,
    normalize: chunk.normalize,
    scaled: Math.fround(chunk.lambda) !== 1,
  };
  const key = taskArithmeticShapeKey(shape);
  return {
    inputs: chunk.inputs,
    outDtype: chunk.outDtype,
    elementCount: chunk.elementCount,
    shaderKey: `taskArithmetic.wgsl ${key}`,
    shaderCode: () => taskArithmeticShaderCode(shape),
    params(pieceStart: number) {
      const buf = new ArrayBuffer(4 * (HEADER_WORDS + MODEL_WORDS * Math.max(1, chunk.models.length)));
      const words = new Uint32Array(buf);
      const floats = new Float32Array(buf);
      const offset = chunk.offset + pieceStart;
      words[4] = offset >>> 0;
      words[5] = Math.floor(offset / 4294967296) >>> 0;
      floats[6] = chunk.divisor;
      floats[7] = chunk.lambda;
      chunk.models.forEach((m, j) => {
        const at = HEADER_WORDS + MODEL_WORDS * j;
        floats[at] = m.weight;
        floats[at + 1] = m.scale;
        if (m.keep.kind === 'random') {
          floats[at + 2] = m.keep.p;
          words[at + 3] = m.keep.stream >>> 0;
        }
        if (m.keep.kind === 'largest' || m.keep.kind === 'between') putBoundary(words, at + 4, m.keep.below);
        if (m.keep.kind === 'between') putBoundary(words, at + 8, m.keep.notAbove);
      });
      return new Uint8Array(buf);
    },
  };
}
