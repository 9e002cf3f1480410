/**
 * Model Stock — mergekit's `model_stock` (merge_methods/model_stock.py): the average of the fine-tunes
 * pulled towards the base by a ratio from the angle between their task vectors.
 *
 * Statistics (1 pass, per tensor, or per row with filter_wise): oᵢ = f32(wᵢ − w₀) for N ≥ 2 models,
 * f64 sums oᵢ·oⱼ (i ≤ j). cos = mean over pairs of clamp(oᵢ·oⱼ / max(‖oᵢ‖‖oⱼ‖, 1e-6), −1, 1);
 * t = N·cos / (1 + (N − 1)·cos). Element-wise, f32: avg = (Σ wᵢ)/N, out = f32(t·avg) + f32((1 − t)·w₀).
 */
import { booleanOf, fr } from './common';
import { groupsOf } from './groups';
import type { MergeMethod } from './types';

export const modelStock: MergeMethod = {
  name: 'model_stock',
  title: 'Model Stock',
  description: 'Averages the fine-tunes and moves the average towards the base by a ratio set by the angle between their task vectors.',
  reference: { label: 'Jang et al. 2024, Model Stock', url: 'https://arxiv.org/abs/2403.19522' },
  parameters: [{ name: 'filter_wise', level: 'tensor', kind: 'boolean', required: false, default: false, description: 'one ratio per row instead of per tensor' }],
  needs: {
    base: 'required',
    models: { min: 2 },
    statistics: ['oᵢ·oⱼ for every pair of task vectors, per tensor or row (1 pass)'],
    memoryPerTensor: 'N(N+1)/2 numbers per tensor, or per row with filter_wise',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const N = ctx.inputCount - 1;
    const groups = groupsOf(booleanOf(ctx, 'filter_wise', false) ? 'row' : 'tensor', ctx.shape);
    const pairs = (N * (N + 1)) / 2;
    const sums = new Float64Array(groups.count * pairs);
    const ratio = new Float32Array(groups.count);
    const o = new Float32Array(N);
    return {
      passes: [
        {
          kind: 'moments',
          label: 'model_stock task vector angles',
          accumulate(c) {
            for (let e = 0; e < c.count; e++) {
              const base = groups.of(c.offset + e) * pairs;
              for (let i = 0; i < N; i++) o[i] = c.x[i + 1][e] - c.x[0][e];
              let p = 0;
              for (let i = 0; i < N; i++) for (let j = i; j < N; j++) sums[base + p++] += i === j ? o[i] * o[j] : fr(o[i] * o[j]); // norms: exact squares; (oᵢ*oⱼ).sum(): f32 products
            }
          },
          finish() {
            const idx = (i: number, j: number) => i * N - (i * (i - 1)) / 2 + (j - i);
            for (let g = 0; g < groups.count; g++) {
              const s = (i: number, j: number) => sums[g * pairs + idx(i, j)];
              let total = 0;
              let count = 0;
              for (let i = 0; i < N; i++) {
                for (let j = i + 1; j < N; j++) {
                  const np = fr(fr(Math.sqrt(s(i, i))) * fr(Math.sqrt(s(j, j))));
                  const cos = fr(fr(s(i, j)) / Math.max(np, fr(1e-6)));
                  total = count === 0 ? Math.min(1, Math.max(-1, cos)) : fr(total + Math.min(1, Math.max(-1, cos)));
                  count++;
                }
              }
              const cos = fr(total / count);
              ratio[g] = fr(fr(N * cos) / fr(1 + fr((N - 1) * cos)));
            }
          },
        },
      ],
      combine(chunk, out) {
        for (let e = 0; e < chunk.count; e++) {
          const t = ratio[groups.of(chunk.offset + e)];
          let sum = 0;
          for (let i = 1; i <= N; i++) sum = fr(sum + chunk.x[i][e]);
          const avg = fr(sum / N);
          out[e] = fr(t * avg) + fr(fr(1 - t) * chunk.x[0][e]);
        }
      },
      describe: () => ({ kernel: 'model_stock', scalars: ratio }),
    };
  },
};
