/**
 * Karcher mean — mergekit's `karcher` (merge_methods/karcher.py, karcher_merge_tensors): the Riemannian
 * mean of the models' directions on the unit sphere (equal weights), scaled by their mean norm. Every
 * model, the base included when one is given, is averaged.
 *
 * As mergekit does, in f32 on a tensor-sized iterate u (the program's scratch: 4 bytes per element),
 * every step rounded to f32 in mergekit's order; the units uᵢ = f32(xᵢ / ‖xᵢ‖) are recomputed from the
 * inputs where needed (correctly rounded), not stored. The scratch holds u unnormalised, with the
 * divisor `uDivisor` its elements are divided by when read (1 when mergekit leaves u as it is), so a
 * pass that normalises u needs no pass of its own. Passes:
 *
 * 1. norms ‖xᵢ‖ = f32(√Σ xᵢ²); the valid models are those with ‖xᵢ‖ > tol, their weights aᵢ = 1/n
 *    normalised over them (f64, as Python's floats);
 * 2. the initial direction u = Σ f32(f32(aᵢ)·uᵢ) (from +0, in model order) and ‖u‖; u/‖u‖, or — when
 *    ‖u‖ < tol — the first valid unit, written by one more pass (3);
 * then per iteration, at most max_iter times:
 * 4. dᵢ = clamp(f32(u·uᵢ), −1, 1), θᵢ = f32(acos dᵢ); the models with θᵢ < tol are left out, the others
 *    get cᵢ = f32(f32(aᵢ)·f32(θᵢ / f32(sin θᵢ)));
 * 5. ‖T‖ of the tangent T = Σ f32(cᵢ·f32(uᵢ − f32(dᵢ·u))) (from +0); ‖T‖ < tol stops the iteration
 *    (the later passes are skipped);
 * 6. u ← f32(f32(cos‖T‖·u) + f32(sin‖T‖·f32(T/‖T‖))) (T computed again, to the same bits) and ‖u‖,
 *    which normalises u when it exceeds tol.
 * The output: f32(u·f32(s)), s = Σ ‖xᵢ‖/n in f64 over every model. Sums are tensorStats.ts' blocked
 * sums (exact squares for the norms, f32 products for the dots), which a GPU computes to the same bits.
 */
import { fr, numberOf } from './common';
import { copyProgram } from './slerp';
import type { GpuStatistic, MethodElements } from '../program/gpuElements';
import { BlockedSum, exactSquares, type TensorSums } from '../program/tensorStats';
import type { ElementChunk, MergeMethod, StatisticsPass, TensorProgram } from './types';

export const karcher: MergeMethod = {
  name: 'karcher',
  title: 'Karcher mean',
  description: "The Riemannian (Karcher) mean of the models' weight directions on the sphere, scaled by their average norm.",
  reference: { label: 'Karcher mean', url: 'https://en.wikipedia.org/wiki/Karcher_mean' },
  parameters: [
    { name: 'max_iter', level: 'tensor', kind: 'integer', required: false, default: 10, range: { min: 0 }, description: 'iterations at most' },
    { name: 'tol', level: 'tensor', kind: 'number', required: false, default: 1e-5, range: { min: 0 }, description: 'convergence tolerance' },
  ],
  needs: {
    base: 'ignored',
    models: { min: 1 },
    statistics: ['‖xᵢ‖ (1 pass), the initial direction u = Σ aᵢ·uᵢ and ‖u‖ (1 pass), then per iteration until ‖T‖ < tol (max_iter at most): u·uᵢ, ‖T‖, the step and its norm (3 passes)'],
    memoryPerTensor: 'the iterate u: 4 bytes per element (f32; in host memory on WebGPU too), and n + 1 running sums (0.5 KiB each)',
    vocabulary: 'common-rows',
  },
  program(ctx) {
    const n = ctx.inputCount;
    if (n === 1) return copyProgram();
    return new KarcherIteration(n, numberOf(ctx, 'max_iter', 10), numberOf(ctx, 'tol', 1e-5)).program();
  },
};

/** The state of one tensor's Karcher iteration, shared by its passes. */
class KarcherIteration {
  /** f32 norms of every model. */
  private readonly norms: number[];
  /** Indices of the models with ‖xᵢ‖ > tol, and their weights f32(aᵢ). */
  private valid: number[] = [];
  private weights: number[] = [];
  /** The scratch's elements are u·uDivisor: u[e] = f32(scratch[e] / uDivisor). */
  private uDivisor = 1;
  /** The first valid unit replaces the initial direction (its norm is below tol). */
  private firstUnit = false;
  /** ‖T‖ < tol: the iteration is over. */
  private stopped = false;
  /** Of the iteration under way, per valid model: the clamped dot dᵢ, cᵢ, and whether it is in T (θᵢ ≥ tol). */
  private readonly dots: number[];
  private readonly coefficients: number[];
  private readonly moving: boolean[];
  private tangentNorm = 0;
  private cosT = 0;
  private sinT = 0;
  /** s = Σ ‖xᵢ‖/n, rounded to f32. */
  private scale = 0;
  private readonly sums: BlockedSum[];
  /** What a GPU computed instead of the CPU's sums: a vector's Σ v² (one pass), or the dots' sums. */
  private gpuSquares: number | undefined;
  private gpuDots: TensorSums | undefined;
  private terms = new Float32Array(0);
  private lows = new Float32Array(0);
  private u = new Float32Array(0);
  private tangent = new Float32Array(0);

  constructor(
    private readonly n: number,
    private readonly maxIter: number,
    private readonly tol: number,
  ) {
    this.norms = new Array<number>(n).fill(0);
    this.dots = new Array<number>(n).fill(0);
    this.coefficients = new Array<number>(n).fill(0);
    this.moving = new Array<boolean>(n).fill(false);
    this.sums = Array.from({ length: n }, () => new BlockedSum());
  }

  program(): TensorProgram {
    const running = () => this.valid.length > 0 && !this.stopped;
    // Σ xᵢ² from a GPU (the diagonal of its sums), when one computes them.
    let gpuNorms: number[] | undefined;
    const norms: StatisticsPass = {
      kind: 'moments',
      label: 'karcher norms',
      accumulate: (c) => {
        this.buffers(c.count);
        c.x.forEach((x, i) => this.addSquares(i, x, c.count));
      },
      finish: () => this.setNorms(gpuNorms ?? this.sums.map((s) => s.sum())),
      gpu: [{ kind: 'sums', spec: () => ({}), accept: (s) => void (gpuNorms = Array.from({ length: this.n }, (_, i) => s.dots[i * this.n + i])) }],
    };
    const initial: StatisticsPass = {
      kind: 'moments',
      label: 'karcher initial direction',
      skip: () => this.valid.length === 0,
      accumulate: (c) => this.initialDirection(c),
      gpu: [this.gpuVector('karcher_start', true)],
      finish: () => {
        const norm = this.normOf(0);
        this.firstUnit = norm < this.tol;
        this.uDivisor = this.firstUnit ? 1 : norm;
      },
    };
    const firstUnit: StatisticsPass = {
      kind: 'custom',
      label: 'karcher initial direction (the first unit)',
      skip: () => this.valid.length === 0 || !this.firstUnit,
      accumulate: (c) => {
        const i = this.valid[0];
        const x = c.x[i];
        const norm = this.norms[i];
        const out = c.scratch!;
        for (let e = 0; e < c.count; e++) out[e] = x[e] / norm;
      },
      finish: () => undefined,
    };
    const dots: StatisticsPass = {
      kind: 'moments',
      label: 'karcher dots u·uᵢ',
      skip: () => !running(),
      accumulate: (c) => this.accumulateDots(c),
      finish: () => this.finishDots(),
      // u·uᵢ: the sums of the models and the scratch divided by their norms (the GPU computes every pair; the dots are the scratch's column).
      gpu: [{ kind: 'sums', scratch: true, spec: () => ({ divisors: [...this.norms.map((x, i) => (this.valid.includes(i) ? x : 1)), this.uDivisor] }), accept: (sums) => void (this.gpuDots = sums) }],
    };
    const tangent: StatisticsPass = {
      kind: 'moments',
      label: 'karcher tangent norm',
      skip: () => !running(),
      accumulate: (c) => {
        const u = this.readU(c);
        this.tangentOf(c, u);
        this.addSquares(0, this.tangent, c.count);
      },
      gpu: [this.gpuVector('karcher_tangent', false)],
      finish: () => {
        const norm = this.normOf(0);
        this.tangentNorm = norm;
        if (norm < this.tol) this.stopped = true;
        this.cosT = fr(Math.cos(norm));
        this.sinT = fr(Math.sin(norm));
      },
    };
    const step: StatisticsPass = {
      kind: 'moments',
      label: 'karcher step',
      skip: () => !running(),
      accumulate: (c) => this.accumulateStep(c),
      gpu: [this.gpuVector('karcher_step', true)],
      finish: () => {
        const norm = this.normOf(0);
        this.uDivisor = norm > this.tol ? norm : 1;
      },
    };
    // The same three pass objects for every iteration: a large max_iter costs references, not passes.
    const passes: StatisticsPass[] = [norms, initial, firstUnit];
    for (let it = 0; it < this.maxIter; it++) passes.push(dots, tangent, step);
    return {
      passes,
      scratch: true,
      combine: (chunk, out) => this.combine(chunk, out),
      describe: () => ({ kernel: 'karcher', scalars: Float32Array.of(this.uDivisor, this.scale) }),
      // Nothing valid: zeros, which the CPU writes.
      gpuElements: () => (this.valid.length > 0 ? this.gpuElements('karcher', 'alone') : undefined),
    };
  }

  /** A GPU kernel's vector (the initial direction, the tangent, the step) and its Σ v², instead of the pass's accumulate(). */
  private gpuVector(kernel: 'karcher_start' | 'karcher_tangent' | 'karcher_step', store: boolean): GpuStatistic {
    return { kind: 'vector', store, elements: () => this.gpuElements(kernel, kernel === 'karcher_start' ? undefined : 'after'), accept: (sums) => void (this.gpuSquares = sums.dots[0]) };
  }

  /** The scalars of karcher's kernels (shaders/merge/methodElements.wgsl states the layout). */
  private gpuElements(kernel: MethodElements['kernel'], scratch: MethodElements['scratch']): MethodElements {
    const scalars = [this.uDivisor, this.cosT, this.sinT, this.tangentNorm, this.scale];
    for (let i = 0; i < this.n; i++) {
      const p = this.valid.indexOf(i);
      scalars.push(this.norms[i], p >= 0 ? 1 : 0, p >= 0 ? this.weights[p] : 0, p >= 0 && this.moving[p] ? 1 : 0, p >= 0 ? this.dots[p] : 0, p >= 0 ? this.coefficients[p] : 0);
    }
    return { kernel, scalars, scratch };
  }

  private buffers(count: number): void {
    if (this.terms.length < count) {
      this.terms = new Float32Array(count);
      this.lows = new Float32Array(count);
      this.u = new Float32Array(count);
      this.tangent = new Float32Array(count);
    }
  }

  /** Adds the exact squares of values[0 .. count) to sums[k]. */
  private addSquares(k: number, values: Float32Array, count: number): void {
    exactSquares(values, count, this.terms, this.lows);
    this.sums[k].add(this.terms, count, this.lows);
  }

  /** f32(√sums[k]) (or of the GPU's sum), and a fresh sums[k] for the next pass. */
  private normOf(k: number): number {
    const norm = fr(Math.sqrt(this.gpuSquares ?? this.sums[k].sum()));
    this.sums[k] = new BlockedSum();
    this.gpuSquares = undefined;
    return norm;
  }

  /** From Σ xᵢ² of every model: the norms, the valid models and their weights, the output's scale. */
  setNorms(squares: ArrayLike<number>): void {
    const { n, tol } = this;
    for (let i = 0; i < n; i++) {
      this.norms[i] = fr(Math.sqrt(squares[i]));
      this.sums[i] = new BlockedSum();
    }
    const alpha = 1 / n;
    this.valid = this.norms.map((x, i) => (x > tol ? i : -1)).filter((i) => i >= 0);
    let alphaSum = 0;
    for (let p = 0; p < this.valid.length; p++) alphaSum += alpha;
    this.weights = this.valid.map(() => fr(alpha / alphaSum));
    let s = 0;
    for (let i = 0; i < n; i++) s += alpha * this.norms[i];
    this.scale = fr(s);
  }

  /** u = Σ f32(aᵢ·uᵢ) into the scratch, and ‖u‖² into sums[0]. */
  private initialDirection(c: ElementChunk): void {
    const { count } = c;
    this.buffers(count);
    const u = c.scratch!;
    u.fill(0);
    this.valid.forEach((i, p) => {
      const x = c.x[i];
      const norm = this.norms[i];
      const a = this.weights[p];
      for (let e = 0; e < count; e++) u[e] = fr(u[e] + fr(a * fr(x[e] / norm)));
    });
    this.addSquares(0, u, count);
  }

  /** u over the chunk: f32(scratch / uDivisor) (the scratch itself when the divisor is 1: exact). */
  private readU(c: ElementChunk): Float32Array {
    this.buffers(c.count);
    const s = c.scratch!;
    if (this.uDivisor === 1) return s;
    const u = this.u;
    const d = this.uDivisor;
    for (let e = 0; e < c.count; e++) u[e] = s[e] / d;
    return u;
  }

  private accumulateDots(c: ElementChunk): void {
    const u = this.readU(c);
    const { terms } = this;
    this.valid.forEach((i, p) => {
      const x = c.x[i];
      const norm = this.norms[i];
      for (let e = 0; e < c.count; e++) terms[e] = u[e] * fr(x[e] / norm);
      this.sums[p].add(terms, c.count);
    });
  }

  private finishDots(): void {
    const gpu = this.gpuDots;
    const m = this.n + 1;
    this.valid.forEach((i, p) => {
      this.setDot(p, gpu ? gpu.dots[i * m + this.n] : this.sums[p].sum());
      this.sums[p] = new BlockedSum();
    });
    this.gpuDots = undefined;
  }

  /** dᵢ from the sum Σ f32(u·uᵢ): clamped (NaN stays NaN, as torch.clamp keeps it), θᵢ, and cᵢ. */
  setDot(p: number, sum: number): void {
    const d = Math.min(1, Math.max(-1, fr(sum)));
    const theta = fr(Math.acos(d));
    this.dots[p] = d;
    this.moving[p] = !(theta < this.tol);
    this.coefficients[p] = fr(this.weights[p] * fr(theta / fr(Math.sin(theta))));
  }

  /** T = Σ f32(cᵢ·f32(uᵢ − f32(dᵢ·u))) over the chunk, from +0, into this.tangent. */
  private tangentOf(c: ElementChunk, u: Float32Array): Float32Array {
    const t = this.tangent;
    t.fill(0, 0, c.count);
    this.valid.forEach((i, p) => {
      if (!this.moving[p]) return;
      const k = this.coefficients[p];
      const x = c.x[i];
      const norm = this.norms[i];
      const d = this.dots[p];
      for (let e = 0; e < c.count; e++) t[e] = fr(t[e] + fr(fr(fr(x[e] / norm) - fr(d * u[e])) * k));
    });
    return t;
  }

  private accumulateStep(c: ElementChunk): void {
    const u = this.readU(c);
    const t = this.tangentOf(c, u);
    const s = c.scratch!;
    const { cosT, sinT, tangentNorm } = this;
    for (let e = 0; e < c.count; e++) s[e] = fr(fr(u[e] * cosT) + fr(fr(t[e] / tangentNorm) * sinT));
    this.addSquares(0, s, c.count);
  }

  private combine(c: ElementChunk, out: Float32Array): void {
    if (this.valid.length === 0) {
      out.fill(0, 0, c.count);
      return;
    }
    const u = this.readU(c);
    const s = this.scale;
    for (let e = 0; e < c.count; e++) out[e] = u[e] * s;
  }
}
