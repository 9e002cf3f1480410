/**
 * Karcher mean — mergekit's `karcher` (merge_methods/karcher.py): the Riemannian mean of the models'
 * directions on the unit sphere (equal weights), scaled by their mean norm. Every model, the base
 * included when one is given, is averaged.
 *
 * mergekit iterates on tensor-sized unit vectors. Every iterate u stays in the span of the units
 * uᵢ = xᵢ/‖xᵢ‖, so SoupLab carries u as coefficients over them: one pass gathers the Gram matrix
 * Gᵢⱼ = xᵢ·xⱼ (tensorStats.ts' blocked sums: exact squares, f32 products; on the GPU too), the iteration (same steps, tolerances and stopping rule as mergekit) runs on
 * n×n numbers, and the output is one element-wise linear combination out = Σ f32(kᵢ·xᵢ). Memory:
 * n² numbers. Results equal mergekit's f32 iteration to its rounding noise (see the README's parity table).
 */
import { fr, numberOf } from './common';
import { copyProgram } from './slerp';
import { BlockedSum, exactSquares } from './tensorStats';
import type { MergeMethod } from './types';

export const karcher: MergeMethod = {
  name: 'karcher',
  title: 'Karcher mean',
  description: "The Riemannian (Karcher) mean of the models' weight directions on the sphere, scaled by their average norm.",
  reference: { label: 'Karcher mean', url: 'https://en.wikipedia.org/wiki/Karcher_mean' },
  parameters: [
    { name: 'max_iter', level: 'tensor', kind: 'integer', required: false, default: 10, range: { min: 0 }, description: 'iterations at most' },
    { name: 'tol', level: 'tensor', kind: 'number', required: false, default: 1e-5, range: { min: 0 }, description: 'convergence tolerance' },
  ],
  needs: {
    base: 'ignored',
    models: { min: 1 },
    statistics: ['Gram matrix xᵢ·xⱼ of the models (1 pass)'],
    memoryPerTensor: 'n(n+1)/2 running sums (0.5 KiB each, n models)',
    gpu: 'all (the iteration on n × n numbers on the host)',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const n = ctx.inputCount;
    if (n === 1) return copyProgram();
    const maxIter = numberOf(ctx, 'max_iter', 10);
    const tol = numberOf(ctx, 'tol', 1e-5);
    const gram = new Float64Array(n * n);
    // Gᵢⱼ: blocked sums (exact squares on the diagonal, f32 products elsewhere), on the CPU or the GPU (accept).
    const blocked = Array.from({ length: n * n }, () => new BlockedSum());
    let gpuGram: Float64Array | undefined;
    let terms = new Float32Array(0);
    let lows = new Float32Array(0);
    const k = new Float32Array(n);
    return {
      passes: [
        {
          kind: 'moments',
          label: 'karcher Gram matrix',
          accumulate(c) {
            if (terms.length < c.count) [terms, lows] = [new Float32Array(c.count), new Float32Array(c.count)];
            for (let i = 0; i < n; i++) {
              const xi = c.x[i];
              exactSquares(xi, c.count, terms, lows);
              blocked[i * n + i].add(terms, c.count, lows);
              for (let j = i + 1; j < n; j++) {
                const xj = c.x[j];
                for (let e = 0; e < c.count; e++) terms[e] = xi[e] * xj[e];
                blocked[i * n + j].add(terms, c.count);
              }
            }
          },
          finish() {
            for (let i = 0; i < n; i++) for (let j = i; j < n; j++) gram[i * n + j] = gpuGram ? gpuGram[i * n + j] : blocked[i * n + j].sum();
            for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[i * n + j] = gram[j * n + i];
            k.set(karcherCoefficients(gram, n, maxIter, tol));
          },
          gpu: [{ kind: 'sums', spec: () => ({}), accept: (s) => void (gpuGram = s.dots) }],
        },
      ],
      combine(chunk, out) {
        for (let e = 0; e < chunk.count; e++) {
          let acc = fr(k[0] * chunk.x[0][e]);
          for (let i = 1; i < n; i++) acc = fr(acc + fr(k[i] * chunk.x[i][e]));
          out[e] = acc;
        }
      },
      describe: () => ({ kernel: 'linear', scalars: k }),
    };
  },
};

/** mergekit's karcher_merge_tensors on coefficient vectors: returns kᵢ with out = Σ kᵢ·xᵢ. */
export function karcherCoefficients(gram: Float64Array, n: number, maxIter: number, tol: number): Float64Array {
  const norms = Array.from({ length: n }, (_, i) => Math.sqrt(Math.max(0, gram[i * n + i])));
  const alphas = new Array<number>(n).fill(1 / n);
  const valid = norms.map((x, i) => (x > tol ? i : -1)).filter((i) => i >= 0);
  const out = new Float64Array(n);
  if (valid.length === 0) return out;
  const aSum = valid.reduce((s, i) => s + alphas[i], 0);
  const a = valid.map((i) => alphas[i] / aSum);
  const m = valid.length;
  // g: Gram matrix of the valid unit vectors.
  const g = (p: number, q: number) => gram[valid[p] * n + valid[q]] / (norms[valid[p]] * norms[valid[q]]);
  const quad = (c: Float64Array) => {
    let s = 0;
    for (let p = 0; p < m; p++) for (let q = 0; q < m; q++) s += c[p] * c[q] * g(p, q);
    return Math.sqrt(Math.max(0, s));
  };
  let c = Float64Array.from(a);
  const nu = quad(c);
  if (nu < tol) {
    c = new Float64Array(m);
    c[0] = 1;
  } else c = c.map((x) => x / nu);
  for (let it = 0; it < maxIter; it++) {
    const T = new Float64Array(m);
    for (let p = 0; p < m; p++) {
      let dot = 0;
      for (let q = 0; q < m; q++) dot += c[q] * g(q, p);
      dot = Math.min(1, Math.max(-1, dot));
      const theta = Math.acos(dot);
      if (theta < tol) continue;
      const f = a[p] * (theta / Math.sin(theta));
      T[p] += f;
      for (let q = 0; q < m; q++) T[q] -= f * dot * c[q];
    }
    const nT = quad(T);
    if (nT < tol) break;
    const cs = Math.cos(nT);
    const sn = Math.sin(nT);
    c = c.map((x, q) => cs * x + sn * (T[q] / nT));
    const un = quad(c);
    if (un > tol) c = c.map((x) => x / un);
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += alphas[i] * norms[i];
  valid.forEach((i, p) => (out[i] = (s * c[p]) / norms[i]));
  return out;
}
