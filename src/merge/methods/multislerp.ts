/**
 * Multi-SLERP — mergekit's `multislerp` (merge_methods/multislerp.py): barycentric interpolation of
 * any number of models on the hypersphere (tangent space at the weighted mean of their directions),
 * of their task vectors when a base model is given.
 *
 * In mergekit's order, f32 element-wise, vᵢ the models (or xᵢ − base), wᵢ the weights (÷ Σw with
 * normalize_weights):
 *   uᵢ = vᵢ / f32(‖vᵢ‖ + eps);  m = Σ f32(uᵢ·wᵢ);  m̂ = m / ‖m‖;  τᵢ = uᵢ − f32((uᵢ·m̂)·m̂);
 *   r = Σ f32(τᵢ·wᵢ);  ρ = ‖r‖ + eps;  out = f32(f32(m̂·cos ρ) + f32(r·f32(sin ρ/ρ))) · Σ f32(‖vᵢ‖·wᵢ)  (+ base)
 * Statistics: 4 passes over the tensor (‖vᵢ‖, ‖m‖, uᵢ·m̂, ‖r‖), each recomputing the element chain,
 * f64 sums. With two models whose mean vanishes (‖m‖ < eps) it falls back to f32(v₀w₀) + f32(v₁w₁).
 */
import { InputError } from '../../errors';
import { booleanOf, fr, modelNumber, numberOf, WEIGHT } from './common';
import { copyProgram } from './slerp';
import type { MergeMethod } from './types';

export const multislerp: MergeMethod = {
  name: 'multislerp',
  title: 'Multi-SLERP',
  description: 'Spherical interpolation of any number of models (or of their task vectors from a base) by their weights.',
  reference: { label: 'Goddard, Multi-SLERP', url: 'https://goddard.blog/posts/multislerp-wow-what-a-cool-idea' },
  parameters: [
    WEIGHT,
    { name: 'normalize_weights', level: 'tensor', kind: 'boolean', required: false, default: true, description: 'divide the weights by their sum' },
    { name: 'eps', level: 'tensor', kind: 'number', required: false, default: 1e-8, range: { min: 0 }, description: 'numerical floor for norms' },
  ],
  needs: {
    base: 'optional',
    models: { min: 1 },
    statistics: ['‖vᵢ‖, ‖mean‖, uᵢ·mean, ‖tangent‖ (4 passes)'],
    memoryPerTensor: '2 numbers per model',
    gpu: 'none',
    vocabulary: 'equal',
  },
  program(ctx) {
    const hasBase = ctx.baseIndex !== undefined;
    const first = hasBase ? 1 : 0;
    const n = ctx.inputCount - first;
    if (n <= 1) return n === 1 && !hasBase ? copyProgram() : { ...copyProgram(), combine: (c, out) => out.set(c.x[first].subarray(0, c.count)) };
    const eps = fr(numberOf(ctx, 'eps', 1e-8));
    let w = Array.from({ length: n }, (_, i) => fr(modelNumber(ctx, first + i, 'weight', 1)));
    if (booleanOf(ctx, 'normalize_weights', true)) {
      let s = w[0];
      for (let i = 1; i < n; i++) s = fr(s + w[i]);
      w = w.map((x) => fr(x / s));
    }
    const norms = new Float32Array(n);
    const den = new Float32Array(n);
    const dots = new Float32Array(n);
    let meanNorm = 0;
    let fallback = false;
    let cosR = 0;
    let sinRatio = 0;
    let avgNorm = 0;
    const acc = new Float64Array(n);
    const v = new Float32Array(n);
    const u = new Float32Array(n);
    const load = (x: Float32Array[], i: number) => {
      for (let k = 0; k < n; k++) v[k] = hasBase ? fr(x[first + k][i] - x[0][i]) : x[first + k][i];
    };
    const unitsAndMean = (): number => {
      let m = 0;
      for (let k = 0; k < n; k++) {
        u[k] = v[k] / den[k];
        const term = fr(u[k] * w[k]);
        m = k === 0 ? term : fr(m + term);
      }
      return m;
    };
    const tangent = (mhat: number): number => {
      let r = 0;
      for (let k = 0; k < n; k++) {
        const tau = fr(u[k] - fr(dots[k] * mhat));
        const term = fr(tau * w[k]);
        r = k === 0 ? term : fr(r + term);
      }
      return r;
    };
    let sumSq = 0;
    return {
      passes: [
        {
          kind: 'moments',
          label: 'multislerp norms',
          accumulate(c) {
            for (let i = 0; i < c.count; i++) {
              load(c.x, i);
              for (let k = 0; k < n; k++) acc[k] += v[k] * v[k];
            }
          },
          finish() {
            for (let k = 0; k < n; k++) {
              norms[k] = Math.sqrt(acc[k]);
              den[k] = norms[k] + eps;
            }
            let s = 0;
            for (let k = 0; k < n; k++) s = k === 0 ? fr(norms[k] * w[k]) : fr(s + fr(norms[k] * w[k]));
            avgNorm = s;
          },
        },
        {
          kind: 'moments',
          label: 'multislerp mean direction',
          accumulate(c) {
            for (let i = 0; i < c.count; i++) {
              load(c.x, i);
              const m = unitsAndMean();
              sumSq += m * m;
            }
          },
          finish() {
            meanNorm = fr(Math.sqrt(sumSq));
            if (meanNorm < eps) {
              if (n !== 2) {
                throw new InputError(
                  `tensor ${ctx.name}: the weighted mean of the models' directions is zero (antipodal models with balancing weights); multislerp cannot interpolate it, try other weights`,
                );
              }
              fallback = true;
            }
            acc.fill(0);
          },
        },
        {
          kind: 'moments',
          label: 'multislerp tangent projections',
          accumulate(c) {
            if (fallback) return;
            for (let i = 0; i < c.count; i++) {
              load(c.x, i);
              const mhat = fr(unitsAndMean() / meanNorm);
              for (let k = 0; k < n; k++) acc[k] += fr(u[k] * mhat);
            }
          },
          finish() {
            for (let k = 0; k < n; k++) dots[k] = acc[k];
            sumSq = 0;
          },
        },
        {
          kind: 'moments',
          label: 'multislerp tangent norm',
          accumulate(c) {
            if (fallback) return;
            for (let i = 0; i < c.count; i++) {
              load(c.x, i);
              const r = tangent(fr(unitsAndMean() / meanNorm));
              sumSq += r * r;
            }
          },
          finish() {
            const rho = fr(fr(Math.sqrt(sumSq)) + eps);
            cosR = fr(Math.cos(rho));
            sinRatio = fr(fr(Math.sin(rho)) / rho);
          },
        },
      ],
      combine(chunk, out) {
        for (let i = 0; i < chunk.count; i++) {
          load(chunk.x, i);
          let r: number;
          if (fallback) r = fr(v[0] * w[0]) + fr(v[1] * w[1]);
          else {
            const mhat = fr(unitsAndMean() / meanNorm);
            const t = tangent(mhat);
            r = fr(fr(fr(mhat * cosR) + fr(t * sinRatio)) * avgNorm);
          }
          out[i] = hasBase ? chunk.x[0][i] + fr(r) : r;
        }
      },
      describe: () => ({ kernel: 'multislerp', scalars: Float32Array.from([...w, ...den, ...dots, meanNorm, cosR, sinRatio, avgNorm]) }),
    };
  },
};
