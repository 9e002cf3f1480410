/**
 * Arcee Fusion — mergekit's `arcee_fusion` (merge_methods/arcee_fusion.py): the base and one model; the
 * model's delta is taken only where it matters most, elsewhere the base is kept.
 *
 * Per tensor, rows being the last dimension (a 1-D tensor is one row), in f32 as torch computes it:
 * - per row, p = softmax(x) + 1e-8 and q = softmax(b) + 1e-8 (softmax: e = exp(v − max), e·f32(1 / Σe)), and
 *   KL = Σ p·log(p / q) (the sums in f64 in row order, rounded once);
 * - importance I = f32(|δ|·KL of its row), δ = f32(x − b);
 * - the threshold T = f32(median + f32(1.5·f32(Q3 − Q1))), where the quantile q is the element of rank
 *   ⌊q·(n − 1)⌋ of I sorted ascending (NaN last, as torch sorts), n = the tensor's elements;
 * - out = f32(b + δ·[I ≥ T]) (δ·0 where not: −0, or NaN for an infinite δ, as torch multiplies).
 *
 * mergekit sorts a random sample of 1,000,000 elements (torch.randperm, unseeded) for larger tensors;
 * SoupLab takes the exact quantiles of every element, which that sample estimates — the same result for
 * tensors of up to 1,000,000 elements, a deterministic one beyond.
 *
 * Streaming: one pass over whole rows for the KL divergences (one f32 per row kept), then three radix
 * passes (11, 11, 10 bits of an order key) that narrow down the three ranks at once, then the output.
 */
import { fr, rowLength } from './common';
import { linesOf } from '../program/lineSums';
import { pickDigit, RADIX_PASSES } from '../program/tensorStats';
import type { ElementChunk, MergeMethod, StatisticsPass } from './types';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** An f32 value's place in ascending order as an unsigned key (−0 just below +0, every NaN last). */
export function ascendingKey(v: number): number {
  if (v !== v) return 0xffffffff;
  F32[0] = v;
  const bits = U32[0];
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** The f32 value of an ascending key (NaN for the NaN key). */
export function valueOfKey(key: number): number {
  if (key === 0xffffffff) return NaN;
  U32[0] = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return F32[0];
}

const SOFTMAX_EPS = fr(1e-8);

/** softmax(v) + 1e-8 of one row, in f32 steps, into `out`. */
function softmaxPlusEps(v: Float32Array, out: Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < v.length; k++) max = v[k] > max || v[k] !== v[k] ? v[k] : max;
  let sum = 0;
  for (let k = 0; k < v.length; k++) {
    out[k] = fr(Math.exp(fr(v[k] - max)));
    sum += out[k];
  }
  // torch's CPU softmax over the last dimension multiplies by the sum's reciprocal (SoftMaxKernel.cpp).
  const inverse = fr(1 / fr(sum));
  for (let k = 0; k < v.length; k++) out[k] = fr(fr(out[k] * inverse) + SOFTMAX_EPS);
}

/** KL(p ‖ q) of a model's row against the base's row, as the top of this file states. */
export function rowKl(model: Float32Array, base: Float32Array, p: Float64Array, q: Float64Array): number {
  softmaxPlusEps(model, p);
  softmaxPlusEps(base, q);
  let kl = 0;
  for (let k = 0; k < model.length; k++) kl += fr(p[k] * fr(Math.log(fr(p[k] / q[k]))));
  return fr(kl);
}

/** The ranks of the median, Q1 and Q3 among n elements: ⌊q·(n − 1)⌋. */
export function quantileRanks(n: number): [number, number, number] {
  return [Math.floor(0.5 * (n - 1)), Math.floor(0.25 * (n - 1)), Math.floor(0.75 * (n - 1))];
}

/** The threshold from the three quantile values: f32(median + f32(1.5·f32(Q3 − Q1))). */
export function fusionThreshold(median: number, q1: number, q3: number): number {
  return fr(median + fr(1.5 * fr(q3 - q1)));
}

export const arceeFusion: MergeMethod = {
  name: 'arcee_fusion',
  title: 'Arcee Fusion',
  description: "Takes the model's change only where it matters most — a large change in a row whose softmax moved (KL divergence) — and keeps the base elsewhere.",
  reference: { label: 'Arcee AI, mergekit arcee_fusion', url: 'https://arcee.ai' },
  parameters: [],
  needs: {
    base: 'required',
    models: { min: 1, max: 1 },
    statistics: ['per row, the KL divergence of the softmaxed model row from the base row', 'median and quartiles of the importance, the delta’s magnitude times its row’s KL (three radix passes)'],
    memoryPerTensor: 'one f32 per row (its KL divergence), and 48 KiB of histograms while the quartiles are found',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const numel = ctx.numel;
    if (ctx.inputCount < 2 || numel === 0) {
      return {
        passes: [],
        combine: (chunk, out) => out.set(chunk.x[0].subarray(0, chunk.count)),
        describe: () => ({ kernel: 'copy', scalars: new Float32Array(0) }),
      };
    }
    const C = rowLength(ctx.shape);
    const kl = new Float32Array(numel / C);
    const p = new Float64Array(C);
    const q = new Float64Array(C);
    /** Importance of element e (its index in the tensor) with delta d. */
    const importance = (d: number, e: number): number => fr(Math.abs(d) * kl[Math.floor(e / C)]);

    const klPass: StatisticsPass = {
      kind: 'custom',
      label: 'KL divergence per row',
      chunkMultiple: C,
      accumulate(chunk) {
        const [b, x] = chunk.x;
        for (let s = 0; s < chunk.count; s += C) kl[(chunk.offset + s) / C] = rowKl(x.subarray(s, s + C), b.subarray(s, s + C), p, q);
      },
      finish() {},
    };

    // The three order statistics, narrowed down together: each rank keeps its prefix of key bits.
    const ranks = quantileRanks(numel);
    const prefix = [0, 0, 0];
    const prefixMask = [0, 0, 0];
    const rank = [...ranks];
    let threshold = NaN;
    const radixPass = (step: number): StatisticsPass => {
      const { shift, bits } = RADIX_PASSES[step];
      const digitMask = (1 << bits) - 1;
      // Allocated when the pass runs and dropped after it: one pass's three histograms (48 KiB) at a time.
      let histograms: Float64Array[] = [];
      return {
        kind: 'custom',
        label: `importance quartiles (${RADIX_PASSES.length} radix passes)`,
        accumulate(chunk: ElementChunk) {
          if (histograms.length === 0) histograms = [0, 1, 2].map(() => new Float64Array(1 << bits));
          const [b, x] = chunk.x;
          for (let i = 0; i < chunk.count; i++) {
            const key = ascendingKey(importance(fr(x[i] - b[i]), chunk.offset + i));
            for (let t = 0; t < 3; t++) if (((key & prefixMask[t]) >>> 0) === prefix[t]) histograms[t][(key >>> shift) & digitMask]++;
          }
        },
        finish() {
          for (let t = 0; t < 3; t++) {
            const picked = pickDigit(histograms[t], 'smallest', rank[t]);
            rank[t] -= picked.before;
            prefix[t] = (prefix[t] | (picked.digit << shift)) >>> 0;
            prefixMask[t] = (prefixMask[t] | (digitMask << shift)) >>> 0;
          }
          histograms = [];
          if (step === RADIX_PASSES.length - 1) threshold = fusionThreshold(valueOfKey(prefix[0]), valueOfKey(prefix[1]), valueOfKey(prefix[2]));
        },
      };
    };

    return {
      passes: [klPass, ...RADIX_PASSES.map((_, step) => radixPass(step))],
      combine(chunk, out) {
        const [b, x] = chunk.x;
        for (let i = 0; i < chunk.count; i++) {
          const d = fr(x[i] - b[i]);
          out[i] = b[i] + (importance(d, chunk.offset + i) >= threshold ? d : d * 0);
        }
      },
      describe: () => ({ kernel: 'arcee_fusion', scalars: Float32Array.of(threshold) }),
      // shaders/merge/methodElements.wgsl `arceeFusion`, each row's KL as its line coefficient; the passes run on the CPU
      gpuElements: () => (ctx.shape.length > 0 ? { kernel: 'arcee_fusion', scalars: [threshold], lines: { lines: linesOf('row', ctx.shape), perLine: 1, values: kl } } : undefined),
    };
  },
};
