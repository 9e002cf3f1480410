/**
 * Multi-SLERP — mergekit's `multislerp` (merge_methods/multislerp.py): barycentric interpolation of
 * any number of models on the hypersphere (tangent space at the weighted mean of their directions),
 * of their task vectors when a base model is given.
 *
 * In mergekit's order, f32 element-wise, vᵢ the models (or xᵢ − base), wᵢ the weights (÷ Σw with
 * normalize_weights):
 *   uᵢ = vᵢ / f32(‖vᵢ‖ + eps);  m = Σ f32(uᵢ·wᵢ);  m̂ = m / ‖m‖;  τᵢ = uᵢ − f32((uᵢ·m̂)·m̂);
 *   r = Σ f32(τᵢ·wᵢ);  ρ = ‖r‖ + eps;  out = f32(f32(m̂·cos ρ) + f32(r·f32(sin ρ/ρ))) · Σ f32(‖vᵢ‖·wᵢ)  (+ base)
 * Statistics: 4 passes over the tensor (‖vᵢ‖, ‖m‖, uᵢ·m̂, ‖r‖), each recomputing the element chain
 * (multislerpChain.ts): tensorStats.ts' blocked sums (exact squares for the norms), which the GPU
 * computes to the same bits (`chain` sums), and the element pass runs on the GPU too. With two models
 * whose mean vanishes (‖m‖ < eps) it falls back to f32(v₀w₀) + f32(v₁w₁) and skips the last 2 passes.
 */
import { InputError } from '../../errors';
import { booleanOf, fr, modelNumber, numberOf, WEIGHT } from './common';
import type { GpuStatistic } from '../program/gpuElements';
import { chainMean, chainTangent, chainVector, type ChainStage, type MultislerpChain } from '../program/multislerpChain';
import { copyProgram } from './slerp';
import { BlockedSum, exactSquares, type VectorsSpec } from '../program/tensorStats';
import type { ElementChunk, MergeMethod } from './types';

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
    memoryPerTensor: 'n + 1 running sums (1 KiB each, n models)',
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
    // The statistics: blocked sums (tensorStats.ts) — n + 1 per pass at most — on the CPU, or from the GPU (accept).
    const blocked = Array.from({ length: n + 1 }, () => new BlockedSum());
    let gpuSums: number[] | undefined;
    const sumOf = (k: number): number => (gpuSums ? gpuSums[k] : blocked[k].sum());
    const restart = (): void => {
      blocked.forEach((_, k) => (blocked[k] = new BlockedSum()));
      gpuSums = undefined;
    };
    const scratch = new Scratch(n);
    /** vᵢ and uᵢ = f32(vᵢ / denᵢ) of a chunk. */
    const vectorsOf = (c: ElementChunk, units: boolean): Float32Array[] => {
      const v = scratch.vectors(c.count);
      for (let k = 0; k < n; k++) {
        const x = c.x[first + k];
        const out = v[k];
        const d = den[k];
        if (hasBase) {
          const b = c.x[0];
          for (let i = 0; i < c.count; i++) out[i] = units ? fr(x[i] - b[i]) / d : x[i] - b[i];
        } else if (units) for (let i = 0; i < c.count; i++) out[i] = x[i] / d;
        else out.set(x.subarray(0, c.count));
      }
      return v;
    };
    const chain = (stage: ChainStage): MultislerpChain => ({
      weights: w,
      meanNorm: stage === 'mean' ? undefined : meanNorm,
      projections: stage === 'tangent' ? Array.from(dots) : undefined,
    });
    const base = hasBase ? 0 : undefined;
    const chainSpec = (stage: ChainStage): VectorsSpec => ({ base, divisors: Array.from(den), chain: chain(stage) });
    /** Σ c² of the chain's vector c over a chunk. */
    const addChainSquares = (c: ElementChunk, stage: 'mean' | 'tangent'): void => {
      const { terms, lows } = scratch.terms(c.count);
      chainVector(vectorsOf(c, true), c.count, chain(stage), terms);
      exactSquares(terms, c.count, terms, lows);
      blocked[n].add(terms, c.count, lows);
    };
    const chainGpu = (stage: ChainStage): GpuStatistic[] => [
      { kind: 'sums', spec: () => chainSpec(stage), accept: (s) => void (gpuSums = Array.from({ length: n + 1 }, (_, k) => s.dots[k * (n + 1) + n])) },
    ];
    const scalars = (): Float32Array => Float32Array.from([...w, ...den, ...dots, meanNorm, cosR, sinRatio, avgNorm, fallback ? 1 : 0]);
    return {
      passes: [
        {
          kind: 'moments',
          label: 'multislerp norms',
          accumulate(c) {
            const { terms, lows } = scratch.terms(c.count);
            vectorsOf(c, false).forEach((v, k) => {
              exactSquares(v, c.count, terms, lows);
              blocked[k].add(terms, c.count, lows);
            });
          },
          finish() {
            for (let k = 0; k < n; k++) {
              norms[k] = Math.sqrt(sumOf(k));
              den[k] = norms[k] + eps;
            }
            let s = 0;
            for (let k = 0; k < n; k++) s = k === 0 ? fr(norms[k] * w[k]) : fr(s + fr(norms[k] * w[k]));
            avgNorm = s;
            restart();
          },
          gpu: [{ kind: 'sums', spec: () => ({ base }), accept: (s) => void (gpuSums = Array.from({ length: n }, (_, k) => s.dots[k * n + k])) }],
        },
        {
          kind: 'moments',
          label: 'multislerp mean direction',
          accumulate: (c) => addChainSquares(c, 'mean'),
          finish() {
            meanNorm = fr(Math.sqrt(sumOf(n)));
            if (meanNorm < eps) {
              if (n !== 2) {
                throw new InputError(
                  `tensor ${ctx.name}: the weighted mean of the models' directions is zero (antipodal models with balancing weights); multislerp cannot interpolate it, try other weights`,
                );
              }
              fallback = true;
            }
            restart();
          },
          gpu: chainGpu('mean'),
        },
        {
          kind: 'moments',
          label: 'multislerp tangent projections',
          accumulate(c) {
            if (fallback) return;
            const { terms } = scratch.terms(c.count);
            const mhat = scratch.chain(c.count);
            const u = vectorsOf(c, true);
            chainVector(u, c.count, chain('direction'), mhat);
            for (let k = 0; k < n; k++) {
              const uk = u[k];
              for (let i = 0; i < c.count; i++) terms[i] = uk[i] * mhat[i];
              blocked[k].add(terms, c.count);
            }
          },
          finish() {
            if (!fallback) for (let k = 0; k < n; k++) dots[k] = sumOf(k);
            restart();
          },
          // The 2-model fallback needs no more statistics: nothing to read.
          get gpu(): GpuStatistic[] {
            return fallback ? [{ kind: 'covered' }] : chainGpu('direction');
          },
        },
        {
          kind: 'moments',
          label: 'multislerp tangent norm',
          accumulate(c) {
            if (!fallback) addChainSquares(c, 'tangent');
          },
          finish() {
            if (fallback) return;
            const rho = fr(fr(Math.sqrt(sumOf(n))) + eps);
            cosR = fr(Math.cos(rho));
            sinRatio = fr(fr(Math.sin(rho)) / rho);
          },
          get gpu(): GpuStatistic[] {
            return fallback ? [{ kind: 'covered' }] : chainGpu('tangent');
          },
        },
      ],
      combine(chunk, out) {
        if (fallback) {
          const v = vectorsOf(chunk, false);
          for (let i = 0; i < chunk.count; i++) {
            const r = fr(v[0][i] * w[0]) + fr(v[1][i] * w[1]);
            out[i] = hasBase ? chunk.x[0][i] + fr(r) : r;
          }
          return;
        }
        const u = vectorsOf(chunk, true);
        for (let i = 0; i < chunk.count; i++) {
          const mhat = fr(chainMean(u, i, w) / meanNorm);
          const t = chainTangent(u, i, w, dots, mhat);
          const r = fr(fr(fr(mhat * cosR) + fr(t * sinRatio)) * avgNorm);
          out[i] = hasBase ? chunk.x[0][i] + r : r;
        }
      },
      describe: () => ({ kernel: 'multislerp', scalars: scalars() }),
      // shaders/merge/methodElements.wgsl `multislerp`. A NaN among the scalars (a NaN or ±Inf in a model: its norm, ‖m‖
      // or a projection is NaN) reaches every element's chain — through uᵢ (denᵢ), m̂ (‖m‖), the tangent (pᵢ),
      // cos ρ and sin ρ/ρ, or Σ‖vᵢ‖wᵢ — so the whole output is NaN: no kernel needed. Other non-finite
      // scalars (an f32 norm that overflows to +Inf) leave the element pass to the CPU.
      gpuElements() {
        const all = Array.from(scalars());
        if (!fallback && all.some(Number.isNaN)) return { kernel: 'nan' };
        return (fallback ? w : all).every(Number.isFinite) ? { kernel: 'multislerp', scalars: all, base: hasBase } : undefined;
      },
    };
  },
};

/** Buffers reused from chunk to chunk, grown to the largest chunk seen. */
class Scratch {
  private v: Float32Array[];
  private t = new Float32Array(0);
  private l = new Float32Array(0);
  private c = new Float32Array(0);

  constructor(private readonly n: number) {
    this.v = Array.from({ length: n }, () => new Float32Array(0));
  }

  vectors(count: number): Float32Array[] {
    if (this.v[0].length < count) this.v = Array.from({ length: this.n }, () => new Float32Array(count));
    return this.v.map((x) => x.subarray(0, count));
  }

  terms(count: number): { terms: Float32Array; lows: Float32Array } {
    if (this.t.length < count) [this.t, this.l] = [new Float32Array(count), new Float32Array(count)];
    return { terms: this.t.subarray(0, count), lows: this.l.subarray(0, count) };
  }

  chain(count: number): Float32Array {
    if (this.c.length < count) this.c = new Float32Array(count);
    return this.c.subarray(0, count);
  }
}
