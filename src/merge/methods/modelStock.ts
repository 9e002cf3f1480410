/**
 * Model Stock — mergekit's `model_stock` (merge_methods/model_stock.py): the average of the fine-tunes
 * pulled towards the base by a ratio from the angle between their task vectors.
 *
 * Statistics (1 pass, per tensor, or per row with filter_wise): oᵢ = f32(wᵢ − w₀) for N ≥ 2 models,
 * sums oᵢ·oⱼ (i ≤ j), norms of exact squares, dot products of f32 products: per tensor tensorStats.ts'
 * blocked, compensated sums, per row the same sums per row (lineSums.ts); the GPU computes both to the same bits.
 * cos = mean over pairs of clamp(oᵢ·oⱼ / max(‖oᵢ‖‖oⱼ‖, 1e-6), −1, 1); t = N·cos / (1 + (N − 1)·cos).
 * Element-wise, f32: avg = f32((Σ wᵢ from +0) / N), out = f32(t·avg) + f32(f32(1 − t)·w₀) — also on the
 * GPU (shaders/merge/methodElements.wgsl; filter_wise: t per row).
 */
import { booleanOf, deltasOf, fr } from './common';
import { BlockedSum, exactSquares, type TensorSums } from '../program/tensorStats';
import { groupsOf } from '../program/groups';
import { forEachInLines, LineSums, linesOf } from '../program/lineSums';
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
    memoryPerTensor: 'N(N+1)/2 running sums (0.5 KiB each); with filter_wise N(N+1)/2 numbers per row and one row\'s running sums',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const N = ctx.inputCount - 1;
    const groups = groupsOf(booleanOf(ctx, 'filter_wise', false) ? 'row' : 'tensor', ctx.shape);
    const pairs = (N * (N + 1)) / 2;
    const sums = new Float64Array(groups.count * pairs);
    const ratio = new Float32Array(groups.count);
    const o = new Float32Array(N);
    const idx = (i: number, j: number) => i * N - (i * (i - 1)) / 2 + (j - i);
    // One ratio for the whole tensor: blocked sums, on the CPU or the GPU (accept).
    const whole = groups.count === 1;
    const blocked = whole ? Array.from({ length: pairs }, () => new BlockedSum()) : [];
    let gpuSums: TensorSums | undefined;
    // One ratio per row (filter_wise): blocked sums per row (lineSums.ts), on the CPU or the GPU, which
    // sums every term of the spec per row (the pairs in this order, then N magnitude sums).
    const lines = whole ? undefined : linesOf('row', ctx.shape);
    const perRow = lines && new LineSums(lines, pairs);
    const rowTerms = pairs + N;
    let gpuRows: Float64Array | undefined;
    let terms = new Float32Array(0);
    let lows = new Float32Array(0);
    return {
      passes: [
        {
          kind: 'moments',
          label: 'model_stock task vector angles',
          accumulate(c) {
            if (whole) {
              const d = deltasOf(c);
              if (terms.length < c.count) [terms, lows] = [new Float32Array(c.count), new Float32Array(c.count)];
              for (let i = 0; i < N; i++) {
                exactSquares(d[i], c.count, terms, lows); // norms: exact squares
                blocked[idx(i, i)].add(terms, c.count, lows);
                for (let j = i + 1; j < N; j++) {
                  for (let e = 0; e < c.count; e++) terms[e] = d[i][e] * d[j][e];
                  blocked[idx(i, j)].add(terms, c.count);
                }
              }
              return;
            }
            forEachInLines(lines!, c.offset, c.count, (e, line, at) => {
              for (let i = 0; i < N; i++) o[i] = c.x[i + 1][e] - c.x[0][e];
              let p = 0;
              for (let i = 0; i < N; i++) {
                perRow!.addSquare(line, p++, at, o[i]); // norms: exact squares
                for (let j = i + 1; j < N; j++) perRow!.add(line, p++, at, fr(o[i] * o[j])); // (oᵢ*oⱼ).sum(): f32 products
              }
            });
          },
          finish() {
            if (whole) for (let i = 0; i < N; i++) for (let j = i; j < N; j++) sums[idx(i, j)] = gpuSums ? gpuSums.dots[i * N + j] : blocked[idx(i, j)].sum();
            else for (let g = 0; g < groups.count; g++) for (let p = 0; p < pairs; p++) sums[g * pairs + p] = gpuRows ? gpuRows[g * rowTerms + p] : perRow!.value(g, p);
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
          gpu: whole ? [{ kind: 'sums', spec: () => ({ base: 0 }), accept: (s) => (gpuSums = s) }] : [{ kind: 'line-sums', lines: lines!, spec: () => ({ base: 0 }), accept: (v) => void (gpuRows = v) }],
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
      // filter_wise: the ratios per row, t and f32(1 − t), in the kernel's per-line buffer (N stays a scalar).
      gpuElements: () =>
        whole
          ? { kernel: 'model_stock', scalars: [ratio[0], fr(1 - ratio[0]), N] }
          : { kernel: 'model_stock', scalars: [0, 0, N], lines: { lines: lines!, perLine: 2, values: Float32Array.from({ length: 2 * groups.count }, (_, k) => (k & 1 ? fr(1 - ratio[k >> 1]) : ratio[k >> 1])) } },
    };
  },
};
