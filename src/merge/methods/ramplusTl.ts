/**
 * RAM+ (tensor-local) — mergekit's `ramplus_tl` (merge_methods/ram.py, ramplus_tl_merge): RAM whose
 * deltas that only one model made are rescaled per model and tensor, so that a model whose changes
 * mostly overlap others' is not drowned by the averaging of the overlaps.
 *
 * One statistics pass counts, per model j, its changed elements (|δⱼ| > ε) that other models changed
 * too (sⱼ) and that it alone changed (uⱼ). Then, in f32 as torch computes it (the int64 counts become
 * f32; clamping an integer count at a float ε promotes it to f32):
 *   ρⱼ = f32(f32(sⱼ) / max(f32(uⱼ), f32(ε))), λⱼ = f32(1 + f32(f32(r)·clamp(ρⱼ, 0, f32(α)))),
 * and the element pass is ram's with λⱼ multiplying each unique delta (ram.ts ramCombine).
 */
import { fr, numberOf } from './common';
import { RAM_EPSILON, ramCombine } from './ram';
import type { MergeMethod } from './types';

export const ramplusTl: MergeMethod = {
  name: 'ramplus_tl',
  title: 'Reinforced Agent Merging Plus (Tensor-Local)',
  description: 'RAM, with the deltas only one model made scaled up by how much of that model’s change overlaps the others’ (per tensor).',
  reference: { label: 'RAM, arXiv 2601.13572', url: 'https://arxiv.org/abs/2601.13572' },
  parameters: [
    { name: 'r', level: 'tensor', kind: 'number', required: false, default: 0.1, description: 'strength of the rescaling: λ = 1 + r·clamp(shared / unique, 0, α)' },
    { name: 'alpha', level: 'tensor', kind: 'number', required: false, default: 0.2, range: { min: 0 }, description: 'cap on the shared-to-unique ratio in the rescaling' },
    RAM_EPSILON,
  ],
  needs: {
    base: 'required',
    models: { min: 1 },
    statistics: ["per model, its changed elements that others changed too and that it alone changed (one pass)"],
    memoryPerTensor: 'none',
    vocabulary: 'equal',
  },
  program(ctx) {
    const eps = fr(numberOf(ctx, 'epsilon', 1e-5));
    const r = fr(numberOf(ctx, 'r', 0.1));
    const alpha = fr(numberOf(ctx, 'alpha', 0.2));
    const n = ctx.inputCount - 1;
    const shared = new Float64Array(n);
    const unique = new Float64Array(n);
    const lambdas = new Float32Array(n).fill(1);
    const changed = new Uint8Array(n);
    return {
      passes: [
        {
          kind: 'custom',
          label: 'shared and unique changes per model',
          accumulate(chunk) {
            const b = chunk.x[0];
            for (let i = 0; i < chunk.count; i++) {
              let count = 0;
              for (let j = 0; j < n; j++) {
                changed[j] = Math.abs(fr(chunk.x[j + 1][i] - b[i])) > eps ? 1 : 0;
                count += changed[j];
              }
              if (count === 0) continue;
              const into = count === 1 ? unique : shared;
              for (let j = 0; j < n; j++) into[j] += changed[j];
            }
          },
          finish() {
            for (let j = 0; j < n; j++) {
              const u = fr(unique[j]);
              const rho = fr(fr(shared[j]) / (u < eps ? eps : u));
              // torch.clamp keeps NaN: with ε = 0, a model that changed nothing has ρ = 0/0, and its
              // λ = NaN reaches every element (×0 is still NaN), as it does in mergekit.
              const clamped = rho < 0 ? 0 : rho > alpha ? alpha : rho;
              lambdas[j] = fr(1 + fr(r * clamped));
            }
          },
        },
      ],
      combine: (chunk, out) => ramCombine(chunk, out, n, eps, lambdas),
      describe: () => ({ kernel: 'ramplus_tl', scalars: Float32Array.of(eps, ...lambdas) }),
      // shaders/merge/methodElements.wgsl `ramplus*`, after the counting pass (which runs on the CPU)
      gpuElements: () => (n >= 1 ? { kernel: 'ramplus', scalars: [eps, ...lambdas] } : undefined),
    };
  },
};
