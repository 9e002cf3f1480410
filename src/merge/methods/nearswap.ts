/**
 * NearSwap — mergekit's `nearswap` (merge_methods/nearswap.py): takes the other model's value where it
 * is close to the base's. Element-wise, f32: w = clamp(f32(t) / max(|a − b|, 1e-6), 0, 1),
 * out = f32(f32(w·b) + f32(f32(1 − w)·a)), a the base, b the other model.
 */
import { fr, numberOf } from './common';
import type { MergeMethod } from './types';

export const nearswap: MergeMethod = {
  name: 'nearswap',
  title: 'NearSwap',
  description: "Interpolates towards the other model where its values are near the base's (within about t), keeping the base elsewhere.",
  reference: { label: 'alchemonaut, QuartetAnemoi (NearSwap)', url: 'https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001' },
  parameters: [{ name: 't', level: 'tensor', kind: 'number', required: true, range: { min: 0 }, description: 'distance below which the other model’s value is taken' }],
  needs: { base: 'required', models: { min: 1, max: 1 }, statistics: [], memoryPerTensor: 'none', vocabulary: 'equal' },
  program(ctx) {
    const t = fr(numberOf(ctx, 't'));
    const floor = fr(1e-6);
    return {
      passes: [],
      combine(chunk, out) {
        const [a, b] = chunk.x;
        if (!b) return out.set(a.subarray(0, chunk.count));
        for (let i = 0; i < chunk.count; i++) {
          const d = Math.abs(fr(a[i] - b[i]));
          const c = d < floor ? floor : d; // torch.clamp keeps NaN
          const q = fr(t / c);
          const w = q < 0 ? 0 : q > 1 ? 1 : q;
          out[i] = fr(w * b[i]) + fr(fr(1 - w) * a[i]);
        }
      },
      describe: () => ({ kernel: 'nearswap', scalars: Float32Array.of(t) }),
      // shaders/merge/methodElements.wgsl `nearswap` (a base alone is copied by the code above)
      gpuElements: () => (ctx.inputCount === 2 ? { kernel: 'nearswap', scalars: [t, floor] } : undefined),
    };
  },
};
