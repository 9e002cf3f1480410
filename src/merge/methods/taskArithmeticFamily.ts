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
 *                                 (one pass draws every model's mask, a bit per element, that the rest reads)
 *      then, with `rescale`, multiply the kept elements by f32(f32(Σ|δ|) / f32(Σ|kept δ|)) (L1; not
 *      when either sum is below 1e-7; the sums are tensorStats.ts' blocked sums, on the GPU too).
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
import { streamKey, uniform24 } from '../program/counterRandom';
import { DENSITY, fr, modelNumber, NORMALIZE, RANDOM_SEED, rowLength, WEIGHT, zipPasses, booleanOf, numberOf } from './common';
import { bitIsSet, keyBits } from '../program/keep';
import { deltaKeys, keysOf, KeyScratch, RankSelector } from '../program/select';
import type { DellaKeepsSpec, TaskArithmeticElements } from '../program/gpuElements';
import type { ModelKeep } from '../program/keep';
import { BlockedSum, type TensorSums, type VectorsSpec } from '../program/tensorStats';
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
  della_magprune: "per row: the ranks of |delta| and each element's keep draw (1 pass; a counting rank per row on the GPU); with rescale (the default) Σ|delta| before and after (1 pass)",
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
          ? 'one bit per element per model (its keep mask), and 8 bytes × row length while a row is ranked'
          : 'none',
      vocabulary: 'cut-to-reference',
      random,
    },
    program: (ctx) => taskArithmeticProgram(v, ctx),
  };
}

interface ModelPlan {
  weight: number;
  /** Writes the keep mask of a chunk (1 = kept) into `into`; undefined when the whole delta is kept. */
  mask?: (chunk: ElementChunk, delta: Float32Array, into: Uint8Array) => void;
  /** Zero delta (della with density ≤ 0). */
  zero?: boolean;
  scale: number;
  /** The mask for a GPU kernel (after the passes); undefined: no GPU kernel reproduces it (della's zero delta). */
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
  /** The models (input indices) whose kept delta is rescaled. */
  const rescaled: number[] = [];
  /** The models DELLA thins: their masks come from one pass over whole rows. */
  const dellaModels: DellaModel[] = [];
  for (let j = 1; j <= n; j++) {
    // Every field set here, in one order: the plans share one shape, and the loops over them stay fast.
    const plan: ModelPlan = { weight: fr(modelNumber(ctx, j, 'weight', 1)), mask: undefined, zero: false, scale: 1, gpuKeep: () => ({ kind: 'all' }) };
    plans.push(plan);
    const density = modelNumber(ctx, j, 'density', 1);
    if (!v.sparsification || density >= 1) continue;
    const where = `tensor ${ctx.name}, model ${j}`;
    switch (v.sparsification) {
      case 'magnitude': {
        const k = Math.floor(density * numel);
        if (k <= 0) throw new InputError(`${where}: density ${density} keeps none of its ${numel} elements (⌊density·n⌋ = 0); raise density for this tensor (a filter), as mergekit refuses it too`);
        const keys = new KeyScratch();
        const sel = new RankSelector((c) => deltaKeys(c, j, 0, keys), () => numel - k, { input: j, base: 0 });
        plan.gpuKeep = () => ({ kind: 'largest', below: sel.result! });
        passes.push(sel.passes(`${v.name} magnitude threshold`));
        plan.mask = (c, d, m) => {
          const key = keys.bits(c.count);
          keysOf(d, key);
          // kept: not among the numel − k smallest
          const { valueBits, cutIndex } = sel.result!;
          const cut = cutIndex - c.offset;
          for (let i = 0; i < c.count; i++) {
            const k = key[i];
            m[i] = k < valueBits || (k === valueBits && i < cut) ? 0 : 1;
          }
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
        const keys = new KeyScratch();
        const lower = new RankSelector((c) => deltaKeys(c, j, 0, keys), () => nBot, { input: j, base: 0 });
        const upper = new RankSelector((c) => deltaKeys(c, j, 0, keys), () => numel - nTop, { input: j, base: 0 });
        plan.gpuKeep = () => ({ kind: 'between', below: lower.result!, notAbove: upper.result! });
        passes.push(lower.passes(`${v.name} lower threshold`), upper.passes(`${v.name} outlier threshold`));
        plan.mask = (c, d, m) => {
          const key = keys.bits(c.count);
          keysOf(d, key);
          // kept: not below the lower boundary, and below the upper one
          const lo = lower.result!;
          const hi = upper.result!;
          const loValue = lo.valueBits;
          const loCut = lo.cutIndex - c.offset;
          const hiValue = hi.valueBits;
          const hiCut = hi.cutIndex - c.offset;
          for (let i = 0; i < c.count; i++) {
            const k = key[i];
            const belowLo = k < loValue || (k === loValue && i < loCut);
            const belowHi = k < hiValue || (k === hiValue && i < hiCut);
            m[i] = !belowLo && belowHi ? 1 : 0;
          }
        };
        break;
      }
      case 'random': {
        const stream = streamKey(ctx.seed, ctx.tensorKey, j);
        const p = fr(density);
        plan.gpuKeep = () => ({ kind: 'random', stream, p });
        plan.mask = (c, _d, m) => {
          for (let i = 0; i < c.count; i++) m[i] = uniform24(stream, c.offset + i) < p ? 1 : 0;
        };
        break;
      }
      case 'della_magprune': {
        if (density <= 0) {
          // mergekit's zeros_like: +0 whatever δ was (NaN too), which no keep mask gives: the CPU's output pass.
          plan.gpuKeep = undefined;
          plan.zero = true;
          continue;
        }
        const epsilon = modelNumber(ctx, j, 'epsilon', 0.15);
        if (density + epsilon >= 1 || density - epsilon <= 0) {
          throw new InputError(`${where}: della needs density ± epsilon inside (0, 1), got density ${density} and epsilon ${epsilon}`);
        }
        if (ctx.shape.length > 2) throw new InputError(`tensor ${ctx.name}: della ranks magnitudes along rows of 1-D and 2-D tensors; this one is ${ctx.shape.length}-D`);
        const model: DellaModel = { input: j, stream: streamKey(ctx.seed, ctx.tensorKey, j), low: fr(density - epsilon), epsilon: fr(epsilon), words: new Uint32Array(Math.ceil(numel / 32)) };
        dellaModels.push(model);
        plan.gpuKeep = () => ({ kind: 'bits', words: model.words });
        plan.mask = (c, _d, m) => {
          for (let i = 0; i < c.count; i++) m[i] = bitIsSet(model.words, c.offset + i) ? 1 : 0;
        };
        break;
      }
    }
    if (rescale) rescaled.push(j);
  }
  const allPasses = stagedPasses(passes);
  if (dellaModels.length > 0) allPasses.push(dellaKeepsPass(v, ctx, dellaModels));
  if (rescaled.length > 0) allPasses.push(rescalePass(v, ctx, plans, rescaled));
  const weightSum = plans.reduce((s, p, i) => (i === 0 ? p.weight : fr(s + p.weight)), 0);
  const linearDivisor = Math.abs(weightSum) < 1e-8 ? 1 : weightSum;
  const lam = fr(lambda);
  const models = plans.map((_, j) => j + 1);
  const weights = Float64Array.from(plans, (p) => p.weight);
  const scratch = new ChunkScratch(n);

  return {
    passes: allPasses,
    combine(chunk, out) {
      const b = chunk.x[0];
      const deltas = scratch.deltas(chunk, models);
      // δ'ⱼ·wⱼ for every model, in place.
      for (let j = 0; j < n; j++) {
        const p = plans[j];
        const d = deltas[j];
        if (p.zero) {
          d.fill(0);
          continue;
        }
        const weight = p.weight;
        if (!p.mask) {
          for (let i = 0; i < chunk.count; i++) d[i] = d[i] * weight;
          continue;
        }
        const m = scratch.mask(chunk.count);
        p.mask(chunk, d, m);
        const scale = p.scale;
        for (let i = 0; i < chunk.count; i++) {
          let x = d[i];
          if (!m[i]) x = x * 0;
          if (scale !== 1) x = fr(x * scale);
          d[i] = x * weight;
        }
      }
      const count = chunk.count;
      if (n === 0) {
        out.set(b.subarray(0, count));
        return;
      }
      // Model by model over the chunk (each Float32Array store is one f32 rounding, as fr() would be):
      // mixed and divisor per element, then the output.
      const { mixed, divisor } = scratch.sums(count);
      if (v.consensus) {
        // s = Σⱼ wdⱼ in model order; majority sign +1 where s ≥ 0 (NaN: −1).
        const s = divisor;
        s.set(deltas[0]);
        for (let j = 1; j < n; j++) {
          const d = deltas[j];
          for (let i = 0; i < count; i++) s[i] = s[i] + d[i];
        }
        // The sign tests run on the bits, without branches (the signs of deltas are a coin toss: a
        // branch per element would be mispredicted half the time). negative[i] = 1 where the majority
        // is −1 (s < 0 or NaN); agree = [wd ≠ 0, not NaN, and its sign bit is the majority's].
        const negative = scratch.mask(count);
        for (let i = 0; i < count; i++) negative[i] = s[i] >= 0 ? 0 : 1;
        for (let j = 0; j < n; j++) {
          const d = deltas[j];
          const bits = new Uint32Array(d.buffer, d.byteOffset, count);
          const w = weights[j];
          // agree = [sign(wd) == majority]; term = wd·agree and wterm = w·agree, summed in model order
          for (let i = 0; i < count; i++) {
            const u = bits[i];
            const mag = u & 0x7fffffff;
            const signed = ((mag - 0x7f800001) & -mag) >>> 31; // 1 ≤ mag ≤ +Inf: a non-zero, non-NaN value
            const agree = signed & (1 ^ (u >>> 31) ^ negative[i]);
            const wd = d[i];
            if (j === 0) {
              mixed[i] = wd * agree;
              divisor[i] = w * agree;
            } else {
              mixed[i] = mixed[i] + wd * agree;
              divisor[i] = divisor[i] + w * agree;
            }
          }
        }
        for (let i = 0; i < count; i++) if (divisor[i] === 0) divisor[i] = 1;
      } else {
        mixed.set(deltas[0]);
        for (let j = 1; j < n; j++) {
          const d = deltas[j];
          for (let i = 0; i < count; i++) mixed[i] = mixed[i] + d[i];
        }
        divisor.fill(linearDivisor);
      }
      for (let i = 0; i < count; i++) {
        let m = mixed[i];
        if (normalize) m = fr(m / divisor[i]);
        if (lambda !== 1) m = fr(m * lam);
        out[i] = b[i] + m;
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

/**
 * Buffers a program reuses from chunk to chunk: the task vectors of some models and one keep mask,
 * grown to the largest chunk seen (fresh arrays per chunk cost page faults and collections).
 */
class ChunkScratch {
  private d: Float32Array[];
  private m = new Uint8Array(0);
  private mixed = new Float32Array(0);
  private divisor = new Float32Array(0);

  constructor(models: number) {
    this.d = Array.from({ length: models }, () => new Float32Array(0));
  }

  /** δⱼ = f32(xⱼ − base) of the given inputs over the chunk. */
  deltas(c: ElementChunk, inputs: number[]): Float32Array[] {
    const b = c.x[0];
    return inputs.map((input, k) => {
      if (this.d[k].length < c.count) this.d[k] = new Float32Array(c.count);
      const d = this.d[k].subarray(0, c.count);
      const x = c.x[input];
      for (let i = 0; i < c.count; i++) d[i] = x[i] - b[i];
      return d;
    });
  }

  mask(count: number): Uint8Array {
    if (this.m.length < count) this.m = new Uint8Array(count);
    return this.m.subarray(0, count);
  }

  /** Two f32 accumulators of the output pass: the mixed delta and its divisor. */
  sums(count: number): { mixed: Float32Array; divisor: Float32Array } {
    if (this.mixed.length < count) {
      this.mixed = new Float32Array(count);
      this.divisor = new Float32Array(count);
    }
    return { mixed: this.mixed.subarray(0, count), divisor: this.divisor.subarray(0, count) };
  }
}

/** The selection passes of every model (3 each) run together, zipped stage by stage. */
function stagedPasses(lists: StatisticsPass[][]): StatisticsPass[] {
  const join = (stage: StatisticsPass[]) => zipPasses(stage.map((p) => [p]))[0];
  const out: StatisticsPass[] = [];
  if (lists.length > 0) for (let s = 0; s < 3; s++) out.push(join(lists.map((l) => l[s])));
  return out;
}

/**
 * The rescale of the models in `rescaled` (after the selections, or DELLA's masks, which it needs): per model,
 * Σ|δ| and Σ|kept δ| as tensorStats.ts' blocked sums (dropped elements add +0) — on the GPU too, with
 * the element kernels' keep masks (a VectorsSpec with `keeps`), where every mask has a GPU form (not
 * DELLA's zero delta, which is not rescaled) — then, as torch does, two f32 sums and an f32 division.
 */
function rescalePass(v: TaskArithmeticVariant, ctx: TensorContext, plans: ModelPlan[], rescaled: number[]): StatisticsPass {
  const before = rescaled.map(() => new BlockedSum());
  const after = rescaled.map(() => new BlockedSum());
  let gpuSums: TensorSums | undefined;
  const scratch = new ChunkScratch(1);
  let terms = new Float32Array(0);
  return {
    kind: 'moments',
    label: `${v.name} rescale norms`,
    accumulate: (c) => {
      if (terms.length < c.count) terms = new Float32Array(c.count);
      const t = terms.subarray(0, c.count);
      rescaled.forEach((j, r) => {
        const d = scratch.deltas(c, [j])[0];
        const m = scratch.mask(c.count);
        plans[j - 1].mask!(c, d, m);
        for (let i = 0; i < c.count; i++) t[i] = Math.abs(d[i]);
        before[r].add(t, c.count);
        for (let i = 0; i < c.count; i++) if (!m[i]) t[i] = 0;
        after[r].add(t, c.count);
      });
    },
    finish: () => {
      rescaled.forEach((j, r) => {
        const [whole, kept] = gpuSums ? [gpuSums.l1[j - 1], gpuSums.keptL1[j - 1]] : [before[r].sum(), after[r].sum()];
        // torch: two f32 sums, then an f32 division
        const b = fr(whole);
        const a = fr(kept);
        plans[j - 1].scale = b < 1e-7 || a < 1e-7 ? 1 : fr(b / a);
      });
    },
    gpu: plans.every((p) => p.gpuKeep)
      ? [{ kind: 'sums', spec: (): VectorsSpec => ({ base: 0, keeps: plans.map((p) => p.gpuKeep!()) }), accept: (s) => void (gpuSums = s) }]
      : undefined,
  };
}

/** A model DELLA thins: its input, random stream, f32(d − ε), f32(ε), and its keep mask (bit e of words[e >>> 5]) once drawn. */
interface DellaModel {
  input: number;
  stream: number;
  low: number;
  epsilon: number;
  words: Uint32Array;
}

/**
 * DELLA's masks of every model it thins, drawn in one pass over whole rows (on the GPU: shaders/merge/dellaRanks.wgsl,
 * its twin dellaMask here); the rescale and the output pass read them.
 */
function dellaKeepsPass(v: TaskArithmeticVariant, ctx: TensorContext, models: DellaModel[]): StatisticsPass {
  const row = rowLength(ctx.shape);
  const scratch = new ChunkScratch(1);
  const spec = (): DellaKeepsSpec => ({ base: 0, rowLength: row, models: models.map(({ input, stream, low, epsilon }) => ({ input, stream, low, epsilon })) });
  return {
    kind: 'row-rank',
    label: `${v.name} magnitude ranks`,
    chunkMultiple: row,
    accumulate: (c) => {
      for (const m of models) dellaMask(c, scratch.deltas(c, [m.input])[0], row, m);
    },
    finish: () => undefined,
    gpu: [{ kind: 'della-keeps', spec, accept: (masks) => masks.forEach((words, k) => models[k].words.set(words)) }],
  };
}

/**
 * DELLA's keep mask of whole rows into the model's bits: within each row, elements ranked by |δ| (stable
 * ascending), keep probability p = f32(f32(d − ε) + f32(f32(rank_norm·2)·ε)), rank_norm = f32((rank − 1)/(row − 1)).
 */
function dellaMask(c: ElementChunk, d: Float32Array, row: number, m: DellaModel): void {
  const order = new Uint32Array(row);
  const keys = new Uint32Array(row);
  const { words, stream, low, epsilon } = m;
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
      const p = fr(low + fr(fr(rankNorm * 2) * epsilon));
      const e = c.offset + r0 + i;
      const bit = 1 << (e & 31);
      if (uniform24(stream, e) < p) words[e >>> 5] |= bit;
      else words[e >>> 5] &= ~bit;
    }
  }
}
