/**
 * NuSLERP — mergekit's `nuslerp` (merge_methods/nuslerp.py): SLERP between exactly two models with
 * t = w₂/(w₁ + w₂) (0.5 when |w₁ + w₂| < 1e-6); with a base model, between their task vectors, added
 * back to the base. `nuslerp_flatten` (default true) treats the tensor as one vector; otherwise each
 * row (or with `nuslerp_row_wise` each column) is interpolated on its own.
 *
 * Statistics (2 passes, per group): the norms (exact squares, clamped at 1e-7), then cos = Σ f32(v̂₀·v̂₁)
 * of the vectors normalised in f32, clamped to [−1, 1] — flattened, tensorStats.ts' blocked sums; per row
 * or column, the same blocked sums per line (lineSums.ts); the GPU computes both to the same bits, and
 * the element pass runs on the GPU too (per line: coefficients per line); θ = acos, and where |sin θ| < 1e-8 a lerp:
 * f32(f32(f32(1−t)·v₀) + f32(f32(t)·v₁)); else f32(f32(f32(sin((1−t)θ)·v₀) + f32(sin(tθ)·v₁)) / sin θ).
 */
import { deltasOf, fr, modelNumber, booleanOf, WEIGHT } from './common';
import { groupsOf } from '../program/groups';
import { forEachInLines, LineSums, linesOf } from '../program/lineSums';
import { copyProgram } from './slerp';
import { BlockedSum, exactSquares, type VectorsSpec } from '../program/tensorStats';
import type { ElementChunk, MergeMethod } from './types';

/** The sums per line of the spec's two vectors (tensorStats.ts sumTerms): ‖v₀‖², v₀·v₁, ‖v₁‖², Σ|v₀|, Σ|v₁|. */
const LINE_TERMS = 5;

export const nuslerp: MergeMethod = {
  name: 'nuslerp',
  title: 'NuSLERP',
  description: 'SLERP between two models by their weights, optionally between their task vectors from a base model, by tensor, row or column.',
  reference: { label: 'mergekit nuslerp', url: 'https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md' },
  parameters: [
    WEIGHT,
    { name: 'nuslerp_flatten', level: 'tensor', kind: 'boolean', required: false, default: true, description: 'interpolate each tensor as one vector (else row by row)' },
    { name: 'nuslerp_row_wise', level: 'tensor', kind: 'boolean', required: false, default: false, description: 'without flatten: interpolate columns instead of rows' },
  ],
  needs: {
    base: 'optional',
    models: { min: 2, max: 2 },
    statistics: ['‖v₀‖, ‖v₁‖, then v̂₀·v̂₁, per tensor, row or column (2 passes)'],
    memoryPerTensor: 'flattened: 3 running sums (1.5 KiB); by row: 3 numbers per row (24 bytes × rows) and one row\'s running sums; by column: 3 numbers and 3 running sums per column (1.5 KiB × columns)',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const hasBase = ctx.baseIndex !== undefined;
    const first = hasBase ? 1 : 0;
    if (ctx.inputCount - first < 2) return copyProgram();
    const w0 = modelNumber(ctx, first, 'weight', 1);
    const w1 = modelNumber(ctx, first + 1, 'weight', 1);
    const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
    const flatten = booleanOf(ctx, 'nuslerp_flatten', true);
    const rowWise = booleanOf(ctx, 'nuslerp_row_wise', false);
    const groups = groupsOf(flatten ? 'tensor' : rowWise ? 'column' : 'row', ctx.shape);
    const sums = new Float64Array(groups.count * 3);
    // One group (flattened): blocked sums — ‖v₀‖², ‖v₁‖², then v̂₀·v̂₁ — on the CPU or the GPU (accept).
    const whole = groups.count === 1;
    const blocked = [new BlockedSum(), new BlockedSum(), new BlockedSum()];
    let gpuSums: number[] | undefined;
    // By row or column: blocked sums per line (lineSums.ts), on the CPU or the GPU (the sums of the
    // spec's terms per line: ‖v₀‖², v₀·v₁, ‖v₁‖², Σ|v₀|, Σ|v₁| — the second pass divided by the norms).
    const lines = whole ? undefined : linesOf(rowWise ? 'column' : 'row', ctx.shape);
    const perLine = lines && new LineSums(lines, 3);
    let gpuLines: Float64Array | undefined;
    const forLines = (c: ElementChunk, visit: (i: number, line: number, at: number) => void): void => forEachInLines(lines!, c.offset, c.count, visit);
    let terms = new Float32Array(0);
    let lows = new Float32Array(0);
    const vectorsOf = (c: ElementChunk): [Float32Array, Float32Array] => (hasBase ? (deltasOf(c) as [Float32Array, Float32Array]) : [c.x[0], c.x[1]]);
    const spec = (): VectorsSpec => ({ base: hasBase ? 0 : undefined });
    // Per group: [lerp?, a, b, divisor]
    const coef = new Float32Array(groups.count * 4);
    const ft = fr(t);
    const f1t = fr(1 - t);
    const vectors = (x: Float32Array[], i: number): [number, number] =>
      hasBase ? [fr(x[1][i] - x[0][i]), fr(x[2][i] - x[0][i])] : [x[0][i], x[1][i]];
    return {
      passes: [
        {
          kind: 'moments',
          label: 'nuslerp norms',
          accumulate(c) {
            if (whole) {
              if (terms.length < c.count) [terms, lows] = [new Float32Array(c.count), new Float32Array(c.count)];
              vectorsOf(c).forEach((v, k) => {
                exactSquares(v, c.count, terms, lows);
                blocked[k].add(terms, c.count, lows);
              });
              return;
            }
            forLines(c, (i, line, at) => {
              const [a, b] = vectors(c.x, i);
              perLine!.addSquare(line, 0, at, a);
              perLine!.addSquare(line, 1, at, b);
            });
          },
          finish() {
            if (whole) [sums[0], sums[1]] = gpuSums ?? [blocked[0].sum(), blocked[1].sum()];
            else for (let g = 0; g < groups.count; g++) [sums[3 * g], sums[3 * g + 1]] = gpuLines ? [gpuLines[g * LINE_TERMS], gpuLines[g * LINE_TERMS + 2]] : [perLine!.value(g, 0), perLine!.value(g, 1)];
            for (let g = 0; g < groups.count; g++) {
              sums[3 * g] = Math.max(fr(Math.sqrt(sums[3 * g])), fr(1e-7));
              sums[3 * g + 1] = Math.max(fr(Math.sqrt(sums[3 * g + 1])), fr(1e-7));
            }
          },
          gpu: whole ? [{ kind: 'sums', spec, accept: (s) => void (gpuSums = [s.dots[0], s.dots[3]]) }] : [{ kind: 'line-sums', lines: lines!, spec, accept: (v) => void (gpuLines = v) }],
        },
        {
          kind: 'moments',
          label: 'nuslerp dot products',
          accumulate(c) {
            if (whole) {
              const [a, b] = vectorsOf(c);
              for (let i = 0; i < c.count; i++) terms[i] = fr(a[i] / sums[0]) * fr(b[i] / sums[1]);
              blocked[2].add(terms, c.count);
              return;
            }
            gpuLines = undefined; // this pass on the CPU: none of the GPU's values apply
            forLines(c, (i, line, at) => {
              const [a, b] = vectors(c.x, i);
              perLine!.add(line, 2, at, fr(fr(a / sums[3 * line]) * fr(b / sums[3 * line + 1])));
            });
          },
          finish() {
            if (whole) sums[2] = gpuSums ? gpuSums[2] : blocked[2].sum();
            else for (let g = 0; g < groups.count; g++) sums[3 * g + 2] = gpuLines ? gpuLines[g * LINE_TERMS + 1] : perLine!.value(g, 2);
            for (let g = 0; g < groups.count; g++) {
              const cos = Math.min(1, Math.max(-1, fr(sums[3 * g + 2])));
              const theta = fr(Math.acos(cos));
              const sin = fr(Math.sin(theta));
              if (Math.abs(sin) < 1e-8) coef.set([1, f1t, ft, 1], 4 * g);
              else coef.set([0, fr(Math.sin(fr(f1t * theta))), fr(Math.sin(fr(ft * theta))), sin], 4 * g);
            }
          },
          gpu: whole
            ? [{ kind: 'sums', spec: () => ({ ...spec(), divisors: [sums[0], sums[1]] }), accept: (s) => void (gpuSums = [0, 0, s.dots[1]]) }]
            : [{ kind: 'line-sums', lines: lines!, spec, lineDivisors: () => Float32Array.from({ length: 2 * groups.count }, (_, k) => sums[3 * (k >> 1) + (k & 1)]), accept: (v) => void (gpuLines = v) }],
        },
      ],
      combine(chunk, out) {
        for (let i = 0; i < chunk.count; i++) {
          const g = 4 * groups.of(chunk.offset + i);
          const [a, b] = vectors(chunk.x, i);
          const r = coef[g] === 1 ? fr(coef[g + 1] * a) + fr(coef[g + 2] * b) : fr(fr(fr(coef[g + 1] * a) + fr(coef[g + 2] * b)) / coef[g + 3]);
          out[i] = hasBase ? chunk.x[0][i] + fr(r) : r;
        }
      },
      describe: () => ({ kernel: 'nuslerp', scalars: coef }),
      // shaders/merge/methodElements.wgsl `nuslerp`: one set of coefficients (flattened), or one per row or column.
      gpuElements: () => (whole ? { kernel: 'nuslerp', scalars: Array.from(coef.subarray(0, 4)), base: hasBase } : { kernel: 'nuslerp', scalars: [], base: hasBase, lines: { lines: lines!, perLine: 4, values: coef } }),
    };
  },
};
