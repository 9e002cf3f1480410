/**
 * Which elements of a task vector a method keeps, as the CPU reads it and the GPU kernels apply it:
 * the order key of a magnitude (keyBits), a selection boundary (select.ts gives one), and the keep
 * masks of the task-arithmetic family. A leaf of the program machinery: the statistics (tensorStats.ts),
 * the GPU's description of a program (gpuElements.ts) and the selection passes (select.ts) read it.
 */
import { uniform24 } from './counterRandom';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Sort key bits of a non-negative f32 (or NaN): order of bits = order of values; every NaN is one key. */
export function keyBits(x: number): number {
  F32[0] = x;
  const u = U32[0] & 0x7fffffff;
  return u > 0x7f800000 ? 0x7fc00000 : u;
}

/** A selection boundary as select.ts gives it: below iff key < valueBits, or key = valueBits and index < cutIndex. */
export interface SelectionBoundary {
  valueBits: number;
  /** An element index, or Infinity (every tie is below). */
  cutIndex: number;
  /** Elements strictly below the value. */
  below: number;
}

export type ModelKeep =
  | { kind: 'all' }
  /** TIES: keep what is not below `below` (the numel − k smallest). */
  | { kind: 'largest'; below: SelectionBoundary }
  /** Breadcrumbs: keep what is not below `below` and is below `notAbove`. */
  | { kind: 'between'; below: SelectionBoundary; notAbove: SelectionBoundary }
  /** DARE: keep when uniform24(stream, index) < p (counterRandom.ts). */
  | { kind: 'random'; stream: number; p: number }
  /**
   * DELLA: keep where bit `index` of `words` is set (bit i of words[i >>> 5]) — the mask its ranks pass
   * computed for the whole tensor from each row's magnitude ranks (taskArithmeticFamily.ts).
   */
  | { kind: 'bits'; words: Uint32Array };

/** Whether bit `index` of a tensor's keep mask is set (ModelKeep 'bits'). */
export function bitIsSet(words: Uint32Array, index: number): boolean {
  return ((words[index >>> 5] >>> (index & 31)) & 1) === 1;
}

/** Whether a boundary holds element `index` of key `key` below it (select.ts). */
function isBelow(b: SelectionBoundary, key: number, index: number): boolean {
  return key < b.valueBits || (key === b.valueBits && index < b.cutIndex);
}

/** Whether `keep` keeps element `index` of the delta d (the CPU reading of the masks the element kernels apply). */
export function isKept(keep: ModelKeep, d: number, index: number): boolean {
  switch (keep.kind) {
    case 'all':
      return true;
    case 'largest':
      return !isBelow(keep.below, keyBits(d), index);
    case 'between': {
      const key = keyBits(d);
      return !isBelow(keep.below, key, index) && isBelow(keep.notAbove, key, index);
    }
    case 'random':
      return uniform24(keep.stream, index) < keep.p;
    case 'bits':
      return bitIsSet(keep.words, index);
  }
}
