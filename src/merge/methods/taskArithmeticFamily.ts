/**
 * mergekit's generalised task arithmetic (merge_methods/generalized_task_arithmetic.py with
 * sparsify.py): task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della,
 * della_linear are this one computation with a sparsification and an optional sign consensus.
 *
 * Per tensor, with b the base and, for each other model j, δⱼ = f32(xⱼ − b), wⱼ = f32(weight):
 *   1. sparsify δⱼ (density dⱼ < 1 only):
 *      magnitude (ties):          keep the k = ⌊d·n⌋ largest |δ| (k = 0 is refused, as mergekit asserts)
 *      magnitude_outliers:        drop the ⌊γ·n⌋ largest and the n − ⌊d·n⌋ − ⌊γ·n⌋ smallest |δ|
 *      random (dare):             keep each element with probability d (seeded counter RNG)
 *      della_magprune (della):    keep with probability (d − ε) + 2ε·(rank in its row − 1)/(row length − 1)
 *      then, with `rescale`, multiply the kept elements by f32(f32(Σ|δ|) / f32(Σ|kept δ|)) (L1; not
 *      when either sum is below 1e-7).
 *   2. wdⱼ = f32(δ'ⱼ · wⱼ)
 *   3. consensus (ties family): s = Σⱼ wdⱼ (in model order, f32); the majority sign is +1 when s ≥ 0,
 *      else −1; mⱼ = [sign(wdⱼ) == majority]; mixed = Σ f32(wdⱼ·mⱼ), divisor = Σ f32(wⱼ·mⱼ) (0 → 1).
 *      Without consensus: mixed = Σ wdⱼ, divisor = Σ wⱼ (|divisor| < 1e-8 → 1).
 *   4. normalize: mixed = f32(mixed / divisor); λ ≠ 1: mixed = f32(mixed · f32(λ)); out = f32(b + mixed).
 *
 * Ties at a magnitude boundary: torch's sort leaves their order open; SoupLab keeps the stable
 * ascending order (select.ts). magnitude_outliers with ⌊γ·n⌋ = 0 keeps the top (mergekit's slice
 * `indices[n_bot:-0]` is empty there and drops the whole delta of tensors under 1/γ elements, which is
 * not what the method means).
 *
 * Vocabulary: a model with more embedding rows than the base is cut to the base's rows (mergekit's
 * get_task_vectors takes x[:base rows]).
 */
import { InputError } from '../../errors';
import { streamKey, uniform24 } from './counterRandom';
import { deltasOf, DENSITY, fr, modelNumber, NORMALIZE, RANDOM_SEED, rowLength, WEIGHT, zipPasses, booleanOf, numberOf } from './common';
import { isBelow, keyBits, RankSelector } from './select';
import type { ModelKeep, TaskArithmeticElements } from './gpuElements';
import type { ElementChunk, MergeMethod, ParameterSpec, StatisticsPass, TensorContext, TensorProgram } from './types';

export type Sparsification = 'magnitude' | 'random' | 'magnitude_outliers' | 'della_magprune';

export interface TaskArithmeticVariant {
  name: string;
  title: string;
  description: string;
  reference: { label: string; url: string };
  consensus: boolean;
  sparsification?: Sparsification;
  defaultNormalize: boolean;
  defaultRescale: boolean;
}

const STATISTICS: Record<Sparsification, string> = {
  magnitude: 'per model: the |delta| at the density boundary (exact radix select, 3 passes), and with rescale Σ|delta| before and after',
  magnitude_outliers: 'per model: the |delta| at both boundaries (exact radix select, 3 passes), and with rescale Σ|delta| before and after',
  random: 'with rescale (the default): per model Σ|delta| before and after dropping (1 pass)',
  della_magprune: 'per row: the ranks of |delta| (rows sorted one at a time); with rescale (the default) Σ|delta| before and after (1 pass)',
};

const GPU: Record<Sparsification | 'none', string> = {
  none: 'all',
  magnitude: 'all; with rescale, the Σ|delta| pass on the CPU',
  magnitude_outliers: 'all; with rescale, the Σ|delta| pass on the CPU',
  random: 'the element pass; the rescale pass (on by default) on the CPU',
  della_magprune: 'none (per-row ranks)',
};

export function taskArithmeticMethod(v: TaskArithmeticVariant): MergeMethod {
  const params: ParameterSpec[] = [
    WEIGHT,
    DENSITY,
    NORMALIZE(v.defaultNormalize),
    { name: 'lambda', level: 'tensor', kind: 'number', required: false, default: 1, description: 'scale of the merged task vector' },
    { name: 'rescale', level: 'tensor', kind: 'boolean', required: false, default: v.defaultRescale, description: 'after dropping, rescale the kept delta to the L1 norm of the whole delta' },
    { name: 'int8_mask', level: 'tensor', kind: 'boolean', required: false, default: false, description: "mergekit's memory option for its masks; no effect on the result" },
  ];
  if (v.sparsification === 'magnitude_outliers') {
    params.push({ name: 'gamma', level: 'model', kind: 'number', required: false, default: 0.01, range: { min: 0, max: 1 }, description: 'fraction of the largest |delta| dropped as outliers' });
  }
  if (v.sparsification === 'della_magprune') {
    params.push({ name: 'epsilon', level: 'model', kind: 'number', required: false, default: 0.15, range: { min: 0, max: 1 }, description: 'spread of the keep probabilities around density, by magnitude rank' });
  }
  const random = v.sparsification === 'random' || v.sparsification === 'della_magprune';
  if (random) params.push(RANDOM_SEED);
  return {
    name: v.name,
    title: v.title,
    description: v.description,
    reference: v.reference,
    parameters: params,
    needs: {
      base: 'required',
      models: { min: 1 },
      statistics: v.sparsification ? [STATISTICS[v.sparsification]] : [],
      memoryPerTensor: v.sparsification === 'magnitude' || v.sparsification === 'magnitude_outliers'
        ? `${v.sparsification === 'magnitude' ? 512 : 1024} KiB of histograms per model`
        : v.sparsification === 'della_magprune'
          ? 'one row of indices per model (8 bytes × row length)'
          : 'none',
      gpu: GPU[v.sparsification ?? 'none'],
      vocabulary: 'cut-to-reference',
      random,
    },
    program: (ctx) => taskArithmeticProgram(v, ctx),
  };
}

interface ModelPlan {
  weight: number;
  /** Keep mask of a chunk (1 = kept), or undefined when the whole delta is kept. */
  mask?: (chunk: ElementChunk, delta: Float32Array) => Uint8Array;
  /** Zero delta (della with density ≤ 0). */
  zero?: boolean;
  scale: number;
  /** The mask for a GPU kernel (after the passes); undefined: no GPU kernel reproduces it (della). */
  gpuKeep?: () => ModelKeep;
}

function taskArithmeticProgram(v: TaskArithmeticVariant, ctx: TensorContext): TensorProgram {
  const n = ctx.inputCount - 1;
  const numel = ctx.numel;
  const normalize = booleanOf(ctx, 'normalize', v.defaultNormalize);
  const rescale = booleanOf(ctx, 'rescale', v.defaultRescale);
  const lambda = numberOf(ctx, 'lambda', 1);
  const passes: StatisticsPass[][] = [];
  const plans: ModelPlan[] = [];
  for (let j = 1; j <= n; j++) {
    const plan: ModelPlan = { weight: fr(modelNumber(ctx, j, 'weight', 1)), scale: 1, gpuKeep: () => ({ kind: 'all' }) };
    plans.push(plan);
    const density = modelNumber(ctx, j, 'density', 1);
    if (!v.sparsification || density >= 1) continue;
    const where = `tensor ${ctx.name}, model ${j}`;
    switch (v.sparsification) {
      case 'magnitude': {
        const k = Math.floor(density * numel);
        if (k <= 0) throw new InputError(`${where}: density ${density} keeps none of its ${numel} elements (⌊density·n⌋ = 0); raise density for this tensor (a filter), as mergekit refuses it too`);
        const sel = new RankSelector((c, i) => keyBits(deltaAt(c, j, i)), () => numel - k, { input: j, base: 0 });
        plan.gpuKeep = () => ({ kind: 'largest', below: sel.result! });
        passes.push(sel.passes(`${v.name} magnitude threshold`));
        plan.mask = (c, d) => {
          const m = new Uint8Array(c.count);
          const s = sel.result!;
          for (let i = 0; i < c.count; i++) m[i] = isBelow(s, keyBits(d[i]), c.offset + i) ? 0 : 1;
          return m;
        };
        break;
      }
      case 'magnitude_outliers': {
        const gamma = modelNumber(ctx, j, 'gamma', 0.01);
        const target = Math.floor(density * numel);
        let nTop = Math.floor(gamma * numel);
        let nBot = numel - target - nTop;
        if (nBot < 0) {
          nTop += nBot;
          nBot = 0;
        }
        const lower = new RankSelector((c, i) => keyBits(deltaAt(c, j, i)), () => nBot, { input: j, base: 0 });
        const upper = new RankSelector((c, i) => keyBits(deltaAt(c, j, i)), () => numel - nTop, { input: j, base: 0 });
        plan.gpuKeep = () => ({ kind: 'between', below: lower.result!, notAbove: upper.result! });
        passes.push(lower.passes(`${v.name} lower threshold`), upper.passes(`${v.name} outlier threshold`));
        plan.mask = (c, d) => {
          const m = new Uint8Array(c.count);
          const lo = lower.result!;
          const hi = upper.result!;
          for (let i = 0; i < c.count; i++) {
            const key = keyBits(d[i]);
            m[i] = !isBelow(lo, key, c.offset + i) && isBelow(hi, key, c.offset + i) ? 1 : 0;
          }
          return m;
        };
        break;
      }
      case 'random': {
        const stream = streamKey(ctx.seed, ctx.tensorKey, j);
        const p = fr(density);
        plan.gpuKeep = () => ({ kind: 'random', stream, p });
        plan.mask = (c) => {
          const m = new Uint8Array(c.count);
          for (let i = 0; i < c.count; i++) m[i] = uniform24(stream, c.offset + i) < p ? 1 : 0;
          return m;
        };
        break;
      }
      case 'della_magprune': {
        plan.gpuKeep = undefined; // per-row ranks: the CPU's
        if (density <= 0) {
          plan.zero = true;
          continue;
        }
        const epsilon = modelNumber(ctx, j, 'epsilon', 0.15);
        if (density + epsilon >= 1 || density - epsilon <= 0) {
          throw new InputError(`${where}: della needs density ± epsilon inside (0, 1), got density ${density} and epsilon ${epsilon}`);
        }
        if (ctx.shape.length > 2) throw new InputError(`tensor ${ctx.name}: della ranks magnitudes along rows of 1-D and 2-D tensors; this one is ${ctx.shape.length}-D`);
        const stream = streamKey(ctx.seed, ctx.tensorKey, j);
        const row = rowLength(ctx.shape);
        const low = fr(density - epsilon);
        const eps = fr(epsilon);
        plan.mask = (c, d) => dellaMask(c, d, row, stream, low, eps);
        break;
      }
    }
    if (rescale) {
      const sums = new Float64Array(2);
      passes.push([
        {
          kind: 'moments',
          label: `${v.name} rescale norms`,
          chunkMultiple: v.sparsification === 'della_magprune' ? rowLength(ctx.shape) : undefined,
          accumulate: (c) => {
            const d = deltaOf(c, j);
            const m = plan.mask!(c, d);
            for (let i = 0; i < c.count; i++) {
              const a = Math.abs(d[i]);
              sums[0] += a;
              if (m[i]) sums[1] += a;
            }
          },
          finish: () => {
            // torch: two f32 sums, then an f32 division
            const before = fr(sums[0]);
            const after = fr(sums[1]);
            plan.scale = before < 1e-7 || after < 1e-7 ? 1 : fr(before / after);
          },
        },
      ]);
    }
  }
  const allPasses = stagedPasses(passes);
  const weightSum = plans.reduce((s, p, i) => (i === 0 ? p.weight : fr(s + p.weight)), 0);
  const linearDivisor = Math.abs(weightSum) < 1e-8 ? 1 : weightSum;
  const lam = fr(lambda);
  const della = v.sparsification === 'della_magprune';

  return {
    passes: allPasses,
    combineChunkMultiple: della ? rowLength(ctx.shape) : undefined,
    combine(chunk, out) {
      const b = chunk.x[0];
      const deltas = deltasOf(chunk);
      // δ'ⱼ·wⱼ for every model, in place.
      for (let j = 0; j < n; j++) {
        const p = plans[j];
        const d = deltas[j];
        if (p.zero) {
          d.fill(0);
          continue;
        }
        const m = p.mask?.(chunk, d);
        for (let i = 0; i < chunk.count; i++) {
          let x = d[i];
          if (m && !m[i]) x = x * 0;
          if (m && p.scale !== 1) x = fr(x * p.scale);
          d[i] = x * p.weight;
        }
      }
      for (let i = 0; i < chunk.count; i++) {
        let mixed: number;
        let divisor: number;
        if (n === 0) {
          out[i] = b[i];
          continue;
        }
        if (v.consensus) {
          let s = deltas[0][i];
          for (let j = 1; j < n; j++) s = fr(s + deltas[j][i]);
          const majority = s >= 0 ? 1 : -1;
          mixed = 0;
          divisor = 0;
          for (let j = 0; j < n; j++) {
            const wd = deltas[j][i];
            const agree = (wd > 0 && majority === 1) || (wd < 0 && majority === -1) ? 1 : 0;
            const term = wd * agree;
            const wterm = plans[j].weight * agree;
            mixed = j === 0 ? term : fr(mixed + term);
            divisor = j === 0 ? wterm : fr(divisor + wterm);
          }
          if (divisor === 0) divisor = 1;
        } else {
          mixed = deltas[0][i];
          for (let j = 1; j < n; j++) mixed = fr(mixed + deltas[j][i]);
          divisor = linearDivisor;
        }
        if (normalize) mixed = fr(mixed / divisor);
        if (lambda !== 1) mixed = fr(mixed * lam);
        out[i] = b[i] + mixed;
      }
    },
    gpuElements: (): TaskArithmeticElements | undefined => {
      if (plans.some((p) => !p.gpuKeep)) return undefined;
      return {
        kernel: 'task_arithmetic',
        models: plans.map((p) => ({ weight: p.weight, scale: p.scale, keep: p.gpuKeep!() })),
        consensus: v.consensus,
        normalize,
        divisor: linearDivisor,
        lambda: lam,
      };
    },
    describe: () => ({
      kernel: v.name,
      scalars: Float32Array.from([...plans.map((p) => p.weight), ...plans.map((p) => p.scale), linearDivisor, lam]),
    }),
  };
}

function deltaAt(c: ElementChunk, j: number, i: number): number {
  return fr(c.x[j][i] - c.x[0][i]);
}

function deltaOf(c: ElementChunk, j: number): Float32Array {
  const d = new Float32Array(c.count);
  const x = c.x[j];
  const b = c.x[0];
  for (let i = 0; i < c.count; i++) d[i] = x[i] - b[i];
  return d;
}

/**
 * Each model contributes stage lists (3 selection passes, then a rescale pass); the selection passes of
 * all models run together, then the rescale passes (which need the selections).
 */
function stagedPasses(lists: StatisticsPass[][]): StatisticsPass[] {
  const selection = lists.filter((l) => l[0].kind !== 'moments');
  const rescale = lists.filter((l) => l[0].kind === 'moments');
  const join = (stage: StatisticsPass[]) => zipPasses(stage.map((p) => [p]))[0];
  const out: StatisticsPass[] = [];
  if (selection.length > 0) for (let s = 0; s < 3; s++) out.push(join(selection.map((l) => l[s])));
  if (rescale.length > 0) out.push(join(rescale.map((l) => l[0])));
  return out;
}

/**
 * DELLA's keep mask of whole rows: within each row, elements ranked by |δ| (stable ascending), keep
 * probability p = f32(f32(d − ε) + f32(f32(rank_norm·2)·ε)), rank_norm = f32((rank − 1)/(row − 1)).
 */
function dellaMask(c: ElementChunk, d: Float32Array, row: number, stream: number, low: number, eps: number): Uint8Array {
  const m = new Uint8Array(c.count);
  const order = new Uint32Array(row);
  const keys = new Uint32Array(row);
  for (let r0 = 0; r0 < c.count; r0 += row) {
    const len = Math.min(row, c.count - r0);
    for (let i = 0; i < len; i++) {
      order[i] = i;
      keys[i] = keyBits(d[r0 + i]);
    }
    const ord = order.subarray(0, len).sort((a, b) => keys[a] - keys[b] || a - b);
    for (let rank = 0; rank < len; rank++) {
      const i = ord[rank];
      const rankNorm = len > 1 ? Math.min(1, Math.max(0, fr(rank / (len - 1)))) : 0;
      const p = fr(low + fr(fr(rankNorm * 2) * eps));
      m[r0 + i] = uniform24(stream, c.offset + r0 + i) < p ? 1 : 0;
    }
  }
  return m;
}
