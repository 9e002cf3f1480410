/**
 * Counter-based random numbers for DARE and DELLA's drop masks: the draw for element i of model m's
 * delta in tensor T is a pure function of (seed, T, m, i), so a mask is reproducible bit for bit,
 * can be recomputed in every pass (the rescale statistics, then the output) instead of stored, and a
 * GPU kernel computes the same numbers with 32-bit integer arithmetic (WGSL: u32 multiply wraps, as
 * Math.imul does).
 *
 * The hash is the "lowbias32" integer finaliser (Chris Wellons' hash-prospector: good avalanche, two
 * multiplies), applied to a combination of the four words. uniform24 gives a number in [0, 1) with 24
 * random bits — exactly representable in f32, so `u < p` in f32 on a GPU decides as here.
 */

function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The stream of one model's delta in one tensor. */
export function streamKey(seed: number, tensorKey: number, model: number): number {
  return lowbias32(lowbias32(lowbias32(seed >>> 0) ^ tensorKey) ^ Math.imul(model + 1, 0x9e3779b9));
}

/** Uniform in [0, 1), 24 bits, for element `index` (< 2^53) of a stream. */
export function uniform24(stream: number, index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / 4294967296) >>> 0;
  return (lowbias32(lowbias32(stream ^ lo) ^ hi) >>> 8) / 16777216;
}

/** FNV-1a of a tensor name: the tensorKey of TensorContext. */
export function tensorKeyOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
