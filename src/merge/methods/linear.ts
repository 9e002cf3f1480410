/**
 * Linear — mergekit's `linear` (merge_methods/linear.py): out = Σ wᵢ·xᵢ, divided by Σ wᵢ with
 * `normalize` (default true). The plan runs it through the soup kernel (src/merge/kernel.ts, mode
 * linear: acc = f32(acc + f32(cᵢ·xᵢ)), cᵢ = f32(wᵢ / Σw) computed in f64); this program is the same
 * arithmetic for callers that run methods uniformly.
 */
import { InputError } from '../../errors';
import { booleanOf, fr, modelNumber, NORMALIZE, WEIGHT } from './common';
import type { MergeMethod } from './types';

export const linear: MergeMethod = {
  name: 'linear',
  title: 'Linear (model soup)',
  description: 'The weighted average of the models: the model soup of Wortsman et al., and what SoCE averages.',
  reference: { label: 'Wortsman et al. 2022, Model soups', url: 'https://arxiv.org/abs/2203.05482' },
  parameters: [WEIGHT, NORMALIZE(true)],
  needs: { base: 'ignored', models: { min: 1 }, statistics: [], memoryPerTensor: 'none', vocabulary: 'equal' },
  program(ctx) {
    const weights = ctx.modelParams.map((_, i) => modelNumber(ctx, i, 'weight', 1));
    const normalize = booleanOf(ctx, 'normalize', true);
    const sum = weights.reduce((a, b) => a + b, 0);
    if (normalize && sum === 0) throw new InputError(`the weights for tensor ${ctx.name} add up to 0, so they cannot be normalised; change them or set normalize: false`);
    const c = Float32Array.from(weights, (w) => (normalize ? w / sum : w));
    return {
      passes: [],
      combine(chunk, out) {
        for (let e = 0; e < chunk.count; e++) {
          let acc = 0;
          for (let i = 0; i < c.length; i++) acc = fr(acc + fr(c[i] * chunk.x[i][e]));
          out[e] = acc;
        }
      },
      describe: () => ({ kernel: 'linear', scalars: c }),
    };
  },
};
