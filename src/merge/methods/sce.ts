/**
 * SCE — mergekit's `sce` (merge_methods/sce.py): Select (the elements whose task vectors vary most
 * across models), Calculate (a weight per model from its mean squared delta), Erase (minority signs).
 *
 * Per tensor, δᵢ = f32(xᵢ − b):
 *   select_topk < 1: var = population variance of the δᵢ over models per element (f32: mean, then
 *     Σ f32((δᵢ − mean)²)/n); keep the k = ⌊(number of var ≠ 0)·select_topk⌋ largest var (exact radix
 *     select, stable ties as select.ts) in every model, zero the rest;
 *   weights ωᵢ = mean(δᵢ²) / Σ mean(δⱼ²) (uniform 1/n when that sum < 1e-6);
 *   erase: majority sign of Σδᵢ (≥ 0 → +), mᵢ = [sign δᵢ == majority];
 *   out = b + f32(Σ f32(δᵢ·f32(ωᵢ·mᵢ)) / max(Σ f32(ωᵢ·mᵢ), 1e-6)).
 * Statistics: 1 pass for the non-zero variance count, 3 for the selection, 1 for the model weights
 * (tensorStats.ts' blocked sums, over the selected elements: VectorsSpec.varianceKeep). All of them
 * (tensorStats.ts varianceOf, selectByKey, tensorSums) and the element pass (shaders/merge/methodElements.wgsl)
 * run on the GPU too.
 */
import { fr, numberOf } from './common';
import { keyBits } from '../program/keep';
import { isBelow, KeyScratch, RankSelector, type Selection } from '../program/select';
import type { GpuStatistic } from '../program/gpuElements';
import { BlockedSum, varianceOf, type TensorSums, type VectorsSpec } from '../program/tensorStats';
import type { ElementChunk, MergeMethod, StatisticsPass } from './types';

export const sce: MergeMethod = {
  name: 'sce',
  title: 'SCE',
  description: 'Keeps the parameters whose task vectors vary most across models, weights each model by its mean squared delta and erases minority signs.',
  reference: { label: 'Wan et al. 2024, FuseChat (SCE)', url: 'https://arxiv.org/abs/2408.07990' },
  parameters: [
    { name: 'select_topk', level: 'tensor', kind: 'number', required: false, default: 1, range: { min: 0, max: 1 }, description: 'fraction of the highest-variance elements kept' },
    { name: 'int8_mask', level: 'tensor', kind: 'boolean', required: false, default: false, description: "mergekit's memory option for its masks; no effect on the result" },
  ],
  needs: {
    base: 'required',
    models: { min: 1 },
    statistics: ['the variance across models at the select_topk boundary (radix select, 4 passes)', 'mean(δᵢ²) per model (1 pass)'],
    memoryPerTensor: '512 KiB of histograms, 1 number per model',
    vocabulary: 'equal',
  },
  program(ctx) {
    const n = ctx.inputCount - 1;
    const topk = numberOf(ctx, 'select_topk', 1);
    const numel = ctx.numel;
    const d = new Float32Array(Math.max(n, 1));
    const deltasAt = (c: ElementChunk, e: number) => {
      for (let i = 0; i < n; i++) d[i] = c.x[i + 1][e] - c.x[0][e];
    };
    const varianceBits = (c: ElementChunk, e: number): number => {
      deltasAt(c, e);
      return keyBits(varianceOf(d, n));
    };
    /** 0: all dropped, 1: all kept, else the selection decides. */
    let mode: 'all' | 'none' | 'select' = topk >= 1 ? 'all' : topk <= 0 ? 'none' : 'select';
    let nonzero = 0;
    let k = 0;
    const keyScratch = new KeyScratch();
    const varianceKeys = (c: ElementChunk): Uint32Array => {
      const bits = keyScratch.bits(c.count);
      for (let e = 0; e < c.count; e++) bits[e] = varianceBits(c, e);
      return bits;
    };
    const selector = new RankSelector(varianceKeys, () => numel - k, { variance: true, base: 0 });
    let sel: Selection | undefined;
    const kept = (c: ElementChunk, e: number): boolean => {
      if (mode === 'all') return true;
      if (mode === 'none') return false;
      return !isBelow(sel!, varianceBits(c, e), c.offset + e);
    };
    const passes: StatisticsPass[] = [];
    if (mode === 'select') {
      passes.push({
        kind: 'moments',
        label: 'sce non-zero variances',
        accumulate(c) {
          for (let e = 0; e < c.count; e++) if (varianceBits(c, e) !== 0) nonzero++;
        },
        gpu: [{ kind: 'count', key: { kind: 'variance', base: 0 }, value: 0, accept: (zeros) => void (nonzero = numel - zeros) }],
        finish() {
          k = Math.floor(nonzero * topk);
          if (k === 0) mode = 'none';
        },
      });
      const [high, low, tie] = selector.passes('sce variance threshold');
      const unlessDone = (p: StatisticsPass): StatisticsPass => ({
        ...p,
        accumulate: (c) => mode === 'select' && p.accumulate(c),
        finish: () => {
          if (mode === 'select') p.finish();
          if (p === tie && mode === 'select') sel = selector.result;
        },
      });
      passes.push(unlessDone(high), unlessDone(low), unlessDone(tie));
    }
    // Σ f32(δᵢ²) over the kept elements (dropped ones add +0): blocked sums, on the CPU or the GPU (accept).
    const squares = Array.from({ length: n }, () => new BlockedSum());
    let gpuSquares: Float64Array | undefined;
    let terms = new Float32Array(0);
    let keepMask = new Uint8Array(0);
    const omega = new Float32Array(Math.max(n, 1));
    passes.push({
      kind: 'moments',
      label: 'sce model weights',
      accumulate(c) {
        if (terms.length < c.count) [terms, keepMask] = [new Float32Array(c.count), new Uint8Array(c.count)];
        for (let e = 0; e < c.count; e++) keepMask[e] = kept(c, e) ? 1 : 0;
        for (let i = 0; i < n; i++) {
          const x = c.x[i + 1];
          const b = c.x[0];
          for (let e = 0; e < c.count; e++) {
            const di = fr(x[e] - b[e]);
            terms[e] = keepMask[e] ? di * di : 0; // tvs**2 is an f32 tensor
          }
          squares[i].add(terms, c.count);
        }
      },
      finish() {
        const means = Array.from({ length: n }, (_, i) => fr((gpuSquares ? gpuSquares[i * n + i] : squares[i].sum()) / numel));
        let total = 0;
        for (const m of means) total += m;
        total = fr(total);
        for (let i = 0; i < n; i++) omega[i] = Math.abs(total) < 1e-6 ? fr(1 / n) : fr(means[i] / total);
      },
      // Asked after the selection passes: sums of f32 squares over the kept elements (the GPU applies the
      // selection's boundary to the variance as kept() does); with nothing kept, the CPU's +0 sums need no pass.
      get gpu(): GpuStatistic[] {
        if (mode === 'none') return [{ kind: 'covered' }];
        const spec = (): VectorsSpec => ({ base: 0, roundedSquares: true, varianceKeep: mode === 'select' ? sel : undefined });
        return [{ kind: 'sums', spec, accept: (sums: TensorSums) => void (gpuSquares = sums.dots) }];
      },
    });
    return {
      passes: n === 0 ? [] : passes,
      combine(chunk, out) {
        const b = chunk.x[0];
        for (let e = 0; e < chunk.count; e++) {
          if (n === 0) {
            out[e] = b[e];
            continue;
          }
          const keep = kept(chunk, e);
          deltasAt(chunk, e);
          if (!keep) for (let i = 0; i < n; i++) d[i] = d[i] * 0;
          let s = d[0];
          for (let i = 1; i < n; i++) s = fr(s + d[i]);
          const majority = s >= 0 ? 1 : -1;
          let merged = 0;
          let wsum = 0;
          for (let i = 0; i < n; i++) {
            const agree = (d[i] > 0 && majority === 1) || (d[i] < 0 && majority === -1) ? 1 : 0;
            const ew = omega[i] * agree;
            const term = fr(d[i] * ew);
            merged = i === 0 ? term : fr(merged + term);
            wsum = i === 0 ? ew : fr(wsum + ew);
          }
          out[e] = b[e] + fr(merged / Math.max(wsum, fr(1e-6)));
        }
      },
      describe: () => ({ kernel: 'sce', scalars: omega }),
      // shaders/merge/methodElements.wgsl `sce*`, with the variance selection's boundary when selecting.
      gpuElements: () => (n === 0 ? undefined : { kernel: 'sce', scalars: [...omega.subarray(0, n), fr(1e-6), n], keep: mode, boundary: mode === 'select' ? sel : undefined }),
    };
  },
};
