import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { GpuBufferPool } from '../../../src/gpu/bufferPool';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import { PipelineCache } from '../../../src/gpu/pipelineCache';
import { createGpuTensorStats, lineChunks, type GpuTensorStats } from '../../../src/merge/gpu/tensorStatsGpu';
import { linesOf, type Lines } from '../../../src/merge/program/lineSums';
import type { KernelDtype } from '../../../src/merge/kernel';
import { chunkSelectionKeys, selectByKey, selectByMagnitude, sumTerms, tensorSums, type TensorChunkSource, type VectorsSpec } from '../../../src/merge/program/tensorStats';
import type { ModelKeep, SelectionBoundary } from '../../../src/merge/program/keep';
import { nodeGPU } from '../../../src/node/webgpu';
import { lineInputs, memorySource, quantizedInputs, randomInputs, withoutSubnormals } from '../methods/statsTestData';

/** Random inputs with NaN, ±Inf, ±0 but no subnormals, which a GPU may flush to zero. */
const specialInputs = (dtypes: KernelDtype[], n: number, seed: number, specials: number): Uint8Array[] =>
  randomInputs(dtypes, n, seed, { specials }).map((b, i) => withoutSubnormals(dtypes[i], b));

let ctx: SoupDevice;
let pool: GpuBufferPool;
let pipelines: PipelineCache;
/** Chunks of 4096 elements: every tensor below spans several, as a tensor larger than a GPU buffer does. */
let streaming: GpuTensorStats;
/** The same chunks, kept on the GPU between the passes of a selection. */
let resident: GpuTensorStats;

beforeAll(async () => {
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'stats test');
  pool = new GpuBufferPool(ctx.device, 4);
  pipelines = new PipelineCache(ctx.device);
  streaming = createGpuTensorStats(ctx, pool, pipelines, { chunkElements: 4096, residentBytes: 0 });
  resident = createGpuTensorStats(ctx, pool, pipelines, { chunkElements: 4096 });
});
afterAll(() => {
  pool?.destroy();
  ctx?.destroy();
});

const sameSelection = async (gpu: GpuTensorStats, source: TensorChunkSource, which: number, base: number | undefined, order: 'largest' | 'smallest', count: number): Promise<void> => {
  const want = await selectByMagnitude(source, which, base, order, count, 4096);
  expect(await gpu.selectByMagnitude(source, which, base, order, count), `${order} ${count}`).toEqual(want);
};

describe('GPU magnitude selection (Dawn) equals the CPU selection', { timeout: 240_000 }, () => {
  it('BF16 deltas over several chunks, streamed and resident, both orders', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16'];
    const n = 20_003;
    const source = memorySource(dtypes, specialInputs(dtypes, n, 21, 0.02));
    for (const count of [1, 10_001, n]) {
      for (const order of ['largest', 'smallest'] as const) {
        await sameSelection(streaming, source, 2, 0, order, count);
        await sameSelection(resident, source, 1, 0, order, count);
      }
    }
  });

  it('resident chunks are read once for all passes; streamed ones once per pass', async () => {
    const dtypes: KernelDtype[] = ['F32', 'BF16'];
    const inputs = randomInputs(dtypes, 10_000, 22);
    const a = memorySource(dtypes, inputs);
    await resident.selectByMagnitude(a, 1, 0, 'largest', 2000);
    expect(a.reads).toBe(3); // 3 chunks
    const b = memorySource(dtypes, inputs);
    await streaming.selectByMagnitude(b, 1, 0, 'largest', 2000);
    expect(b.reads).toBe(9); // 3 radix passes × 3 chunks
  });

  it('ties at the threshold: the cut index among equal magnitudes, found across chunks', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'F16'];
    const n = 30_001;
    const source = memorySource(dtypes, quantizedInputs(dtypes, n, 23));
    for (const count of [1, 12_345, 29_999]) {
      for (const order of ['largest', 'smallest'] as const) {
        const want = await selectByMagnitude(source, 1, 0, order, count);
        expect(want.equal).toBeGreaterThan(1000); // the cut really falls inside a run of ties
        expect(await streaming.selectByMagnitude(source, 1, 0, order, count)).toEqual(want);
        expect(await resident.selectByMagnitude(source, 1, 0, order, count)).toEqual(want);
      }
    }
  });

  it('NaN and ±Inf rank above every finite magnitude; F32 and F16 inputs without a base', async () => {
    for (const dtype of ['F32', 'F16'] as const) {
      const source = memorySource([dtype], specialInputs([dtype], 9001, 24, 0.2));
      for (const count of [1, 900, 4500]) await sameSelection(resident, source, 0, undefined, 'largest', count);
    }
  });
});

describe('GPU variance selection (sce, Dawn) equals the CPU selection', { timeout: 240_000 }, () => {
  it('variances across three deltas, streamed over several chunks, and on quantized data (ties); the count of zero variances', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F16', 'BF16'];
    for (const [data, inputs] of [['random', specialInputs(dtypes, 20_003, 28, 0.01)], ['quantized', quantizedInputs(dtypes, 20_003, 29, 3)]] as const) {
      const source = memorySource(dtypes, inputs);
      const key = { kind: 'variance', base: 0 } as const;
      for (const count of [1, 7_001, 20_003]) {
        const want = await selectByKey(source, key, 'smallest', count, 4096);
        expect(await streaming.selectByKey(source, key, 'smallest', count)).toEqual(want);
        expect(await resident.selectByKey(source, key, 'largest', count)).toEqual(await selectByKey(source, key, 'largest', count, 4096));
      }
      let counted = 0;
      for (let s = 0; s < 20_003; s += 4096) counted += chunkSelectionKeys(source, await source.read(s, Math.min(4096, 20_003 - s)), Math.min(4096, 20_003 - s), key).filter((k) => k === 0).length;
      expect(await streaming.countKeys(source, key, 0)).toBe(counted);
      if (data === 'quantized') expect(counted, 'equal deltas: zero variances').toBeGreaterThan(1000);
    }
  });
});

describe('GPU blocked sums (Dawn) equal the CPU sums bit for bit', () => {
  it('dot products, norms and l1 of four deltas over several chunks (mixed dtypes, odd length)', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'F32', 'BF16', 'F16', 'BF16'];
    const source = memorySource(dtypes, randomInputs(dtypes, 50_001, 25));
    const gpu = await streaming.sums(source, { base: 0 });
    const cpu = await tensorSums(source, { base: 0 });
    expect(gpu.vectors).toEqual(cpu.vectors);
    expect(Array.from(gpu.dots)).toEqual(Array.from(cpu.dots));
    expect(Array.from(gpu.l1)).toEqual(Array.from(cpu.l1));
  });

  it('vectors divided by one divisor each (the SLERP family\'s normalised dot product), and f32-rounded squares (sce), streamed over several chunks', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F16'];
    const source = memorySource(dtypes, specialInputs(dtypes, 20_001, 27, 0));
    for (const spec of [{ divisors: [1.5e-3, 7.25, 1] }, { base: 0, divisors: [0.3, 1e-8] }, { base: 0, roundedSquares: true }]) {
      const gpu = await streaming.sums(source, spec);
      const cpu = await tensorSums(source, spec);
      expect(Array.from(gpu.dots)).toEqual(Array.from(cpu.dots));
      expect(Array.from(gpu.l1)).toEqual(Array.from(cpu.l1));
    }
  });

  it("multislerp's chain (m, m̂, the tangent r) over divided vectors, with and without a base, streamed over several chunks", async () => {
    const dtypes: KernelDtype[] = ['BF16', 'F32', 'BF16', 'F16'];
    const source = memorySource(dtypes, specialInputs(dtypes, 20_001, 28, 0));
    const weights = [0.5, 0.25, 0.125].map(Math.fround);
    const specs: VectorsSpec[] = [
      { base: 0, divisors: [3.25, 0.75, 1.5], chain: { weights } },
      { base: 0, divisors: [3.25, 0.75, 1.5], chain: { weights, meanNorm: 0.625 } },
      { base: 0, divisors: [3.25, 0.75, 1.5], chain: { weights, meanNorm: 0.625, projections: [0.5, -0.25, 0.875] } },
      { divisors: [1, 1, 1, 1], chain: { weights: [0.3, 0.2, 0.4, 0.1].map(Math.fround), meanNorm: 1.5, projections: [0.1, 0.2, 0.3, 0.4].map(Math.fround) } },
    ];
    for (const spec of specs) {
      const gpu = await streaming.sums(source, spec);
      const cpu = await tensorSums(source, spec);
      expect(gpu.vectors).toEqual(cpu.vectors);
      expect(Array.from(gpu.dots), JSON.stringify(spec)).toEqual(Array.from(cpu.dots));
      expect(gpu.dots.some((x) => x !== 0)).toBe(true);
    }
  });

  it('the rescale: Σ|d| and Σ|kept d| with the element kernels\' keep masks (TIES, breadcrumbs, DARE, all), streamed over several chunks', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'BF16', 'F16', 'BF16'];
    for (const data of ['random', 'quantized'] as const) {
      const inputs = data === 'random' ? specialInputs(dtypes, 30_001, 29, 0.01) : quantizedInputs(dtypes, 30_001, 29);
      const source = memorySource(dtypes, inputs);
      const n = source.elementCount;
      const boundary = async (which: number, count: number): Promise<SelectionBoundary> => {
        const s = await selectByMagnitude(source, which, 0, 'smallest', count, 4096);
        return { valueBits: s.threshold, cutIndex: s.cut >= Number.MAX_SAFE_INTEGER ? Infinity : s.cut, below: s.before };
      };
      const keeps: ModelKeep[] = [
        { kind: 'largest', below: await boundary(1, Math.floor(0.7 * n)) },
        { kind: 'between', below: await boundary(2, Math.floor(0.3 * n)), notAbove: await boundary(2, Math.floor(0.95 * n)) },
        { kind: 'random', stream: 0x9e3779b9, p: Math.fround(0.35) },
        { kind: 'all' },
      ];
      const gpu = await streaming.sums(source, { base: 0, keeps });
      const cpu = await tensorSums(source, { base: 0, keeps });
      expect(Array.from(gpu.l1), data).toEqual(Array.from(cpu.l1));
      expect(Array.from(gpu.keptL1), data).toEqual(Array.from(cpu.keptL1));
      // NaN and Inf (the random data's specials) are in the sums; on the quantized data each mask drops some.
      if (data === 'quantized') for (let i = 0; i < 3; i++) expect(cpu.keptL1[i], `${data}: model ${i} dropped some`).toBeLessThan(cpu.l1[i]);
    }
  });

  it("sce's mean squares over the variance selection (f32-rounded squares, dropped elements +0), streamed over several chunks", async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16', 'F16', 'BF16'];
    for (const data of ['random', 'quantized'] as const) {
      const inputs = data === 'random' ? specialInputs(dtypes, 30_001, 31, 0.01) : quantizedInputs(dtypes, 30_001, 32, 3);
      const source = memorySource(dtypes, inputs);
      for (const count of [1, 9_001, 29_000]) {
        const s = await selectByKey(source, { kind: 'variance', base: 0 }, 'smallest', count, 4096);
        const varianceKeep: SelectionBoundary = { valueBits: s.threshold, cutIndex: s.cut >= Number.MAX_SAFE_INTEGER ? Infinity : s.cut, below: s.before };
        const spec: VectorsSpec = { base: 0, roundedSquares: true, varianceKeep };
        const gpu = await streaming.sums(source, spec);
        const cpu = await tensorSums(source, spec);
        expect(Array.from(gpu.dots), `${data} ${count}`).toEqual(Array.from(cpu.dots));
        expect(Array.from(gpu.l1), `${data} ${count}`).toEqual(Array.from(cpu.l1));
        if (data === 'quantized' && count === 9_001) {
          const all = await tensorSums(source, { base: 0, roundedSquares: true });
          for (let i = 0; i < 3; i++) expect(cpu.dots[i * 4], `model ${i}: the selection drops some`).toBeLessThan(all.dots[i * 4]);
        }
      }
    }
  });

  it('the inputs themselves (no base), one chunk; NaN and Inf propagate', async () => {
    const dtypes: KernelDtype[] = ['BF16', 'BF16'];
    const inputs = randomInputs(dtypes, 3001, 26);
    const plain = memorySource(dtypes, inputs);
    expect(Array.from((await resident.sums(plain, {})).dots)).toEqual(Array.from((await tensorSums(plain, {})).dots));
    new DataView(inputs[1].buffer).setUint16(2 * 100, 0x7f80, true); // +Inf
    new DataView(inputs[0].buffer).setUint16(2 * 7, 0x7fc0, true); // NaN
    const g = await resident.sums(memorySource(dtypes, inputs), {});
    expect(g.dots[0]).toBeNaN();
    expect(g.dots[3]).toBe(Infinity);
    expect(g.l1[1]).toBe(Infinity);
  });
});

describe('GPU per-line sums (Dawn, lineSums) equal the CPU sums of each row or column alone, bit for bit', () => {
  /** The CPU's sums of line l alone (tensorSums over its elements, its own divisors), in sumTerms order. */
  async function alone(dtypes: KernelDtype[], inputs: Uint8Array[], lines: Lines, spec: VectorsSpec, l: number, divisors?: Float32Array): Promise<number[]> {
    const m = dtypes.length - (spec.base === undefined ? 0 : 1);
    const s = await tensorSums(memorySource(dtypes, lineInputs(dtypes, inputs, lines, l)), { ...spec, divisors: divisors ? Array.from(divisors.subarray(l * m, (l + 1) * m)) : undefined }, 512);
    return sumTerms({}, m).map((t) => (t.kind === 'dot' ? s.dots[t.i * m + t.j] : s.l1[t.i]));
  }

  const cases: { shape: number[]; grouping: 'row' | 'column'; dtypes: KernelDtype[]; base?: number; divided?: boolean; narrow?: boolean }[] = [
    { shape: [40, 13], grouping: 'row', dtypes: ['BF16', 'BF16', 'BF16'], base: 0 },
    { shape: [7, 1100], grouping: 'row', dtypes: ['F32', 'BF16', 'F16'], base: 0, divided: true },
    // Rows longer than one chunk (4096 elements): each row in pieces on its group boundaries.
    { shape: [3, 9001], grouping: 'row', dtypes: ['BF16', 'BF16'], divided: true },
    { shape: [1100, 5], grouping: 'column', dtypes: ['BF16', 'F32', 'BF16'], base: 0 },
    { shape: [1030, 3], grouping: 'column', dtypes: ['F16', 'BF16', 'BF16'], base: 0, divided: true },
    // 512 rows of 45 columns do not fit a binding of 32 KiB: slabs of 512 rows by 8 columns, read row by row.
    { shape: [1100, 45], grouping: 'column', dtypes: ['BF16', 'BF16', 'BF16'], base: 0, divided: true, narrow: true },
    { shape: [700, 3, 7], grouping: 'column', dtypes: ['F32', 'BF16'], narrow: true },
  ];
  /** Bindings of 32 KiB: 5,461 elements of three BF16 inputs. */
  let narrow: GpuTensorStats;
  beforeAll(() => {
    narrow = createGpuTensorStats(ctx, pool, pipelines, { chunkElements: 4096, maxBindingBytes: 32 << 10 });
  });
  for (const c of cases) {
    it(`${c.grouping}s of ${c.shape.join('×')} (${c.dtypes.join(', ')}${c.base === undefined ? '' : ', base'}${c.divided ? ', divided per line' : ''}), streamed in chunks of 4096${c.narrow ? ', bindings of 32 KiB' : ''}`, async () => {
      const numel = c.shape.reduce((a, b) => a * b, 1);
      const inputs = specialInputs(c.dtypes, numel, 40 + numel, 0.005);
      const lines = linesOf(c.grouping, c.shape);
      const spec: VectorsSpec = { base: c.base };
      const m = c.dtypes.length - (c.base === undefined ? 0 : 1);
      const divisors = c.divided ? Float32Array.from({ length: lines.count * m }, (_, k) => 0.25 + ((k * 37) % 11) / 3) : undefined;
      const gpu = await (c.narrow ? narrow : streaming).lineSums(memorySource(c.dtypes, inputs), lines, spec, divisors);
      expect(gpu).toBeDefined();
      const terms = sumTerms({}, m).length;
      for (let l = 0; l < lines.count; l++) expect(Array.from(gpu!.subarray(l * terms, (l + 1) * terms)), `line ${l}`).toEqual(await alone(c.dtypes, inputs, lines, spec, l, divisors));
    }, 240_000);
  }

  it('columns whose 512-row group is larger than one chunk come in slabs of 512 rows by what fits, each column in row order', async () => {
    expect(lineChunks(linesOf('column', [600, 5000]), 4096)?.map((c) => [c.start, c.count, c.firstLine, c.lineCount, c.lineLength])).toEqual([
      ...Array.from({ length: 625 }, (_, k) => [8 * k, 512 * 8, 8 * k, 8, 512]),
      ...Array.from({ length: 625 }, (_, k) => [512 * 5000 + 8 * k, 88 * 8, 8 * k, 8, 88]),
    ]);
    expect(lineChunks(linesOf('column', [600, 5000]), 511)).toBeUndefined();
    expect(lineChunks(linesOf('column', [600, 8]), 4096)?.map((c) => c.lineLength)).toEqual([512, 88]);
    expect(lineChunks(linesOf('row', [2, 5000]), 4096)?.map((c) => [c.start, c.count, c.firstLine])).toEqual([[0, 4096, 0], [4096, 904, 0], [5000, 4096, 1], [9096, 904, 1]]);
  });
});
