/**
 * The task-arithmetic family on the GPU (shaders/taskArithmetic.wgsl fed by the GPU magnitude selection
 * of shaders/stats.wgsl) against the CPU program of the method registry (src/merge/methods), which is
 * itself tested against a reference written from mergekit's code: same inputs, same recipe values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../src/gpu/adapter';
import { taskArithmeticJob, type ModelKeep, type SelectionBoundary, type TaskArithmeticModel } from '../../src/gpu/taskArithmeticKernel';
import { createGpuTensorStats, type GpuTensorStats } from '../../src/gpu/tensorStats';
import { createWebGPUSoupBackend, type WebGPUSoupBackend } from '../../src/gpu/webgpuSoupBackend';
import { f32BitsToBf16, f32ToBits } from '../../src/formats/floatCodecs';
import type { KernelDtype } from '../../src/merge/kernel';
import { streamKey, tensorKeyOf } from '../../src/merge/methods/counterRandom';
import { getMethod } from '../../src/merge/methods/registry';
import { decodeToF32, type MagnitudeSelection } from '../../src/merge/methods/tensorStats';
import type { ParameterValues, TensorContext } from '../../src/merge/methods/types';
import { nodeGPU } from '../../src/node/webgpu';
import { compareOutputs } from './soupCompare';
import { memorySource, randomInputs, withoutSubnormals, quantizedInputs } from '../merge/methods/statsTestData';

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
  const chunkAt = (offset: number) => {
    const count = Math.min(CHUNK, ctx.numel - offset);
    const size = (d: KernelDtype) => (d === 'F32' ? 4 : 2);
    return { offset, count, x: inputs.map((b, i) => decodeToF32(dtypes[i], b.subarray(offset * size(dtypes[i]), (offset + count) * size(dtypes[i])), count)) };
  };
  for (const pass of program.passes) {
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

function boundaryOf(sel: MagnitudeSelection): SelectionBoundary {
  if (sel.count === 0) return { valueBits: 0, cutIndex: 0 };
  return { valueBits: sel.threshold, cutIndex: sel.cut >= Number.MAX_SAFE_INTEGER ? Infinity : sel.cut };
}

interface Case {
  method: string;
  models: ParameterValues[];
  params: ParameterValues;
}

/** The GPU merge of one tensor: selections by the stats kernels, then the element kernel in chunks. */
async function gpuMerge(c: Case, ctx: TensorContext, dtypes: KernelDtype[], inputs: Uint8Array[], scalars: Float32Array): Promise<Uint16Array> {
  const method = getMethod(c.method);
  const n = ctx.inputCount - 1;
  const numel = ctx.numel;
  const source = memorySource(dtypes, inputs);
  const consensus = ['ties', 'dare_ties', 'breadcrumbs_ties'].includes(c.method);
  const sparsification = { ties: 'magnitude', breadcrumbs: 'outliers', breadcrumbs_ties: 'outliers', dare_ties: 'random', dare_linear: 'random' }[c.method] as string | undefined;
  const models: TaskArithmeticModel[] = [];
  for (let j = 1; j <= n; j++) {
    const density = (ctx.modelParams[j].density as number | undefined) ?? 1;
    let keep: ModelKeep = { kind: 'all' };
    if (sparsification && density < 1) {
      if (sparsification === 'magnitude') {
        const k = Math.floor(density * numel);
        keep = { kind: 'largest', below: boundaryOf(await stats.selectByMagnitude(source, j, 0, 'smallest', numel - k)) };
      } else if (sparsification === 'outliers') {
        const gamma = (ctx.modelParams[j].gamma as number | undefined) ?? 0.01;
        let nTop = Math.floor(gamma * numel);
        let nBot = numel - Math.floor(density * numel) - nTop;
        if (nBot < 0) {
          nTop += nBot;
          nBot = 0;
        }
        keep = {
          kind: 'between',
          below: boundaryOf(await stats.selectByMagnitude(source, j, 0, 'smallest', nBot)),
          notAbove: boundaryOf(await stats.selectByMagnitude(source, j, 0, 'smallest', numel - nTop)),
        };
      } else {
        keep = { kind: 'random', stream: streamKey(ctx.seed, ctx.tensorKey, j), p: Math.fround(density) };
      }
    }
    // describe(): weights, then scales, then the linear divisor and λ.
    models.push({ weight: scalars[j - 1], scale: scalars[n + j - 1], keep });
  }
  const normalize = (ctx.params.normalize as boolean | undefined) ?? (method.parameters.find((p) => p.name === 'normalize')?.default as boolean);
  const out = new Uint16Array(numel);
  for (let o = 0; o < numel; o += CHUNK) {
    const count = Math.min(CHUNK, numel - o);
    const job = taskArithmeticJob({
      inputs: inputs.map((b, i) => ({ dtype: dtypes[i], bytes: b.subarray(o * 2, (o + count) * 2) })),
      outDtype: 'BF16',
      elementCount: count,
      offset: o,
      models,
      consensus,
      normalize,
      divisor: scalars[2 * n],
      lambda: scalars[2 * n + 1],
    });
    out.set(new Uint16Array((await backend.runElementwise(job)).buffer), o);
  }
  return out;
}

function contextFor(c: Case, numel: number, inputCount: number): TensorContext {
  const name = `${c.method}/model.layers.0.mlp.up_proj.weight`;
  const params: ParameterValues = { ...c.params };
  return {
    name,
    shape: [numel / 8, 8],
    numel,
    inputCount,
    baseIndex: 0,
    params,
    modelParams: [{}, ...c.models],
    seed: 1234,
    tensorKey: tensorKeyOf(name),
    outDtype: 'BF16',
  };
}

const CASES: Case[] = [
  { method: 'task_arithmetic', models: [{ weight: 0.7 }, { weight: 0.4 }, { weight: -0.2 }], params: {} },
  { method: 'ties', models: [{ weight: 1, density: 0.3 }, { weight: 0.6, density: 0.5 }, { weight: 0.3, density: 0.9 }], params: {} },
  { method: 'ties', models: [{ weight: 0.5, density: 0.2 }, { weight: 0.5, density: 0.2 }], params: { normalize: false, lambda: 1.5 } },
  { method: 'dare_ties', models: [{ weight: 1, density: 0.4 }, { weight: 0.5, density: 0.7 }], params: {} },
  { method: 'dare_linear', models: [{ weight: 0.6, density: 0.5 }, { weight: 0.4, density: 0.3 }], params: { rescale: false } },
  { method: 'breadcrumbs_ties', models: [{ weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.8, density: 0.5, gamma: 0.02 }], params: {} },
  { method: 'breadcrumbs', models: [{ weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.8, density: 0.7 }], params: {} },
];

describe('task-arithmetic family on WebGPU (Dawn) vs the CPU method programs', () => {
  for (const c of CASES) {
    for (const data of ['random', 'ties'] as const) {
      it(`${c.method} ${JSON.stringify(c.params)} on ${data === 'random' ? 'BF16 deltas with NaN/±Inf/±0' : 'quantized values (ties at every threshold)'}, chunked`, async () => {
        const numel = 24_584; // 6 chunks and an odd tail
        const dtypes: KernelDtype[] = Array(c.models.length + 1).fill('BF16');
        const inputs = data === 'random'
          ? randomInputs(dtypes, numel, 40 + c.models.length, { specials: 0.01 }).map((b) => withoutSubnormals('BF16', b))
          : quantizedInputs(dtypes, numel, 41);
        const ctx = contextFor(c, numel, dtypes.length);
        const cpu = cpuMerge(ctx, dtypes, inputs);
        const gpu = await gpuMerge(c, ctx, dtypes, inputs, cpu.scalars);
        const r = compareOutputs('BF16', new Uint8Array(gpu.buffer), new Uint8Array(cpu.out.buffer));
        expect(r.withinOneUlp + r.flushedSubnormals, `beyond 1 ulp: ${JSON.stringify(r.worst)}`).toBe(r.elements);
        expect(r.identical / r.elements).toBeGreaterThanOrEqual(0.999);
        // Division aside (normalize), the kernel is the CPU's arithmetic: expect every element identical.
        if (!cpu.scalars.some((v) => Number.isNaN(v))) expect(r.identical, `${r.elements - r.identical} differ`).toBeGreaterThanOrEqual(r.elements - 2);
      });
    }
  }
});
