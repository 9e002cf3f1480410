/**
 * SLERP — mergekit's `slerp` (merge_methods/slerp.py): spherical interpolation between the base (a,
 * t = 0) and the other model (b, t = 1), over the whole tensor flattened.
 *
 * Statistics (2 passes): the norms ‖a‖ = f32(√Σ a²) (exact squares), then dot = Σ f32(â·b̂) of the vectors
 * normalised in f32 (â = f32(a / ‖a‖) when the norm exceeds 1e-8), as mergekit's numpy code does in f32;
 * both sums are tensorStats.ts' blocked sums, which the GPU computes to the same bits. |dot| > 0.9995 → lerp:
 * out = f32(f32(f32(1−t)·a) + f32(f32(t)·b)); else θ = acos(dot), s₀ = sin(θ − θt)/sin θ,
 * s₁ = sin(θt)/sin θ (each step rounded to f32) and out = f32(f32(s₀·a) + f32(s₁·b)).
 */
import { fr, numberOf } from './common';
import { BlockedSum, exactSquares } from '../program/tensorStats';
import type { MergeMethod } from './types';

export const slerp: MergeMethod = {
  name: 'slerp',
  title: 'SLERP',
  description: 'Spherical interpolation between the base model (t = 0) and one other model (t = 1), tensor by tensor.',
  reference: { label: 'Shoemake 1985; mergekit slerp', url: 'https://en.wikipedia.org/wiki/Slerp' },
  parameters: [{ name: 't', level: 'tensor', kind: 'number', required: true, description: 'interpolation factor: 0 is the base model, 1 the other model' }],
  needs: {
    base: 'required',
    models: { min: 1, max: 1 },
    statistics: ['‖a‖, ‖b‖ (1 pass), then â·b̂ (1 pass)'],
    memoryPerTensor: '3 running sums (1.5 KiB)',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const t = numberOf(ctx, 't');
    if (ctx.inputCount === 1) return copyProgram();
    // Σa², Σb², then Σ f32(â·b̂): blocked sums, fed by the CPU passes or given by a GPU (accept).
    const squares = [new BlockedSum(), new BlockedSum()];
    const dots = new BlockedSum();
    let gpuSquares: [number, number] | undefined;
    let gpuDot: number | undefined;
    let terms = new Float32Array(0);
    let lows = new Float32Array(0);
    const termsFor = (count: number): Float32Array => {
      if (terms.length < count) [terms, lows] = [new Float32Array(count), new Float32Array(count)];
      return terms;
    };
    let na = 0;
    let nb = 0;
    let c0 = 0;
    let c1 = 0;
    const divisors = (): number[] => [na > 1e-8 ? na : 1, nb > 1e-8 ? nb : 1];
    return {
      passes: [
        {
          kind: 'moments',
          label: 'slerp norms',
          accumulate(c) {
            const q = termsFor(c.count);
            c.x.forEach((v, k) => {
              exactSquares(v, c.count, q, lows);
              squares[k].add(q, c.count, lows);
            });
          },
          finish() {
            const [sa, sb] = gpuSquares ?? [squares[0].sum(), squares[1].sum()];
            na = fr(Math.sqrt(sa));
            nb = fr(Math.sqrt(sb));
          },
          gpu: [{ kind: 'sums', spec: () => ({}), accept: (s) => (gpuSquares = [s.dots[0], s.dots[3]]) }],
        },
        {
          kind: 'moments',
          label: 'slerp dot product',
          accumulate(c) {
            const [a, b] = c.x;
            const [da, db] = divisors();
            const q = termsFor(c.count);
            for (let i = 0; i < c.count; i++) q[i] = fr(a[i] / da) * fr(b[i] / db); // a quotient of f32 values rounded once: correctly rounded; /1 is exact
            dots.add(q, c.count);
          },
          finish() {
            const dot = fr(gpuDot ?? dots.sum());
            if (Math.abs(dot) > 0.9995) {
              c0 = fr(1 - t);
              c1 = fr(t);
              return;
            }
            const theta0 = fr(Math.acos(dot));
            const sin0 = fr(Math.sin(theta0));
            const thetaT = fr(theta0 * fr(t));
            c0 = fr(fr(Math.sin(fr(theta0 - thetaT))) / sin0);
            c1 = fr(fr(Math.sin(thetaT)) / sin0);
          },
          gpu: [{ kind: 'sums', spec: () => ({ divisors: divisors() }), accept: (s) => (gpuDot = s.dots[1]) }],
        },
      ],
      combine(chunk, out) {
        const [a, b] = chunk.x;
        for (let i = 0; i < chunk.count; i++) out[i] = fr(c0 * a[i]) + fr(c1 * b[i]);
      },
      describe: () => ({ kernel: 'pair', scalars: Float32Array.of(c0, c1) }),
      gpuElements: () => ({ kernel: 'pair', scalars: [c0, c1] }), // shaders/merge/methodElements.wgsl `pair`
    };
  },
};

/** The first input as it is (a method given a single model). */
export function copyProgram(): ReturnType<MergeMethod['program']> {
  return {
    passes: [],
    combine(chunk, out) {
      out.set(chunk.x[0].subarray(0, chunk.count));
    },
    describe: () => ({ kernel: 'copy', scalars: new Float32Array(0) }),
  };
}
