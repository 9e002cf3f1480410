/**
 * Passthrough — mergekit's `passthrough` (merge_methods/passthrough.py): one model's tensor as it is,
 * times `scale` when set (f32(x·f32(scale))). With `slices:` it stacks layer ranges of models into a
 * new model (a frankenmerge).
 */
import { fr } from './common';
import type { MergeMethod } from './types';

export const passthrough: MergeMethod = {
  name: 'passthrough',
  title: 'Passthrough',
  description: "Copies one model's tensors (optionally scaled); with slices, stacks layer ranges of models into a new model.",
  reference: { label: 'mergekit passthrough', url: 'https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md' },
  parameters: [{ name: 'scale', level: 'model', kind: 'number', required: false, description: 'multiply the tensor by this (unset: copied exactly)' }],
  needs: { base: 'ignored', models: { min: 1, max: 1 }, statistics: [], memoryPerTensor: 'none', vocabulary: 'equal', slices: true },
  program(ctx) {
    const s = ctx.modelParams[0]?.scale;
    const scale = typeof s === 'number' ? fr(s) : undefined;
    return {
      passes: [],
      combine(chunk, out) {
        const x = chunk.x[0];
        if (scale === undefined) out.set(x.subarray(0, chunk.count));
        else for (let i = 0; i < chunk.count; i++) out[i] = fr(x[i] * scale);
      },
      describe: () => ({ kernel: 'scale', scalars: Float32Array.of(scale ?? 1) }),
    };
  },
};
