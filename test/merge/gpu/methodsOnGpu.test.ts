/**
 * The merge methods on the GPU — statistics in shaders/merge/stats.wgsl (magnitude and variance selections,
 * blocked sums: the SLERP family's norms, multislerp's chain, the rescale's Σ|δ|), element passes in
 * shaders/merge/taskArithmetic.wgsl, methodElements.wgsl and soup.wgsl — run by runTensorProgramOnGpu against
 * the CPU program of the method registry (src/merge/methods), which is itself tested against a reference
 * written from mergekit's code: same inputs, same recipe values. The counters say what ran where, so a
 * pass that silently fell back to the CPU fails the cases that ask for the GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { runTensorProgramOnGpu, type GpuProgramOptions } from '../../../src/merge/gpu/runProgramGpu';
import { runTensorProgram, type ProgramTensor } from '../../../src/merge/program/runProgram';
import type { CheckpointTensor } from '../../../src/formats/checkpoint';
import { bytesSource } from '../../../src/formats/memorySource';
import { createGpuTensorStats, type GpuTensorStats } from '../../../src/merge/gpu/tensorStatsGpu';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import { f32BitsToBf16, f32ToBits } from '../../../src/formats/floatCodecs';
import type { KernelDtype } from '../../../src/merge/kernel';
import { tensorKeyOf } from '../../../src/merge/program/counterRandom';
import { getMethod } from '../../../src/merge/methods/registry';
import { decodeToF32 } from '../../../src/formats/floatArrays';
import type { ParameterValues, TensorContext } from '../../../src/merge/methods/types';
import { nodeGPU } from '../../../src/node/webgpu';
import { compareOutputs } from './soupCompare';
import { randomInputs, withoutSubnormals, quantizedInputs } from '../methods/statsTestData';
import { methodGpuCoverage } from '../../../src/merge/program/gpuCoverage';
import { valueToBf16Bits } from '../kernelTestData';

let backend: WebGPUSoupBackend;
let stats: GpuTensorStats;

beforeAll(async () => {
  backend = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
  const { ctx, pool, pipelines } = backend.shared;
  stats = createGpuTensorStats(ctx, pool, pipelines, { chunkElements: 8192 });
});
afterAll(async () => {
  await backend?.dispose();
});

const CHUNK = 4096; // the CPU program and the GPU kernel both see the tensor in chunks of this many

/** The registry's CPU program for one tensor: passes over chunks, then combine, rounded to BF16. */
function cpuMerge(ctx: TensorContext, dtypes: KernelDtype[], inputs: Uint8Array[]): { out: Uint16Array; scalars: Float32Array } {
  const program = getMethod(ctx.name.split('/')[0]).program(ctx);
  const scratch = program.scratch ? new Float32Array(ctx.numel) : undefined;
  const chunkAt = (offset: number) => {
    const count = Math.min(CHUNK, ctx.numel - offset);
    const size = (d: KernelDtype) => (d === 'F32' ? 4 : 2);
    return { offset, count, x: inputs.map((b, i) => decodeToF32(dtypes[i], b.subarray(offset * size(dtypes[i]), (offset + count) * size(dtypes[i])))), scratch: scratch?.subarray(offset, offset + count) };
  };
  for (const pass of program.passes) {
    if (pass.skip?.()) continue;
    for (let o = 0; o < ctx.numel; o += CHUNK) pass.accumulate(chunkAt(o));
    pass.finish();
  }
  const out = new Uint16Array(ctx.numel);
  const f = new Float32Array(CHUNK);
  for (let o = 0; o < ctx.numel; o += CHUNK) {
    const c = chunkAt(o);
    program.combine(c, f);
    for (let i = 0; i < c.count; i++) out[o + i] = Number.isNaN(f[i]) ? 0x7fc0 : f32BitsToBf16(f32ToBits(f[i]));
  }
  return { out, scalars: program.describe().scalars };
}

interface Case {
  method: string;
  models: ParameterValues[];
  params: ParameterValues;
  /** Some statistics pass runs on the GPU (magnitude selections, blocked sums). */
  gpuStatistics?: boolean;
  /** Every statistics pass runs on the GPU, in the CPU's arithmetic order: the element kernel's scalars are the CPU's to the bit. */
  sameScalars?: boolean;
  /** The element kernel does the CPU's f32 steps in the CPU's order: every element identical but where a GPU flushes a subnormal. */
  bitIdentical?: boolean;
  /** The method merges the models without a base (its inputs are the models alone). */
  noBase?: boolean;
  /** Whole-tensor norms: NaN, Inf or squares beyond f32 anywhere make the tensor's coefficients NaN (the CPU then merges it); test on finite data. */
  finite?: boolean;
  /**
   * The element chain divides by the norms and multiplies back (multislerp): an element below ‖v‖·2⁻¹²⁶
   * passes through subnormal f32 values, which a GPU may flush (README), and comes back above 2⁻¹²⁶ on the
   * CPU; test on data without magnitudes below 2⁻¹⁰⁰ (±0 stays).
   */
  noTiny?: boolean;
}

/** BF16 data with magnitudes below 2⁻¹⁰⁰ replaced by ±0. */
function withoutTiny(bytes: Uint8Array): Uint8Array {
  const h = new Uint16Array(bytes.slice().buffer);
  for (let i = 0; i < h.length; i++) if (((h[i] >> 7) & 0xff) < 127 - 100) h[i] &= 0x8000;
  return new Uint8Array(h.buffer);
}

/** BF16 data with NaN, ±Inf and magnitudes ≥ 2⁶³ (whose squares overflow the f32 sums of the norms) replaced by ±0. */
function finiteBf16(bytes: Uint8Array): Uint8Array {
  const h = new Uint16Array(bytes.slice().buffer);
  for (let i = 0; i < h.length; i++) if ((h[i] & 0x7f80) >= 0x5f00) h[i] &= 0x8000;
  return new Uint8Array(h.buffer);
}

/** The same tensor through runTensorProgramOnGpu: GPU statistics and element kernel where the program allows. */
async function gpuMerge(ctx: TensorContext, dtypes: KernelDtype[], inputs: Uint8Array[], counters: NonNullable<GpuProgramOptions['counters']>, on: WebGPUSoupBackend = backend, withStats: GpuTensorStats = stats): Promise<{ out: Uint16Array; scalars: Float32Array }> {
  const program = getMethod(ctx.name.split('/')[0]).program(ctx);
  const tensors: CheckpointTensor[] = inputs.map((bytes, i) => ({
    info: { name: ctx.name, dtype: dtypes[i], shape: ctx.shape, byteOffset: 0, byteLength: bytes.byteLength },
    source: bytesSource(bytes, `model-${i}`),
    file: `model-${i}.safetensors`,
  }));
  const parts: Uint8Array[] = [];
  for await (const part of runTensorProgramOnGpu({ name: ctx.name, numel: ctx.numel, outDtype: 'BF16', inputs: tensors, program }, { backend: on, stats: withStats, maxChunkElements: CHUNK, counters })) parts.push(part);
  const out = new Uint8Array(ctx.numel * 2);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { out: new Uint16Array(out.buffer), scalars: program.describe().scalars };
}

function contextFor(c: Case, numel: number, inputCount: number): TensorContext {
  const name = `${c.method}/model.layers.0.mlp.up_proj.weight`;
  const params: ParameterValues = { ...c.params };
  return {
    name,
    shape: [numel / 8, 8],
    numel,
    inputCount,
    baseIndex: c.noBase ? undefined : 0,
    params,
    modelParams: c.noBase ? c.models : [{}, ...c.models],
    seed: 1234,
    tensorKey: tensorKeyOf(name),
    outDtype: 'BF16',
  };
}

const CASES: Case[] = [
  { method: 'task_arithmetic', models: [{ weight: 0.7 }, { weight: 0.4 }, { weight: -0.2 }], params: {}, bitIdentical: true },
  { method: 'ties', models: [{ weight: 1, density: 0.3 }, { weight: 0.6, density: 0.5 }, { weight: 0.3, density: 0.9 }], params: {}, gpuStatistics: true, bitIdentical: true },
  { method: 'ties', models: [{ weight: 0.5, density: 0.2 }, { weight: 0.5, density: 0.2 }], params: { normalize: false, lambda: 1.5 }, gpuStatistics: true, bitIdentical: true },
  // DARE rescales by default: Σ|δ| and Σ|kept δ| on the GPU (the element kernel's random masks), the CPU's scales to the bit.
  { method: 'dare_ties', models: [{ weight: 1, density: 0.4 }, { weight: 0.5, density: 0.7 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'dare_linear', models: [{ weight: 0.6, density: 0.5 }, { weight: 0.4, density: 0.3 }], params: { rescale: false }, bitIdentical: true },
  { method: 'dare_linear', models: [{ weight: 0.6, density: 0.5 }, { weight: 0.4, density: 1 }, { weight: 0.3, density: 0.2 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'ties', models: [{ weight: 1, density: 0.3 }, { weight: 0.6, density: 0.5 }], params: { rescale: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'breadcrumbs_ties', models: [{ weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.8, density: 0.5, gamma: 0.02 }], params: { rescale: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'breadcrumbs_ties', models: [{ weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.8, density: 0.5, gamma: 0.02 }], params: {}, gpuStatistics: true, bitIdentical: true },
  { method: 'breadcrumbs', models: [{ weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.8, density: 0.7 }], params: {}, gpuStatistics: true, bitIdentical: true },
  // DELLA: each row's ranks and draws (shaders/merge/dellaRanks.wgsl), the rescale sums over its masks, the element pass (dellaRanks.test.ts: longer rows).
  { method: 'della', models: [{ weight: 1, density: 0.5, epsilon: 0.1 }, { weight: 0.5, density: 0.4 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'della_linear', models: [{ weight: 0.6, density: 0.5, epsilon: 0.2 }, { weight: 0.4, density: 0.3 }, { weight: 0.3, density: 0.7 }], params: { normalize: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'slerp', models: [{}], params: { t: 0.3 }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'slerp', models: [{}], params: { t: 0.75 }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'model_stock', models: [{}, {}], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'model_stock', models: [{}, {}, {}], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'nearswap', models: [{}], params: { t: 0.01 }, bitIdentical: true },
  { method: 'nearswap', models: [{}], params: { t: 0.5 }, bitIdentical: true },
  { method: 'ram', models: [{}, {}, {}], params: {}, bitIdentical: true },
  { method: 'ram', models: [{}, {}], params: { epsilon: 0.05 }, bitIdentical: true },
  // The counting pass on the CPU inside the WebGPU run, λ in the element kernel.
  { method: 'ramplus_tl', models: [{}, {}, {}], params: {}, bitIdentical: true },
  { method: 'ramplus_tl', models: [{}, {}], params: { epsilon: 0.05, r: 0.5, alpha: 4 }, bitIdentical: true },
  // The KL and quartile passes on the CPU, each row's KL as the element kernel's line coefficient (rows of 8).
  { method: 'arcee_fusion', models: [{}], params: {}, bitIdentical: true },
  { method: 'arcee_fusion', models: [{}], params: {}, bitIdentical: true, finite: true },
  { method: 'sce', models: [{}, {}, {}], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'nuslerp', models: [{ weight: 0.4 }, { weight: 0.6 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'nuslerp', models: [{ weight: 1 }, { weight: 3 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noBase: true },
  // Per row (rows of 8) and per column (8 columns of 3073): the sums per line on the GPU, coefficients per line in the element kernel.
  { method: 'nuslerp', models: [{ weight: 0.4 }, { weight: 0.6 }], params: { nuslerp_flatten: false }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'nuslerp', models: [{ weight: 1 }, { weight: 3 }], params: { nuslerp_flatten: false, nuslerp_row_wise: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noBase: true },
  { method: 'nuslerp', models: [{ weight: 0.7 }, { weight: 0.2 }], params: { nuslerp_flatten: false, nuslerp_row_wise: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true },
  { method: 'model_stock', models: [{}, {}, {}], params: { filter_wise: true }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  // The mean squares over the variance selection's kept elements on the GPU too: ω to the bit.
  { method: 'sce', models: [{}, {}], params: { select_topk: 0.5 }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'sce', models: [{}, {}, {}], params: { select_topk: 0.1 }, gpuStatistics: true, sameScalars: true, bitIdentical: true },
  { method: 'linear', models: [{ weight: 0.3 }, { weight: 0.5 }], params: {} },
  { method: 'karcher', models: [{}, {}], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noBase: true },
  { method: 'karcher', models: [{}, {}, {}], params: { max_iter: 4, tol: 1e-7 }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noBase: true },
  { method: 'multislerp', models: [{ weight: 0.5 }, { weight: 0.3 }, { weight: 0.2 }], params: {}, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noTiny: true },
  { method: 'multislerp', models: [{ weight: 1 }, { weight: 2.5 }], params: { normalize_weights: false }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noTiny: true, noBase: true },
  { method: 'multislerp', models: [{ weight: 0.7 }, { weight: 0.4 }, { weight: 0.9 }, { weight: 0.2 }], params: { normalize_weights: false, eps: 1e-6 }, gpuStatistics: true, sameScalars: true, bitIdentical: true, finite: true, noTiny: true },
];

describe('merge methods with --backend webgpu (Dawn): runTensorProgramOnGpu vs the CPU method programs', () => {
  for (const c of CASES) {
    for (const data of ['random', 'ties'] as const) {
      it(`${c.method} ${JSON.stringify(c.params)}${c.noBase ? ' without a base' : ''} on ${data === 'random' ? `BF16 deltas with ${c.finite ? '' : 'NaN/±Inf/'}±0${c.noTiny ? ' (none below 2⁻¹⁰⁰)' : ''}` : 'quantized values (ties at every threshold)'}, chunked`, async () => {
        const numel = 24_584; // 6 chunks and an odd tail
        const dtypes: KernelDtype[] = Array(c.models.length + (c.noBase ? 0 : 1)).fill('BF16');
        const inputs = data === 'random'
          ? randomInputs(dtypes, numel, 40 + c.models.length, { specials: 0.01 }).map((b) => withoutSubnormals('BF16', c.finite ? finiteBf16(b) : b)).map((b) => (c.noTiny ? withoutTiny(b) : b))
          : quantizedInputs(dtypes, numel, 41);
        const ctx = contextFor(c, numel, dtypes.length);
        const cpu = cpuMerge(ctx, dtypes, inputs);
        const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
        const { out: gpu, scalars } = await gpuMerge(ctx, dtypes, inputs, counters);
        expect(counters.cpuElementChunks, 'element pass on the GPU').toBe(0);
        expect(counters.gpuElementChunks, 'element pass in several chunks').toBeGreaterThan(1);
        if (c.gpuStatistics) expect(counters.gpuPasses, 'statistics on the GPU').toBeGreaterThan(0);
        if (c.sameScalars) {
          expect(counters.cpuPasses, 'every statistics pass on the GPU').toBe(0);
          expect(Array.from(scalars), 'statistics to the bit').toEqual(Array.from(cpu.scalars));
          if (c.finite) expect(Array.from(scalars).every(Number.isFinite), 'finite statistics').toBe(true);
        }
        const r = compareOutputs('BF16', new Uint8Array(gpu.buffer), new Uint8Array(cpu.out.buffer));
        expect(r.withinOneUlp + r.flushedSubnormals, `beyond 1 ulp: ${JSON.stringify(r.worst)}`).toBe(r.elements);
        expect(r.identical / r.elements).toBeGreaterThanOrEqual(0.999);
        if (c.bitIdentical) expect(r.identical + r.flushedSubnormals, `not identical: ${JSON.stringify(r.worst)}`).toBe(r.elements);
      }, 240_000); // SwiftShader: slow shader compiles and atomics on a busy machine
    }
  }
});

describe("karcher's tensor-sized f32 iterate on the GPU (its kernels and sums), to the bit into F32", () => {
  /** Three F32 fine-tunes of one random tensor (normal values only): base + noise of different sizes. */
  function fineTunes(numel: number, flip = false): Uint8Array[] {
    let s = 12345;
    const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
    const base = Float32Array.from({ length: numel }, () => r() * 0.05);
    return [0.002, 0.01, 0.03].map((noise, k) => {
      const x = Float32Array.from(base, (v) => (flip && k === 1 ? -1 : 1) * (v + r() * noise));
      return withoutSubnormals('F32', new Uint8Array(x.buffer));
    });
  }

  async function both(inputs: Uint8Array[], params: ParameterValues, numel: number) {
    const c: Case = { method: 'karcher', models: inputs.map(() => ({})), params, noBase: true };
    const ctx = { ...contextFor(c, numel, inputs.length), outDtype: 'F32' as const };
    const tensorOf = (): ProgramTensor => ({
      name: ctx.name,
      numel,
      outDtype: 'F32',
      program: getMethod('karcher').program(ctx),
      inputs: inputs.map((bytes, i) => ({ info: { name: ctx.name, dtype: 'F32', shape: ctx.shape, byteOffset: 0, byteLength: bytes.byteLength }, source: bytesSource(bytes, `model-${i}`), file: `model-${i}.safetensors` })),
    });
    const collect = async (parts: AsyncIterable<Uint8Array>) => {
      const chunks: Uint8Array[] = [];
      for await (const p of parts) chunks.push(p.slice());
      return new Uint32Array(Uint8Array.from(chunks.flatMap((p) => Array.from(p))).buffer);
    };
    const cpuTensor = tensorOf();
    const cpu = await collect(runTensorProgram(cpuTensor, { maxChunkElements: CHUNK }));
    const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
    const gpuTensor = tensorOf();
    const gpu = await collect(runTensorProgramOnGpu(gpuTensor, { backend, stats, maxChunkElements: CHUNK, counters }));
    return { cpu, gpu, counters, scalars: [Array.from(cpuTensor.program.describe().scalars), Array.from(gpuTensor.program.describe().scalars)] };
  }

  it('three models, iterating to tol 1e-7 (statistics over several chunks, an odd tail)', async () => {
    const numel = 8 * 2500 + 3;
    const { cpu, gpu, counters, scalars } = await both(fineTunes(numel), { tol: 1e-7 }, numel);
    expect(counters.cpuPasses, 'every statistics pass on the GPU').toBe(0);
    expect(counters.gpuPasses, 'norms, initial direction and at least two iterations').toBeGreaterThanOrEqual(2 + 2 * 3);
    expect(counters.cpuElementChunks).toBe(0);
    expect(scalars[1]).toEqual(scalars[0]);
    expect(Array.from(gpu)).toEqual(Array.from(cpu));
  }, 240_000);

  it('opposite models: the initial mean is 0 and the first unit replaces it (that pass on the CPU, inside the GPU run)', async () => {
    const numel = 8 * 700 + 5;
    const inputs = fineTunes(numel);
    const flipped = [inputs[0], new Uint8Array(Float32Array.from(new Float32Array(inputs[0].slice().buffer), (v) => -v).buffer)];
    const { cpu, gpu, counters } = await both(flipped, {}, numel);
    expect(counters.cpuPasses, 'the first-unit pass').toBe(1);
    expect(Array.from(gpu)).toEqual(Array.from(cpu));
  }, 240_000);
});

describe('per-row statistics on the GPU: rows longer than one chunk', () => {
  /** Pieces of 2560 elements (16 KiB of three BF16 inputs): each element job spans two bindings, with the rows' coefficients sliced per piece. */
  let pieces: WebGPUSoupBackend;
  beforeAll(async () => {
    pieces = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()), { maxPieceBytes: 16 * 1024 });
  });
  afterAll(async () => {
    await pieces?.dispose();
  });
  for (const c of [
    { method: 'nuslerp', models: [{ weight: 0.4 }, { weight: 0.6 }], params: { nuslerp_flatten: false } },
    { method: 'model_stock', models: [{}, {}], params: { filter_wise: true } },
  ] as Case[]) {
    it(`${c.method} ${JSON.stringify(c.params)}: 3 rows of 9001 (the statistics' chunks are 8192 elements, the element pass's 4096, and again in GPU pieces of 2560), to the bit`, async () => {
      const numel = 3 * 9001;
      const dtypes: KernelDtype[] = Array(c.models.length + 1).fill('BF16');
      const inputs = randomInputs(dtypes, numel, 62, { specials: 0.001 }).map((b) => withoutSubnormals('BF16', finiteBf16(b)));
      const ctx = { ...contextFor(c, 8, dtypes.length), shape: [3, 9001], numel };
      const cpu = cpuMerge(ctx, dtypes, inputs);
      const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
      const gpu = await gpuMerge(ctx, dtypes, inputs, counters);
      expect(counters).toMatchObject({ cpuPasses: 0, cpuElementChunks: 0 });
      expect(counters.gpuPasses).toBeGreaterThan(0);
      expect(Array.from(gpu.scalars)).toEqual(Array.from(cpu.scalars));
      expect(Array.from(gpu.scalars).every(Number.isFinite)).toBe(true);
      expect(Array.from(gpu.out)).toEqual(Array.from(cpu.out));
      const split = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
      const before = pieces.stats().piecesRun;
      expect(Array.from((await gpuMerge(ctx, dtypes, inputs, split, pieces)).out), 'in pieces of 2560 elements').toEqual(Array.from(cpu.out));
      expect(pieces.stats().piecesRun - before).toBeGreaterThan(split.gpuElementChunks);
    }, 240_000);
  }
});

describe('nuslerp by column over more columns than 512 rows of which fit a usual statistics chunk', () => {
  /** nuslerp by column on 600 × 40 BF16 elements (40 columns × 512 rows > the 8192-element chunk): the GPU run's counters, and its output equal to the CPU's. */
  async function byColumns(seed: number, withStats: GpuTensorStats): Promise<NonNullable<GpuProgramOptions['counters']>> {
    const c: Case = { method: 'nuslerp', models: [{ weight: 0.4 }, { weight: 0.6 }], params: { nuslerp_flatten: false, nuslerp_row_wise: true } };
    const numel = 600 * 40;
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16'];
    const inputs = randomInputs(dtypes, numel, seed, { specials: 0.001 }).map((b) => withoutSubnormals('BF16', finiteBf16(b)));
    const ctx = { ...contextFor(c, 8, dtypes.length), shape: [600, 40], numel };
    const cpu = cpuMerge(ctx, dtypes, inputs);
    const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
    const gpu = await gpuMerge(ctx, dtypes, inputs, counters, backend, withStats);
    expect(Array.from(gpu.scalars)).toEqual(Array.from(cpu.scalars));
    expect(Array.from(gpu.out)).toEqual(Array.from(cpu.out));
    return counters;
  }

  it('its statistics still run on the GPU (a chunk of 512 whole rows: 40 columns × 512 > 8192), its element pass too, to the bit', async () => {
    expect(await byColumns(63, stats)).toMatchObject({ gpuPasses: 2, cpuPasses: 0, cpuElementChunks: 0 });
  }, 240_000);

  it('where 512 rows do not fit one binding (here limited to 32 KiB), the statistics still run on the GPU, in slabs of 512 rows by fewer columns, to the bit', async () => {
    const { ctx: gpuCtx, pool, pipelines } = backend.shared;
    const small = createGpuTensorStats(gpuCtx, pool, pipelines, { chunkElements: 8192, maxBindingBytes: 32 << 10 });
    expect(await byColumns(64, small)).toMatchObject({ gpuPasses: 2, cpuPasses: 0, cpuElementChunks: 0 });
  }, 240_000);
});

describe('multislerp and the rescale sums on the GPU, beyond the common cases', () => {
  const counters = () => ({ gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 });

  it('the programs say every pass of multislerp, of DARE\'s rescale and of sce with select_topk < 1 runs on the GPU (gpuCoverage)', () => {
    for (const m of ['multislerp', 'dare_ties', 'dare_linear']) {
      const c = methodGpuCoverage(m);
      expect(c.cpuPasses, m).toEqual([]);
      expect(c.gpuPasses.length, m).toBeGreaterThan(0);
      expect(c.elementsOnGpu, m).toBe(true);
    }
    expect(methodGpuCoverage('multislerp').gpuPasses).toEqual(['multislerp norms', 'multislerp mean direction', 'multislerp tangent projections', 'multislerp tangent norm']);
    expect(methodGpuCoverage('dare_ties').gpuPasses).toEqual(['dare_ties rescale norms']);
    // The per-row and per-column forms too (rows and columns of the probe's 4 × 16 tensor).
    for (const [m, params] of [['nuslerp', { nuslerp_flatten: false }], ['nuslerp', { nuslerp_flatten: false, nuslerp_row_wise: true }], ['model_stock', { filter_wise: true }], ['sce', { select_topk: 0.5 }], ['sce', { select_topk: 0.1 }]] as const) {
      const c = methodGpuCoverage(m, params);
      expect(c.cpuPasses, `${m} ${JSON.stringify(params)}`).toEqual([]);
      expect(c.gpuPasses.length).toBeGreaterThan(0);
      expect(c.elementsOnGpu).toBe(true);
    }
  });

  /** BF16 bits of small multiples of 1/16: sums and differences of them stay exact. */
  const sixteenths = (values: number[]): Uint8Array => new Uint8Array(Uint16Array.from(values, (v) => valueToBf16Bits(v / 16)).buffer);

  for (const withBase of [false, true]) {
    it(`2 antipodal models${withBase ? ' (task vectors from a base)' : ''}: the fallback f32(v₀w₀) + f32(v₁w₁), bit for bit, its statistics on the GPU`, async () => {
      const numel = 8 * 2003;
      let seed = 7;
      const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % 101 - 50;
      const base = Array.from({ length: numel }, () => (withBase ? next() : 0));
      const delta = Array.from({ length: numel }, () => next());
      const models = [base.map((b, i) => b + delta[i]), base.map((b, i) => b - delta[i])];
      const inputs = [...(withBase ? [sixteenths(base)] : []), ...models.map(sixteenths)];
      const dtypes: KernelDtype[] = inputs.map(() => 'BF16');
      const c: Case = { method: 'multislerp', models: [{ weight: 2 }, { weight: 2 }], params: {}, noBase: !withBase };
      const ctx = contextFor(c, numel, dtypes.length);
      const cpu = cpuMerge(ctx, dtypes, inputs);
      expect(cpu.scalars[cpu.scalars.length - 1], 'the CPU falls back').toBe(1);
      const n = counters();
      const gpu = await gpuMerge(ctx, dtypes, inputs, n);
      expect(n).toMatchObject({ cpuPasses: 0, gpuPasses: 4, cpuElementChunks: 0 });
      expect(Array.from(gpu.scalars)).toEqual(Array.from(cpu.scalars));
      expect(Array.from(gpu.out)).toEqual(Array.from(cpu.out));
    }, 240_000);
  }

  for (const withBase of [false, true]) {
    it(`multislerp over NaN and ±Inf${withBase ? ' (task vectors from a base)' : ''}: statistics on the GPU (to the bit), NaN among them, so every element NaN — the CPU's output, no CPU element pass`, async () => {
      const numel = 8 * 1531;
      const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16'];
      const inputs = randomInputs(dtypes, numel, withBase ? 62 : 61, { specials: 0.001 }).map((b) => withoutSubnormals('BF16', b));
      const c: Case = { method: 'multislerp', models: withBase ? [{ weight: 0.3 }, { weight: 0.6 }] : [{ weight: 0.3 }, { weight: 0.6 }, { weight: 0.1 }], params: {}, noBase: !withBase };
      const ctx = contextFor(c, numel, dtypes.length);
      const cpu = cpuMerge(ctx, dtypes, inputs);
      const n = counters();
      const gpu = await gpuMerge(ctx, dtypes, inputs, n);
      expect(n).toMatchObject({ cpuPasses: 0, cpuElementChunks: 0 });
      expect(Array.from(gpu.scalars)).toEqual(Array.from(cpu.scalars));
      expect(Array.from(cpu.scalars).some(Number.isNaN)).toBe(true);
      expect(cpu.out.every((h) => h === 0x7fc0)).toBe(true);
      expect(Array.from(gpu.out)).toEqual(Array.from(cpu.out));
    }, 240_000);
  }

  it('multislerp whose f32 norm overflows to +Inf (finite elements, no NaN in the statistics): the element pass on the CPU inside the GPU run, the same output', async () => {
    const numel = 8 * 1531;
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16'];
    const inputs = randomInputs(dtypes, numel, 63).map((b) => withoutSubnormals('BF16', finiteBf16(b)));
    // Model 1 holds values of 2¹²⁵: ‖v₁‖ ≈ 2¹²⁵·√n is beyond f32.
    const h = new Uint16Array(inputs[1].buffer);
    for (let i = 0; i < h.length; i += 3) h[i] = valueToBf16Bits(i % 2 ? 2 ** 125 : -(2 ** 125));
    const c: Case = { method: 'multislerp', models: [{ weight: 0.3 }, { weight: 0.6 }, { weight: 0.1 }], params: {}, noBase: true };
    const ctx = contextFor(c, numel, dtypes.length);
    const cpu = cpuMerge(ctx, dtypes, inputs);
    const n = counters();
    const gpu = await gpuMerge(ctx, dtypes, inputs, n);
    expect(Array.from(cpu.scalars)).toContain(Infinity);
    expect(Array.from(cpu.scalars).some(Number.isNaN)).toBe(false);
    expect(n.cpuPasses).toBe(0);
    expect(n.cpuElementChunks).toBeGreaterThan(0);
    expect(Array.from(gpu.scalars)).toEqual(Array.from(cpu.scalars));
    expect(Array.from(gpu.out)).toEqual(Array.from(cpu.out));
  }, 240_000);
});
