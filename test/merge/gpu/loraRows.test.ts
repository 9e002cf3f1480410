/**
 * shaders/merge/loraRows.wgsl (driven by src/merge/gpu/loraRowsGpu.ts) on Dawn/SwiftShader against its CPU
 * twin, src/formats/lora/loraRows.ts (itself held to PEFT's formulas in test/formats/lora.test.ts): the
 * twin computes in f64 and rounds once; the kernel's float-float arithmetic must give the same f32 or
 * one 1 ulp away, for plain LoRA, rsLoRA (a scale that is not an f32), fan_in_fan_out and DoRA (row
 * norms, and column norms with fan_in_fan_out). Then a WebGPU merge of `base+adapter` recipes through
 * runRecipe, whose adapted rows come from the kernel, against the same recipe on the CPU backend.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openCheckpoint, type Checkpoint } from '../../../src/formats/checkpoint';
import { bytesSource } from '../../../src/formats/memorySource';
import { MemoryTarget } from '../../../src/formats/memoryTarget';
import { applyLoraAdapter } from '../../../src/formats/lora/adaptedCheckpoint';
import { openLoraAdapter } from '../../../src/formats/lora/adapter';
import { doraColumnNorms, mergeLoraRows, type LoraFactors, type LoraRowsComputer } from '../../../src/formats/lora/loraRows';
import type { ByteSource } from '../../../src/formats/types';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createGpuLoraRows } from '../../../src/merge/gpu/loraRowsGpu';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import type { SoupBackend } from '../../../src/merge/kernel';
import { runRecipe } from '../../../src/merge/runRecipe';
import { createNodeCpuBackend } from '../../../src/node/cpuWorkers';
import { nodeGPU } from '../../../src/node/webgpu';
import { seededUniform } from '../../../src/util/random';
import { randomTensor, readSafetensors, safetensorsBytes, type TestTensor } from '../models';

let backend: WebGPUSoupBackend;
beforeAll(async () => {
  backend = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
});
afterAll(async () => {
  await backend?.dispose();
});

/** The largest distance in f32 steps between two arrays (the sign-magnitude bits as a line of integers). */
function ulpDistance(a: Float32Array, b: Float32Array): { worst: number; identical: number } {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  const line = (x: number) => (x < 0 ? -(x & 0x7fffffff) : x);
  let worst = 0;
  let identical = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(line(ia[i]) - line(ib[i]));
    worst = Math.max(worst, d);
    if (d === 0) identical++;
  }
  return { worst, identical: identical / a.length };
}

/** f32 values from a seeded uniform, spread over a few binades (so products and sums do not line up). */
function f32Values(n: number, seed: number, scale: number): Float64Array {
  const u = seededUniform(seed);
  return Float64Array.from({ length: n }, () => Math.fround((u() * 2 - 1) * scale * 2 ** Math.floor(u() * 4 - 2)));
}

interface Case {
  name: string;
  r: number;
  scale: number;
  fanInFanOut?: boolean;
  dora?: boolean;
}

const OUT = 72;
const IN = 56;
const CASES: Case[] = [
  { name: 'plain LoRA, s = α/r', r: 16, scale: 32 / 16 },
  { name: 'rsLoRA, s = α/√r (not an f32)', r: 8, scale: 16 / Math.sqrt(8) },
  { name: 'rank 64', r: 64, scale: 0.5 },
  { name: 'fan_in_fan_out', r: 4, scale: 7 / Math.sqrt(4), fanInFanOut: true },
  { name: 'DoRA (row norms)', r: 16, scale: 16 / Math.sqrt(16), dora: true },
  { name: 'DoRA with fan_in_fan_out (column norms)', r: 6, scale: 12 / 6, dora: true, fanInFanOut: true },
];

function factorsOf(c: Case, seed: number): { f: LoraFactors; w: Float32Array } {
  const f: LoraFactors = {
    a: f32Values(c.r * IN, seed, 0.3),
    b: f32Values(OUT * c.r, seed + 1, 0.3),
    r: c.r,
    outFeatures: OUT,
    inFeatures: IN,
    scale: c.scale,
    fanInFanOut: c.fanInFanOut ?? false,
    magnitude: c.dora ? f32Values(OUT, seed + 2, 2).map(Math.abs) : undefined,
  };
  return { f, w: Float32Array.from(f32Values(OUT * IN, seed + 3, 1)) };
}

describe('shaders/merge/loraRows.wgsl against its CPU twin (src/formats/lora/loraRows.ts): ≤ 1 ulp', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { f, w } = factorsOf(c, 100 + c.r);
      const rowsTotal = c.fanInFanOut ? IN : OUT;
      const cols = c.fanInFanOut ? OUT : IN;
      const readRows = async (row0: number, rows: number) => w.subarray(row0 * cols, (row0 + rows) * cols);
      const cpuNorms = f.magnitude && f.fanInFanOut ? await doraColumnNorms(f, readRows, 10) : undefined;
      // Whole blocks, and blocks of 5 rows (a binding too small for the tensor: several dispatches).
      for (const gpu of [backend.loraRows, createGpuLoraRows(backend.shared.ctx, backend.shared.pool, backend.shared.pipelines, { maxBlockBytes: 5 * cols * 8 })]) {
        const gpuNorms = f.magnitude && f.fanInFanOut ? await gpu.columnNorms(f, readRows, 7) : undefined;
        if (cpuNorms && gpuNorms) for (let i = 0; i < cols; i++) expect(Math.abs(gpuNorms[i] - cpuNorms[i]) / cpuNorms[i]).toBeLessThan(2 ** -40);
        for (const [row0, rows] of [
          [0, rowsTotal],
          [5, 17],
        ]) {
          const expected = mergeLoraRows(f, w.subarray(row0 * cols, (row0 + rows) * cols), row0, rows, cpuNorms);
          const got = await gpu.mergeRows(f, w.subarray(row0 * cols, (row0 + rows) * cols), row0, rows, gpuNorms);
          const d = ulpDistance(got, expected);
          expect(d.worst, `${c.name}, rows ${row0}…${row0 + rows}`).toBeLessThanOrEqual(1);
          expect(d.identical).toBeGreaterThan(0.99);
        }
      }
    });
  }

  test('∞ and NaN in the base stay ∞ and NaN, as in the twin', async () => {
    for (const c of [CASES[1], CASES[4]]) {
      const { f, w } = factorsOf(c, 9);
      w.set([Infinity, -Infinity, NaN], 3 * IN + 5);
      const got = await backend.loraRows.mergeRows(f, w, 0, OUT);
      const expected = mergeLoraRows(f, w, 0, OUT);
      for (let i = 0; i < got.length; i++) {
        if (Number.isNaN(expected[i])) expect(got[i], `${c.name}: element ${i}`).toBeNaN();
        else if (!Number.isFinite(expected[i])) expect(got[i], `${c.name}: element ${i}`).toBe(expected[i]);
      }
      expect(expected.filter((x) => !Number.isFinite(x)).length).toBeGreaterThan(0);
    }
  });

  test('factors that are not f32 values (an F64 adapter) are computed by the twin, bit for bit', async () => {
    const { f, w } = factorsOf(CASES[0], 7);
    f.a[3] = 0.1; // not an f32
    expect(await backend.loraRows.mergeRows(f, w, 0, OUT)).toEqual(mergeLoraRows(f, w, 0, OUT));
  });
});

// ---- A WebGPU merge of base+adapter recipes against the CPU backend.

const Q = 'model.layers.0.self_attn.q_proj';
const UP = 'model.layers.0.mlp.up_proj';
const H = 40;
const FF = 96;

function baseModel(fifo: boolean): TestTensor[] {
  const shape = (out: number, inF: number) => (fifo ? [inF, out] : [out, inF]);
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [64, H], 1),
    randomTensor(`${Q}.weight`, 'BF16', shape(H, H), 2),
    randomTensor(`${UP}.weight`, 'F32', shape(FF, H), 3),
    randomTensor('model.norm.weight', 'BF16', [H], 4),
    randomTensor('lm_head.weight', 'BF16', [64, H], 5),
  ];
}

function adapterFiles(c: { r: number; alpha: number; rslora?: boolean; dora?: boolean; fifo?: boolean }): Map<string, ByteSource> {
  const tensors: TestTensor[] = [];
  [
    [Q, H],
    [UP, FF],
  ].forEach(([m, out], i) => {
    tensors.push(randomTensor(`base_model.model.${m}.lora_A.weight`, i === 0 ? 'F32' : 'BF16', [c.r, H], 10 + i, { scale: 0.3 }));
    tensors.push(randomTensor(`base_model.model.${m}.lora_B.weight`, 'F32', [out as number, c.r], 20 + i, { scale: 0.3 }));
    if (c.dora) tensors.push(randomTensor(`base_model.model.${m}.lora_magnitude_vector`, 'F32', [out as number], 30 + i, { scale: 2 }));
  });
  const config = { peft_type: 'LORA', r: c.r, lora_alpha: c.alpha, use_rslora: c.rslora ?? false, use_dora: c.dora ?? false, fan_in_fan_out: c.fifo ?? false, target_modules: ['q_proj', 'up_proj'] };
  return new Map<string, ByteSource>([
    ['adapter_config.json', bytesSource(new TextEncoder().encode(JSON.stringify(config)), 'adapter_config.json')],
    ['adapter_model.safetensors', bytesSource(safetensorsBytes(tensors), 'adapter_model.safetensors')],
  ]);
}

async function mergeOn(makeBackend: () => Promise<SoupBackend>, recipe: string, models: Record<string, () => Promise<Checkpoint>>): Promise<Map<string, TestTensor>> {
  const target = new MemoryTarget();
  await runRecipe({ text: recipe, fileName: 'soup.yaml', openModel: (ref) => models[ref.path](), backend: makeBackend, target, folder: false, drawSeed: () => 1 });
  return readSafetensors(target.committed.get('model.safetensors')!).tensors;
}

describe('a WebGPU merge of base+adapter recipes against the CPU backend', () => {
  const variants = [
    { name: 'LoRA', r: 4, alpha: 8 },
    { name: 'rsLoRA', r: 4, alpha: 10, rslora: true },
    { name: 'DoRA', r: 4, alpha: 8, dora: true },
    { name: 'DoRA, fan_in_fan_out', r: 3, alpha: 6, dora: true, fifo: true },
  ];
  for (const v of variants) {
    test(`${v.name}: the adapted rows come from the kernel, and the soup matches the CPU's within 1 ulp`, async () => {
      const baseBytes = safetensorsBytes(baseModel(v.fifo ?? false));
      const otherBytes = safetensorsBytes(baseModel(v.fifo ?? false).map((t, i) => randomTensor(t.name, t.dtype as 'F32' | 'BF16', t.shape, 50 + i)));
      const open = (bytes: Uint8Array, name: string) => openCheckpoint(bytesSource(bytes, 'model.safetensors'), name);
      const models: Record<string, () => Promise<Checkpoint>> = {
        'base+adapter': async () => applyLoraAdapter(await open(baseBytes, 'base'), await openLoraAdapter(adapterFiles(v), 'adapter')),
        other: () => open(otherBytes, 'other'),
        base: () => open(baseBytes, 'base'),
      };
      // One adapted model at weight 1 into F32 (the soup adds nothing: the output is the adapted rows), then a soup of it.
      const recipes = [
        'merge_method: linear\nmodels:\n  - model: base+adapter\n    parameters: {weight: 1}\nout_dtype: float32\n',
        'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: base+adapter\n    parameters: {weight: 0.7}\n  - model: other\n    parameters: {weight: 0.4}\nout_dtype: float32\n',
      ];
      for (const recipe of recipes) {
        let rowCalls = 0;
        const counting: LoraRowsComputer = {
          name: backend.loraRows.name,
          mergeRows: (...args) => (rowCalls++, backend.loraRows.mergeRows(...args)),
          columnNorms: (...args) => backend.loraRows.columnNorms(...args),
        };
        // The test's backend stays open (the merge disposes of the one it is given).
        const gpu = async (): Promise<SoupBackend> => ({ ...backend, loraRows: counting, dispose: async () => undefined });
        const onGpu = await mergeOn(gpu, recipe, models);
        expect(rowCalls, 'adapted rows computed on the GPU').toBeGreaterThan(0);
        const onCpu = await mergeOn(async () => createNodeCpuBackend({ workers: 1 }), recipe, models);
        for (const [name, t] of onCpu) {
          const g = onGpu.get(name)!;
          const d = ulpDistance(new Float32Array(g.data.slice().buffer), new Float32Array(t.data.slice().buffer));
          expect(d.worst, `${v.name}: ${name}`).toBeLessThanOrEqual(1);
        }
      }
    });
  }
});
