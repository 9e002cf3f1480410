/**
 * SLERP — mergekit's `slerp` (merge_methods/slerp.py): spherical interpolation between the base (a,
 * t = 0) and the other model (b, t = 1), over the whole tensor flattened.
 *
 * Statistics (2 passes): the norms, then dot = Σ f32(â·b̂) of the vectors normalised in f32 (when
 * their norm exceeds 1e-8), as mergekit's numpy code does in f32. |dot| > 0.9995 → lerp:
 * out = f32(f32(f32(1−t)·a) + f32(f32(t)·b)); else θ = acos(dot), s₀ = sin(θ − θt)/sin θ,
 * s₁ = sin(θt)/sin θ (each step rounded to f32) and out = f32(f32(s₀·a) + f32(s₁·b)).
 */
import { fr, numberOf } from './common';
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
    memoryPerTensor: '3 numbers',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const t = numberOf(ctx, 't');
    if (ctx.inputCount === 1) return copyProgram();
    const sums = new Float64Array(3);
    let na = 0;
    let nb = 0;
    let c0 = 0;
    let c1 = 0;
    return {
      passes: [
        {
          kind: 'moments',
          label: 'slerp norms',
          accumulate(c) {
            const [a, b] = c.x;
            for (let i = 0; i < c.count; i++) {
              sums[0] += a[i] * a[i];
              sums[1] += b[i] * b[i];
            }
          },
          finish() {
            na = fr(Math.sqrt(sums[0]));
            nb = fr(Math.sqrt(sums[1]));
          },
        },
        {
          kind: 'moments',
          label: 'slerp dot product',
          accumulate(c) {
            const [a, b] = c.x;
            for (let i = 0; i < c.count; i++) {
              const ua = na > 1e-8 ? fr(a[i] / na) : a[i];
              const ub = nb > 1e-8 ? fr(b[i] / nb) : b[i];
              sums[2] += fr(ua * ub);
            }
          },
          finish() {
            const dot = fr(sums[2]);
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
        },
      ],
      combine(chunk, out) {
        const [a, b] = chunk.x;
        for (let i = 0; i < chunk.count; i++) out[i] = fr(c0 * a[i]) + fr(c1 * b[i]);
      },
      describe: () => ({ kernel: 'pair', scalars: Float32Array.of(c0, c1) }),
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
