/**
 * DELLA on the GPU: the keep masks of shaders/merge/dellaRanks.wgsl (each row's magnitude ranks, counted in
 * workgroup memory, and the seeded draws) against the CPU program's masks, bit for bit, and both against an
 * oracle written here from mergekit's della_magprune (a quadratic count of each element's stable rank, no
 * sort); then whole della and della_linear merges under the WebGPU runner — masks, rescale sums and
 * element pass on the GPU — against the CPU runner, byte for byte. The data has ties (a few levels of
 * values), zero deltas (whole rows equal to the base), NaN and ±Inf, rows shorter than half a workgroup
 * (several rows to a workgroup), rows longer than one (tiles of 256), chunks whose rows do not start on a
 * 32-bit word of the mask, and element jobs cut into pieces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { runTensorProgramOnGpu } from '../../../src/merge/gpu/runProgramGpu';
import { createGpuTensorStats, type GpuTensorStats } from '../../../src/merge/gpu/tensorStatsGpu';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import { runTensorProgram, type ProgramTensor } from '../../../src/merge/program/runProgram';
import { streamKey, tensorKeyOf, uniform24 } from '../../../src/merge/program/counterRandom';
import type { TaskArithmeticElements } from '../../../src/merge/program/gpuElements';
import { getMethod } from '../../../src/merge/methods/registry';
import type { ParameterValues, TensorContext } from '../../../src/merge/methods/types';
import { bytesSource } from '../../../src/formats/memorySource';
import { nodeGPU } from '../../../src/node/webgpu';
import type { KernelDtype } from '../../../src/merge/kernel';
import { quantizedInputs, randomInputs, withoutSubnormals } from '../methods/statsTestData';

let backend: WebGPUSoupBackend;
let stats: GpuTensorStats;

beforeAll(async () => {
  // Pieces of 4 KiB of inputs: an element job spans several pieces, each with its slice of the masks.
  backend = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()), { maxPieceBytes: 4096 });
  const { ctx, pool, pipelines } = backend.shared;
  // Chunks of 4096 elements: rows of 999 come 4 to a chunk, the next chunk starting inside a mask word.
  stats = createGpuTensorStats(ctx, pool, pipelines, { chunkElements: 4096 });
});
afterAll(async () => {
  await backend?.dispose();
});

interface Shape {
  what: string;
  shape: number[];
  data: 'quantized' | 'random';
}

const SHAPES: Shape[] = [
  { what: 'rows of 8 (32 to a workgroup), ties', shape: [640, 8], data: 'quantized' },
  { what: 'rows of 100 (2 to a workgroup), NaN/±Inf', shape: [90, 100], data: 'random' },
  { what: 'rows of 129 (one partial tile)', shape: [40, 129], data: 'quantized' },
  { what: 'rows of 999 (4 tiles; chunks start inside mask words), ties', shape: [9, 999], data: 'quantized' },
  { what: 'one row of 2500 (a 1-D tensor)', shape: [2500], data: 'random' },
];

const MODELS: ParameterValues[] = [{ weight: 1, density: 0.5, epsilon: 0.1 }, { weight: 0.6, density: 0.3, epsilon: 0.2 }];

function contextFor(shape: number[], params: ParameterValues = {}, models = MODELS): TensorContext {
  const numel = shape.reduce((a, b) => a * b, 1);
  const name = 'model.layers.1.mlp.down_proj.weight';
  return { name, shape, numel, inputCount: 3, baseIndex: 0, params, modelParams: [{}, ...models], seed: 77, tensorKey: tensorKeyOf(name), outDtype: 'BF16' };
}

/** BF16 inputs: the base, then two models; model 1 equals the base on every third row (zero deltas). */
function inputsFor(s: Shape): Uint8Array[] {
  const numel = s.shape.reduce((a, b) => a * b, 1);
  const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16'];
  const inputs = s.data === 'quantized' ? quantizedInputs(dtypes, numel, 5, 5) : randomInputs(dtypes, numel, 9, { specials: 0.02 }).map((b) => withoutSubnormals('BF16', b));
  const row = s.shape[s.shape.length - 1];
  for (let r = 0; r < numel / row; r += 3) inputs[1].set(inputs[0].subarray(2 * r * row, 2 * (r + 1) * row), 2 * r * row);
  return inputs;
}

function tensorOf(method: string, ctx: TensorContext, inputs: Uint8Array[]): ProgramTensor {
  return {
    name: ctx.name,
    numel: ctx.numel,
    outDtype: 'BF16',
    program: getMethod(method).program(ctx),
    inputs: inputs.map((bytes, i) => ({ info: { name: ctx.name, dtype: 'BF16', shape: ctx.shape, byteOffset: 0, byteLength: bytes.byteLength }, source: bytesSource(bytes, `model-${i}`), file: `model-${i}.safetensors` })),
  };
}

async function collect(parts: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const p of parts) chunks.push(p.slice());
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

/** The masks a program drew (its element kernel's 'bits' keeps), once its passes have run. */
function masksOf(t: ProgramTensor): Uint32Array[] {
  const e = t.program.gpuElements?.() as TaskArithmeticElements | undefined;
  if (!e) throw new Error('no GPU element pass');
  return e.models.map((m) => {
    if (m.keep.kind !== 'bits') throw new Error(`keep ${m.keep.kind}`);
    return m.keep.words.slice();
  });
}

function bf16Values(bytes: Uint8Array): Float32Array {
  const h = new Uint16Array(bytes.slice().buffer);
  return new Float32Array(Uint32Array.from(h, (x) => x << 16).buffer);
}

/**
 * The oracle: mergekit's della_magprune read literally — rank_i = 1 + #{j: |δⱼ| < |δᵢ|} + #{j < i: |δⱼ| = |δᵢ|}
 * (a stable argsort's, NaN above every number), p = (d − ε) + 2ε·(rank − 1)/(n − 1) in f32 steps, kept when
 * the counter hash's uniform is below p.
 */
function oracleMask(ctx: TensorContext, inputs: Uint8Array[], model: number): Uint8Array {
  const base = bf16Values(inputs[0]);
  const x = bf16Values(inputs[model]);
  const n = ctx.shape[ctx.shape.length - 1];
  const { density, epsilon } = MODELS[model - 1] as { density: number; epsilon: number };
  const stream = streamKey(ctx.seed, ctx.tensorKey, model);
  const delta = (e: number): number => Math.fround(x[e] - base[e]);
  const out = new Uint8Array(ctx.numel);
  for (let r = 0; r < ctx.numel / n; r++) {
    const m = Array.from({ length: n }, (_, i) => Math.abs(delta(r * n + i)));
    const nan = m.map(Number.isNaN);
    for (let i = 0; i < n; i++) {
      let rank = 0;
      for (let j = 0; j < n; j++) {
        // NaN above every number, +Inf included
        const less = nan[i] ? !nan[j] : !nan[j] && m[j] < m[i];
        const same = nan[i] ? nan[j] : m[j] === m[i];
        if (less || (same && j < i)) rank++;
      }
      const rankNorm = n > 1 ? Math.fround(rank / (n - 1)) : 0;
      const p = Math.fround(Math.fround(density - epsilon) + Math.fround(Math.fround(rankNorm * 2) * Math.fround(epsilon)));
      out[r * n + i] = uniform24(stream, r * n + i) < p ? 1 : 0;
    }
  }
  return out;
}

const bitsOf = (words: Uint32Array, numel: number): Uint8Array => Uint8Array.from({ length: numel }, (_, e) => (words[e >>> 5] >>> (e & 31)) & 1);

describe("DELLA's keep masks on the GPU (shaders/merge/dellaRanks.wgsl)", () => {
  for (const s of SHAPES) {
    it(`${s.what}: the GPU's masks are the CPU's and the oracle's, bit for bit`, async () => {
      const ctx = contextFor(s.shape);
      const inputs = inputsFor(s);
      const cpu = tensorOf('della', ctx, inputs);
      await collect(runTensorProgram(cpu, { maxChunkElements: 4096 }));
      const gpu = tensorOf('della', ctx, inputs);
      const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
      await collect(runTensorProgramOnGpu(gpu, { backend, stats, maxChunkElements: 4096, counters }));
      expect(counters.cpuPasses, 'ranks and rescale sums on the GPU').toBe(0);
      const cpuMasks = masksOf(cpu);
      const gpuMasks = masksOf(gpu);
      for (const model of [1, 2]) {
        const oracle = oracleMask(ctx, inputs, model);
        expect(bitsOf(cpuMasks[model - 1], ctx.numel), `CPU mask of model ${model}`).toEqual(oracle);
        expect(bitsOf(gpuMasks[model - 1], ctx.numel), `GPU mask of model ${model}`).toEqual(oracle);
        // The padding bits after the last element stay clear.
        expect(gpuMasks[model - 1]).toEqual(cpuMasks[model - 1]);
      }
    }, 240_000);
  }
});

describe('della and della_linear under the WebGPU runner: every pass on the GPU, the CPU bytes', () => {
  for (const method of ['della', 'della_linear']) {
    for (const s of SHAPES) {
      for (const params of [{}, { rescale: false, lambda: 1.3 }] as ParameterValues[]) {
        it(`${method} ${JSON.stringify(params)}: ${s.what}`, async () => {
          const ctx = contextFor(s.shape, params);
          const inputs = inputsFor(s);
          const cpu = await collect(runTensorProgram(tensorOf(method, ctx, inputs), { maxChunkElements: 4096 }));
          const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
          const gpu = await collect(runTensorProgramOnGpu(tensorOf(method, ctx, inputs), { backend, stats, maxChunkElements: 4096, counters }));
          expect(counters.cpuPasses, 'every statistics pass on the GPU').toBe(0);
          expect(counters.gpuPasses, 'the ranks (and the rescale sums)').toBe(params.rescale === false ? 1 : 2);
          expect(counters.cpuElementChunks, 'the element pass on the GPU').toBe(0);
          expect(Array.from(new Uint16Array(gpu.buffer))).toEqual(Array.from(new Uint16Array(cpu.buffer)));
        }, 240_000);
      }
    }
  }
});

describe('della with a model of density 0 (mergekit: zeros for it, whatever its delta)', () => {
  it("the other model's ranks on the GPU; the rescale sums and the element pass on the CPU inside the GPU run; the CPU's bytes", async () => {
    const s = SHAPES[1];
    const ctx = contextFor(s.shape, {}, [MODELS[0], { weight: 0.6, density: 0 }]);
    const inputs = inputsFor(s);
    const cpu = await collect(runTensorProgram(tensorOf('della', ctx, inputs), { maxChunkElements: 4096 }));
    const counters = { gpuPasses: 0, cpuPasses: 0, gpuElementChunks: 0, cpuElementChunks: 0 };
    const gpu = await collect(runTensorProgramOnGpu(tensorOf('della', ctx, inputs), { backend, stats, maxChunkElements: 4096, counters }));
    expect(counters).toMatchObject({ gpuPasses: 1, cpuPasses: 1, gpuElementChunks: 0 });
    expect(Array.from(new Uint16Array(gpu.buffer))).toEqual(Array.from(new Uint16Array(cpu.buffer)));
  }, 240_000);
});
