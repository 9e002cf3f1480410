/**
 * RAM — mergekit's `ram`, Reinforced Agent Merging (merge_methods/ram.py). Element-wise, f32: task
 * vectors δᵢ = xᵢ − b; an element contributes where |δᵢ| > ε; where one model contributes its δ is
 * taken whole, where several do their deltas are averaged (÷ their count); out = b + Σ.
 */
import { fr, numberOf } from './common';
import type { MergeMethod } from './types';

export const ram: MergeMethod = {
  name: 'ram',
  title: 'Reinforced Agent Merging',
  description: 'Keeps a task vector whole where only one model changed a parameter, and averages where several did.',
  reference: { label: 'RAM, arXiv 2601.13572', url: 'https://arxiv.org/abs/2601.13572' },
  parameters: [{ name: 'epsilon', level: 'tensor', kind: 'number', required: false, default: 1e-5, range: { min: 0 }, description: 'a delta counts as a change when its magnitude exceeds this' }],
  needs: { base: 'required', models: { min: 1 }, statistics: [], memoryPerTensor: 'none', vocabulary: 'equal' },
  program(ctx) {
    const eps = fr(numberOf(ctx, 'epsilon', 1e-5));
    const n = ctx.inputCount - 1;
    return {
      passes: [],
      combine(chunk, out) {
        const b = chunk.x[0];
        const tv = new Float64Array(n);
        for (let i = 0; i < chunk.count; i++) {
          let count = 0;
          for (let j = 0; j < n; j++) {
            const d = fr(chunk.x[j + 1][i] - b[i]);
            const nz = Math.abs(d) > eps;
            tv[j] = nz ? d : d * 0;
            if (nz) count++;
          }
          const unique = count === 1 ? 1 : 0;
          const overlap = count > 1 ? 1 : 0;
          const div = Math.max(count, 1);
          let merged = 0;
          for (let j = 0; j < n; j++) {
            const term = fr(tv[j] * unique) + fr(fr(tv[j] * overlap) / div);
            merged = j === 0 ? fr(term) : fr(merged + fr(term));
          }
          out[i] = n === 0 ? b[i] : b[i] + merged;
        }
      },
      describe: () => ({ kernel: 'ram', scalars: Float32Array.of(eps) }),
      // shaders/merge/methodElements.wgsl `ram*` (a base alone is copied by the code above)
      gpuElements: () => (n >= 1 ? { kernel: 'ram', scalars: [eps] } : undefined),
    };
  },
};
