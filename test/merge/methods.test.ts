/**
 * Every registered method against the independent reference of mergekit's arithmetic
 * (methodReference.ts), on generated models (odd shapes, subnormals, signed zeros, unchanged elements,
 * large values) and on the real tensors of ../shared/fixtures, through the real plan (recipe →
 * parameters → TensorProgram) streamed in small chunks. Parity: within 1 ulp of the output dtype and
 * ≥ 99.9 % of elements identical. DARE and DELLA: reproducible bit for bit and statistically what
 * mergekit draws (kept fraction within a binomial bound, L1 rescale).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import { bf16ToF32Bits, bitsToF32, f32BitsToBf16, f32ToBits } from '../../src/formats/floatCodecs';
import { MERGE_METHODS } from '../../src/merge/methods/registry';
import { runTensorProgram } from '../../src/merge/program/runProgram';
import { planMerge, type MergePlan, type MethodStep } from '../../src/merge/plan';
import { parseRecipe } from '../../src/merge/recipe';
import * as ref from './methodReference';
import { decodeFloats, encodeFloats, randomTensor, rng, safetensorsBytes, type TestTensor } from './models';

type Out = 'F32' | 'BF16';

/** base + 3 fine-tunes: base + small deltas, some elements unchanged, a few subnormals, zeros and large values. */
function family(dtype: 'F32' | 'BF16', seed: number, shapes: Record<string, number[]>): Record<string, TestTensor[]> {
  const names = Object.keys(shapes);
  const base = names.map((n, i) => randomTensor(n, dtype, shapes[n], seed + i, { scale: 0.05 }));
  const out: Record<string, TestTensor[]> = { base };
  for (const [k, name] of ['a', 'b', 'c'].entries()) {
    out[name] = base.map((t, i) => {
      const r = rng(seed * 31 + k * 7 + i);
      const x = decodeFloats(t.dtype, t.data);
      const specials = [0, -0, 1e-40, -2e-39, 3.5, -4];
      for (let e = 0; e < x.length; e++) {
        const u = r();
        if (u < 0.1) continue; // unchanged: a zero delta
        if (u < 0.12) x[e] = specials[Math.floor(r() * specials.length)];
        else x[e] += (r() + r() - 1) * 0.01 * (k + 1);
      }
      return { ...t, data: encodeFloats(dtype, x) };
    });
  }
  return out;
}

const SHAPES = { 'model.embed_tokens.weight': [19, 12], 'model.layers.0.mlp.up_proj.weight': [33, 17], 'model.layers.1.mlp.up_proj.weight': [33, 17], 'model.norm.weight': [53] };

async function planOf(yaml: string, models: Record<string, TestTensor[]>): Promise<MergePlan> {
  const { recipe } = parseRecipe(yaml);
  const map = new Map<string, Checkpoint>();
  for (const [k, ts] of Object.entries(models)) map.set(k, await openCheckpoint(bytesSource(safetensorsBytes(ts), `${k}.safetensors`)));
  return planMerge(recipe, map);
}

/** Runs one step's program in chunks of at most `chunk` elements; returns the output bytes. */
async function run(step: MethodStep, chunk: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const numel = step.shape.reduce((a, b) => a * b, 1);
  for await (const p of runTensorProgram({ name: step.name, numel, outDtype: step.outDtype, inputs: step.inputs, program: step.program }, { maxChunkElements: chunk })) parts.push(p);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const inputsOf = (models: Record<string, TestTensor[]>, name: string, numel?: number) => {
  const get = (k: string) => {
    const t = models[k].find((x) => x.name === name)!;
    const v = decodeFloats(t.dtype, t.data);
    return numel === undefined ? v : v.subarray(0, numel);
  };
  return { base: get('base'), a: get('a'), b: get('b'), c: get('c') };
};

/** Bits of f32 values in the output dtype (round to nearest even; NaN canonical). */
function bitsIn(dtype: Out, v: Float32Array): number[] {
  return Array.from(v, (x) => {
    if (Number.isNaN(x)) return dtype === 'F32' ? 0x7fc00000 : 0x7fc0;
    return dtype === 'F32' ? f32ToBits(x) : f32BitsToBf16(f32ToBits(x));
  });
}

function bitsOf(dtype: Out, bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dtype === 'F32' ? Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(i * 4, true)) : Array.from({ length: bytes.length / 2 }, (_, i) => view.getUint16(i * 2, true));
}

/** Ulp distance between two bit patterns of one float format (ordered integers; NaN = NaN). */
function ulps(dtype: Out, a: number, b: number): number {
  const signBit = dtype === 'F32' ? 0x80000000 : 0x8000;
  const nan = (x: number) => (dtype === 'F32' ? bitsToF32(x) : bitsToF32(bf16ToF32Bits(x)));
  if (Number.isNaN(nan(a)) || Number.isNaN(nan(b))) return Number.isNaN(nan(a)) && Number.isNaN(nan(b)) ? 0 : Infinity;
  const ord = (x: number) => (x >= signBit ? -(x - signBit) : x);
  return Math.abs(ord(a) - ord(b));
}

export interface Parity {
  maxUlp: number;
  identical: number;
  total: number;
}

const parityTable = new Map<string, Parity>();

function compare(label: string, dtype: Out, got: Uint8Array, expected: Float32Array): Parity {
  const g = bitsOf(dtype, got);
  const e = bitsIn(dtype, expected);
  expect(g.length).toBe(e.length);
  let maxUlp = 0;
  let identical = 0;
  for (let i = 0; i < g.length; i++) {
    const d = ulps(dtype, g[i], e[i]);
    if (d === 0) identical++;
    if (process.env.DEBUG_PARITY && d > 1) console.log(label, i, d, dtype === 'F32' ? bitsToF32(g[i]) : g[i], expected[i]);
    maxUlp = Math.max(maxUlp, d);
  }
  const p = parityTable.get(label) ?? { maxUlp: 0, identical: 0, total: 0 };
  parityTable.set(label, { maxUlp: Math.max(p.maxUlp, maxUlp), identical: p.identical + identical, total: p.total + g.length });
  return { maxUlp, identical, total: g.length };
}

interface Case {
  method: string;
  recipe: (out: Out) => string;
  reference: (x: ReturnType<typeof inputsOf>, tensor: string, shape: number[]) => Float32Array;
}

const M = (params: string) => `models:\n  - model: a\n    parameters: {weight: 0.6${params}}\n  - model: b\n    parameters: {weight: 0.3${params}}\n  - model: c\n    parameters: {weight: 0.45${params}}\n`;
const head = (method: string, out: Out, base = true) => `merge_method: ${method}\n${base ? 'base_model: base\n' : ''}out_dtype: ${out === 'F32' ? 'float32' : 'bfloat16'}\n`;
const W = [0.6, 0.3, 0.45];

const CASES: Case[] = [
  {
    method: 'ties',
    recipe: (o) => `${head('ties', o)}${M(', density: 0.4')}parameters: {lambda: 0.9}\n`,
    reference: (x) => ref.taskArithmeticFamily(x.base, [x.a, x.b, x.c], { consensus: true, sparsify: 'magnitude', normalize: true, rescale: false, lambda: 0.9, weights: W, densities: [0.4, 0.4, 0.4] }),
  },
  {
    method: 'ties (rescale, no normalize)',
    recipe: (o) => `${head('ties', o)}${M(', density: 0.7')}parameters: {rescale: true, normalize: false}\n`,
    reference: (x) => ref.taskArithmeticFamily(x.base, [x.a, x.b, x.c], { consensus: true, sparsify: 'magnitude', normalize: false, rescale: true, lambda: 1, weights: W, densities: [0.7, 0.7, 0.7] }),
  },
  {
    method: 'breadcrumbs',
    recipe: (o) => `${head('breadcrumbs', o)}${M(', density: 0.8, gamma: 0.05')}`,
    reference: (x) => ref.taskArithmeticFamily(x.base, [x.a, x.b, x.c], { consensus: false, sparsify: 'magnitude_outliers', normalize: false, rescale: false, lambda: 1, weights: W, densities: [0.8, 0.8, 0.8], gamma: 0.05 }),
  },
  {
    method: 'breadcrumbs_ties',
    recipe: (o) => `${head('breadcrumbs_ties', o)}${M(', density: 0.5, gamma: 0.1')}parameters: {normalize: true}\n`,
    reference: (x) => ref.taskArithmeticFamily(x.base, [x.a, x.b, x.c], { consensus: true, sparsify: 'magnitude_outliers', normalize: true, rescale: false, lambda: 1, weights: W, densities: [0.5, 0.5, 0.5], gamma: 0.1 }),
  },
  {
    method: 'dare_linear at density 1 (no drop)',
    recipe: (o) => `${head('dare_linear', o)}${M('')}parameters: {lambda: 1.5}\n`,
    reference: (x) => ref.taskArithmeticFamily(x.base, [x.a, x.b, x.c], { consensus: false, normalize: false, rescale: true, lambda: 1.5, weights: W, densities: [1, 1, 1] }),
  },
  {
    method: 'sce',
    recipe: (o) => `${head('sce', o)}models:\n  - model: a\n  - model: b\n  - model: c\nparameters: {select_topk: 0.3}\n`,
    reference: (x) => ref.sce(x.base, [x.a, x.b, x.c], 0.3),
  },
  {
    method: 'sce (no selection)',
    recipe: (o) => `${head('sce', o)}models:\n  - model: a\n  - model: b\n`,
    reference: (x) => ref.sce(x.base, [x.a, x.b], 1),
  },
  {
    method: 'slerp',
    recipe: (o) => `${head('slerp', o)}models:\n  - model: base\n  - model: c\nparameters:\n  t: [0.2, 0.7]\n`,
    reference: (x, name) => ref.slerp(name.includes('layers.1.') ? 0.7 : 0.2, x.base, x.c),
  },
  {
    method: 'nuslerp',
    recipe: (o) => `${head('nuslerp', o, false)}models:\n  - model: a\n    parameters: {weight: 0.3}\n  - model: b\n    parameters: {weight: 0.9}\n`,
    reference: (x) => ref.nuslerp([0.3, 0.9], x.a, x.b),
  },
  {
    method: 'nuslerp with base',
    recipe: (o) => `${head('nuslerp', o)}models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 2}\n`,
    reference: (x) => ref.nuslerp([1, 2], x.a, x.b, x.base),
  },
  {
    method: 'nuslerp by row',
    recipe: (o) => `${head('nuslerp', o)}models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 2}\nparameters: {nuslerp_flatten: false}\n`,
    reference: (x, _, shape) => ref.byLines(shape, 'row', [x.base, x.a, x.b], ([base, a, b]) => ref.nuslerp([1, 2], a, b, base)),
  },
  {
    method: 'nuslerp by column',
    recipe: (o) => `${head('nuslerp', o, false)}models:\n  - model: a\n    parameters: {weight: 0.3}\n  - model: b\n    parameters: {weight: 0.9}\nparameters: {nuslerp_flatten: false, nuslerp_row_wise: true}\n`,
    reference: (x, _, shape) => ref.byLines(shape, 'column', [x.a, x.b], ([a, b]) => ref.nuslerp([0.3, 0.9], a, b)),
  },
  {
    method: 'model_stock filter_wise',
    recipe: (o) => `${head('model_stock', o)}models:\n  - model: a\n  - model: b\n  - model: c\nparameters: {filter_wise: true}\n`,
    reference: (x, _, shape) => ref.byLines(shape, 'row', [x.base, x.a, x.b, x.c], ([base, ...ws]) => ref.modelStock(base, ws)),
  },
  {
    method: 'multislerp',
    recipe: (o) => `${head('multislerp', o, false)}${M('')}`,
    reference: (x) => ref.multislerp([x.a, x.b, x.c], W),
  },
  {
    method: 'multislerp with base',
    recipe: (o) => `${head('multislerp', o)}${M('')}`,
    reference: (x) => ref.multislerp([x.a, x.b, x.c], W, x.base),
  },
  {
    method: 'karcher',
    recipe: (o) => `${head('karcher', o, false)}models:\n  - model: a\n  - model: b\n  - model: c\n`,
    reference: (x) => ref.karcher([x.a, x.b, x.c]),
  },
  {
    method: 'model_stock',
    recipe: (o) => `${head('model_stock', o)}models:\n  - model: a\n  - model: b\n  - model: c\n`,
    reference: (x) => ref.modelStock(x.base, [x.a, x.b, x.c]),
  },
  {
    method: 'nearswap',
    recipe: (o) => `${head('nearswap', o)}models:\n  - model: base\n  - model: b\nparameters: {t: 0.004}\n`,
    reference: (x) => ref.nearswap(0.004, x.base, x.b),
  },
  {
    method: 'ram',
    recipe: (o) => `${head('ram', o)}models:\n  - model: a\n  - model: b\n  - model: c\nparameters: {epsilon: 0.002}\n`,
    reference: (x) => ref.ram(x.base, [x.a, x.b, x.c], 0.002),
  },
  {
    method: 'passthrough',
    recipe: (o) => `${head('passthrough', o, false)}models:\n  - model: b\n    parameters: {scale: 0.7}\n`,
    reference: (x) => ref.passthroughScaled(x.b, 0.7),
  },
];

describe('every method against the independent reference of mergekit', () => {
  for (const c of CASES) {
    for (const [dtype, out] of [['BF16', 'BF16'], ['F32', 'F32'], ['BF16', 'F32']] as const) {
      test(`${c.method}: ${dtype} models → ${out}`, async () => {
        const models = family(dtype, 11, SHAPES);
        const plan = await planOf(c.recipe(out), models);
        for (const step of plan.steps) {
          expect(step.kind).toBe('method');
          const s = step as MethodStep;
          const got = await run(s, 48); // many chunks per tensor: the statistics stream
          const expected = c.reference(inputsOf(models, s.name), s.name, s.shape);
          const p = compare(`${c.method.split(' ')[0]} → ${out}`, out, got, expected);
          expect(p.maxUlp, `${s.name}: max ulp`).toBeLessThanOrEqual(1);
          expect(p.identical / p.total, `${s.name}: identical`).toBeGreaterThanOrEqual(0.999);
        }
      });
    }
  }

  test('the real tensors of ../shared/fixtures (MiniCPM3 names), BF16-rounded fine-tunes, ties / slerp / model_stock / sce / karcher', async () => {
    const fixture = await openCheckpoint(bytesSource(new Uint8Array(readFileSync(new URL('../../../shared/fixtures/ollama_minicpm3_testdata.safetensors', import.meta.url))), 'minicpm3.safetensors'));
    const base: TestTensor[] = [];
    for (const [name, t] of fixture.tensors) {
      if (t.info.dtype !== 'F32') continue;
      const bytes = await t.source.read(t.info.byteOffset, t.info.byteLength);
      // BF16, derived from the real F32 weights by rounding to nearest even.
      base.push({ name, dtype: 'BF16', shape: t.info.shape, data: encodeFloats('BF16', decodeFloats('F32', bytes)) });
    }
    expect(base.length).toBeGreaterThan(10);
    const models: Record<string, TestTensor[]> = { base };
    for (const [k, name] of ['a', 'b', 'c'].entries()) {
      const r = rng(100 + k);
      models[name] = base.map((t) => {
        const x = decodeFloats('BF16', t.data);
        for (let e = 0; e < x.length; e++) if (r() > 0.05) x[e] += x[e] * (r() - 0.5) * 0.1;
        return { ...t, data: encodeFloats('BF16', x) };
      });
    }
    const slerpFixed: Case = {
      method: 'slerp',
      recipe: (o) => `${head('slerp', o)}models:\n  - model: base\n  - model: c\nparameters:\n  t: 0.35\n`,
      reference: (x) => ref.slerp(0.35, x.base, x.c),
    };
    for (const c of [...CASES.filter((x) => ['ties', 'model_stock', 'sce', 'breadcrumbs_ties', 'nuslerp', 'karcher', 'nuslerp by row', 'nuslerp by column', 'model_stock filter_wise'].includes(x.method)), slerpFixed]) {
      // karcher into F32 too: its f32 iterate shows there, as mergekit's does
      for (const out of c.method === 'karcher' ? (['BF16', 'F32'] as const) : (['BF16'] as const)) {
        const plan = await planOf(c.recipe(out), models);
        for (const step of plan.steps) {
          const s = step as MethodStep;
          const p = compare(`${c.method} (fixture) → ${out}`, out, await run(s, 4096), c.reference(inputsOf(models, s.name), s.name, s.shape));
          expect(p.maxUlp, `${c.method} ${s.name}`).toBeLessThanOrEqual(1);
          expect(p.identical / p.total).toBeGreaterThanOrEqual(0.999);
        }
      }
    }
  });

  test('karcher: the branches of its iteration (opposite models, a zero model, max_iter 0, an early stop, nothing valid) into F32', async () => {
    const shapes = { 'model.layers.0.mlp.up_proj.weight': [37, 29] };
    const models = family('F32', 23, shapes);
    const negated = (ts: TestTensor[]) => ts.map((t) => ({ ...t, data: encodeFloats('F32', decodeFloats('F32', t.data).map((v) => -v)) }));
    const zero = (ts: TestTensor[]) => ts.map((t) => ({ ...t, data: encodeFloats('F32', new Float32Array(t.shape.reduce((a, b) => a * b, 1))) }));
    const cases: { what: string; models: Record<string, TestTensor[]>; params: string; ref: (x: ReturnType<typeof inputsOf>) => Float32Array; maxIter?: number }[] = [
      // a and −a: the initial mean is 0, below tol; mergekit starts from the first unit
      { what: 'opposite models', models: { ...models, b: negated(models.a) }, params: '', ref: (x) => ref.karcher([x.a, x.b]) },
      { what: 'a zero model', models: { ...models, b: zero(models.a) }, params: '', ref: (x) => ref.karcher([x.a, x.b]) },
      { what: 'max_iter 0', models, params: 'parameters: {max_iter: 0}\n', ref: (x) => ref.karcher([x.a, x.b], 0) },
      { what: 'an early stop (tol 0.01)', models, params: 'parameters: {tol: 0.01}\n', ref: (x) => ref.karcher([x.a, x.b], 10, 0.01) },
      { what: 'nothing valid', models: { ...models, a: zero(models.a), b: zero(models.a) }, params: '', ref: (x) => ref.karcher([x.a, x.b]) },
    ];
    for (const k of cases) {
      const plan = await planOf(`merge_method: karcher\nout_dtype: float32\nmodels:\n  - model: a\n  - model: b\n${k.params}`, k.models);
      const s = plan.steps[0] as MethodStep;
      const p = compare(`karcher (branches) → F32`, 'F32', await run(s, 100), k.ref(inputsOf(k.models, s.name)));
      expect(p.maxUlp, k.what).toBeLessThanOrEqual(1);
      expect(p.identical / p.total, k.what).toBeGreaterThanOrEqual(0.999);
    }
  });

  test('every registered method but linear and task_arithmetic (the soup kernel) has a case here', () => {
    const covered = new Set(CASES.map((c) => c.method.split(' ')[0]));
    for (const m of MERGE_METHODS) {
      if (['linear', 'task_arithmetic', 'dare_ties', 'della', 'della_linear'].includes(m.name)) continue; // random ones: below
      expect(covered, m.name).toContain(m.name);
    }
  });
});

describe('DARE and DELLA: seeded, reproducible, and what mergekit draws', () => {
  const shapes = { 'model.layers.0.mlp.up_proj.weight': [200, 150] };
  /** One fine-tune, weight 1, no normalise: out − base is the dropped and rescaled delta. */
  const recipe = (method: string, extra: string, seed: number) =>
    `merge_method: ${method}\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 0.3${extra}}\nparameters: {normalize: false, random_seed: ${seed}}\nout_dtype: float32\n`;

  async function deltaOut(method: string, extra: string, seed: number, chunk = 1000) {
    const models = family('F32', 5, shapes);
    const plan = await planOf(recipe(method, extra, seed), models);
    const step = plan.steps[0] as MethodStep;
    const out = new Float32Array((await run(step, chunk)).slice().buffer);
    const x = inputsOf(models, step.name);
    return { out, base: x.base, a: x.a };
  }

  for (const method of ['dare_linear', 'dare_ties', 'della_linear', 'della']) {
    const extra = method.startsWith('della') ? ', epsilon: 0.2' : '';
    test(`${method}: the same seed gives the same bits whatever the chunking; another seed another mask`, async () => {
      const one = await deltaOut(method, extra, 7, 600);
      const two = await deltaOut(method, extra, 7, 4096);
      const other = await deltaOut(method, extra, 8);
      expect(new Uint32Array(one.out.buffer)).toEqual(new Uint32Array(two.out.buffer));
      expect(new Uint32Array(one.out.buffer)).not.toEqual(new Uint32Array(other.out.buffer));
    });

    test(`${method}: kept fraction within a binomial bound of mergekit's keep probabilities, L1 norm of the delta preserved`, async () => {
      const { out, base, a } = await deltaOut(method, extra, 1234);
      // mergekit: DARE keeps with probability density; DELLA with (d − ε) + 2ε·(rank − 1)/(row − 1), ranks of |δ| in the row
      const prob = new Float64Array(out.length).fill(0.3);
      if (method.startsWith('della')) {
        const row = 150;
        for (let r = 0; r < out.length / row; r++) {
          const idx = Array.from({ length: row }, (_, i) => r * row + i).sort((x, y) => Math.abs(Math.fround(a[x] - base[x])) - Math.abs(Math.fround(a[y] - base[y])) || x - y);
          idx.forEach((e, rank) => (prob[e] = 0.3 - 0.2 + (rank / (row - 1)) * 2 * 0.2));
        }
      }
      let expected = 0;
      let variance = 0;
      let changed = 0;
      let kept = 0;
      let l1Before = 0;
      let l1After = 0;
      for (let i = 0; i < out.length; i++) {
        const d = Math.fround(a[i] - base[i]);
        if (d === 0 || !Number.isFinite(d)) continue;
        changed++;
        expected += prob[i];
        variance += prob[i] * (1 - prob[i]);
        l1Before += Math.abs(d);
        const e = Math.fround(out[i] - base[i]);
        if (out[i] !== base[i]) kept++;
        l1After += Math.abs(e);
      }
      expect(changed).toBeGreaterThan(20000);
      expect(Math.abs(kept - expected)).toBeLessThan(5 * Math.sqrt(variance));
      // rescale (their default) multiplies the kept by Σ|δ| / Σ|kept δ|: the L1 norm is the whole delta's
      expect(l1After / l1Before).toBeGreaterThan(0.99);
      expect(l1After / l1Before).toBeLessThan(1.01);
    });
  }

  test('della keeps large-magnitude deltas more often: p = (d − ε) + 2ε·rank/(n − 1) within each row', async () => {
    const { out, base, a } = await deltaOut('della_linear', ', epsilon: 0.25', 99);
    const row = 150;
    const byQuartile = [0, 0, 0, 0];
    const counts = [0, 0, 0, 0];
    for (let r = 0; r < 200; r++) {
      const idx = Array.from({ length: row }, (_, i) => r * row + i).sort((x, y) => Math.abs(a[x] - base[x]) - Math.abs(a[y] - base[y]) || x - y);
      idx.forEach((e, rank) => {
        const q = Math.min(3, Math.floor((rank / row) * 4));
        counts[q]++;
        if (out[e] !== base[e]) byQuartile[q]++;
      });
    }
    const frac = byQuartile.map((k, q) => k / counts[q]);
    // expected means per quartile: 0.05 + 0.5·(q + 0.5)/4 → 0.1125, 0.2375, 0.3625, 0.4875 (zero deltas count as dropped)
    expect(frac[0]).toBeLessThan(frac[1]);
    expect(frac[1]).toBeLessThan(frac[2]);
    expect(frac[2]).toBeLessThan(frac[3]);
    expect(frac[3]).toBeGreaterThan(0.4);
    expect(frac[0]).toBeLessThan(0.2);
  });

  test('the rescale is off when asked: kept elements keep their delta exactly', async () => {
    const { out, base, a } = await deltaOut('dare_linear', '', 3).then(async () => {
      const models = family('F32', 5, shapes);
      const plan = await planOf(recipe('dare_linear', '', 3).replace('random_seed: 3', 'random_seed: 3, rescale: false'), models);
      const step = plan.steps[0] as MethodStep;
      const x = inputsOf(models, step.name);
      return { out: new Float32Array((await run(step, 1000)).slice().buffer), base: x.base, a: x.a };
    });
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== base[i]) expect(out[i]).toBe(Math.fround(base[i] + Math.fround(a[i] - base[i])));
    }
  });
});

describe('parity figures', () => {
  test('printed for the README (max ulp, % identical per method)', () => {
    const lines = [...parityTable].map(([m, p]) => `${m}: max ${p.maxUlp} ulp, ${((100 * p.identical) / p.total).toFixed(3)} % identical of ${p.total}`);
    console.log(lines.join('\n'));
    expect(lines.length).toBeGreaterThan(0);
  });
});
