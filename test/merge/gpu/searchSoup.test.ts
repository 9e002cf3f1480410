// The search's in-GPU souping (src/merge/gpu/residentSoup.ts) on Dawn: the weights it writes straight into the
// WebGPU model's buffers equal the merge engine's soup (the CPU reference kernel, the bits `souplab merge`
// writes) within the WebGPU kernel's contract (1 ulp of the output dtype, ≥ 99.9 % identical), and the
// model then scores as a model loaded from that soup — exactly as the one the WebGPU merge backend makes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestAdapter } from '../../../src/gpu/adapter';
import { createSoupDevice, type SoupDevice } from '../../../src/gpu/device';
import { WebGpuCausalLM } from '../../../src/model/gpu/webgpuCausalLM';
import { uploadGpuIngredients } from '../../../src/merge/gpu/residentSoup';
import { createWebGPUSoupBackend } from '../../../src/merge/gpu/webgpuSoupBackend';
import { encodeFromF32 } from '../../../src/formats/floatArrays';
import { createCpuSoupBackend } from '../../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../../src/merge/cpu/protocol';
import { soupWeightSource } from '../../../src/merge/soupWeights';
import { readModelFiles } from '../../../src/model/load';
import { openCheckpointPath, type NodeCheckpoint } from '../../../src/node/openCheckpointPath';
import { nodeGPU } from '../../../src/node/webgpu';
import { planPoint, type PlannedModel } from '../../../src/search/soupLoader';
import { writeTinyModel } from '../../eval/helpers';

let ctx: SoupDevice;
let checkpoints: NodeCheckpoint[];
let models: PlannedModel[];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'souplab-gpu-search-'));
  checkpoints = [];
  for (const [i, delta] of [41, 42, 43].entries()) {
    // Odd sizes: rows that are not multiples of the soup kernel's blocks.
    const path = await writeTinyModel(join(dir, `m${i}`), { architecture: 'qwen2', seed: 9, deltaSeed: delta, dtype: 'BF16', hiddenSize: 40, intermediateSize: 70, numHeads: 4, numKvHeads: 2 });
    checkpoints.push(await openCheckpointPath(path));
  }
  models = checkpoints.map((c, i) => ({ name: `m${i}`, path: `m${i}`, checkpoint: c }));
  ctx = await createSoupDevice(await requestAdapter(await nodeGPU()), 'search soup tests');
}, 120_000);

afterAll(async () => {
  ctx?.destroy();
  await Promise.all(checkpoints.map((c) => c.close()));
});

async function readBack(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Uint8Array> {
  const size = Math.ceil(bytes / 4) * 4;
  const stage = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, stage, 0, size);
  device.queue.submit([enc.finish()]);
  await stage.mapAsync(GPUMapMode.READ);
  const out = new Uint8Array(stage.getMappedRange()).slice(0, bytes);
  stage.unmap();
  stage.destroy();
  return out;
}

describe('souping into the WebGPU model', () => {
  it('writes the merge engine\'s soup into the weight buffers and scores like a model loaded from it', async () => {
    const files = await readModelFiles('m0', checkpoints[0].extraFiles);
    const cpu = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const first = soupWeightSource(planPoint(models, [1, 0, 0]), cpu);
    const model = await WebGpuCausalLM.create(files.config, first, { device: ctx, batchTokens: 64 });
    const ingredients = await uploadGpuIngredients(ctx, model, checkpoints);
    try {
      for (const weights of [[0.5, 0.3, 0.2], [0, 0.7, 0.3]]) {
        const plan = planPoint(models, weights);
        await ingredients.soupInto(plan, weights.flatMap((w, i) => (w > 0 ? [i] : [])));
        const reference = soupWeightSource(plan, cpu);
        let elements = 0;
        let differing = 0;
        for (const name of model.weightNames()) {
          const { dtype, parts } = model.weightParts(name);
          const want = encodeFromF32(dtype, await reference.readF32(name));
          const wantBits = new Uint16Array(want.buffer, want.byteOffset, want.byteLength / 2);
          let at = 0;
          for (const p of parts) {
            const got = await readBack(ctx.device, p.buffer, p.byteLength);
            const gotBits = new Uint16Array(got.buffer, 0, got.byteLength / 2);
            for (let i = 0; i < gotBits.length; i++) {
              const d = Math.abs(gotBits[i] - wantBits[at + i]);
              expect(d, `${name} element ${at + i}`).toBeLessThanOrEqual(1);
              if (d !== 0) differing++;
            }
            at += gotBits.length;
          }
          expect(at).toBe(wantBits.length);
          elements += at;
        }
        expect(differing / elements).toBeLessThanOrEqual(0.001);

        // The souped model scores like a model created from the reference soup.
        const loaded = await WebGpuCausalLM.create(files.config, reference, { device: ctx, batchTokens: 64 });
        const seq = [Int32Array.from([1, 5, 9, 33, 2, 7, 100, 4])];
        const [a] = await model.scoreTokens(seq);
        const [b] = await loaded.scoreTokens(seq);
        loaded.dispose();
        a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 2));
      }
    } finally {
      ingredients.dispose();
      model.dispose();
      await cpu.dispose();
    }
  }, 300_000);

  it('scores a point exactly as the exported soup: the same bits as the WebGPU merge writes, in the output dtype', async () => {
    const files = await readModelFiles('m0', checkpoints[0].extraFiles);
    const cpu = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
    const gpuMerge = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
    const model = await WebGpuCausalLM.create(files.config, soupWeightSource(planPoint(models, [1, 0, 0]), cpu), { device: ctx, batchTokens: 64 });
    const ingredients = await uploadGpuIngredients(ctx, model, checkpoints);
    try {
      const weights = [0.45, 0.35, 0.2];
      const plan = planPoint(models, weights);
      await ingredients.soupInto(plan, [0, 1, 2]);
      // The merge engine's soup on WebGPU: the plan, jobs and kernel `souplab merge --backend webgpu` runs.
      const exported = await WebGpuCausalLM.create(files.config, soupWeightSource(plan, gpuMerge), { device: ctx, batchTokens: 64 });
      try {
        for (const name of model.weightNames()) {
          const { dtype, parts } = model.weightParts(name);
          expect(dtype).toBe('BF16'); // the checkpoints' dtype, which the merged file keeps
          const theirs = exported.weightParts(name).parts;
          for (let p = 0; p < parts.length; p++) {
            expect(await readBack(ctx.device, parts[p].buffer, parts[p].byteLength), name).toEqual(await readBack(ctx.device, theirs[p].buffer, theirs[p].byteLength));
          }
        }
        const seqs = [Int32Array.from([1, 5, 9, 33, 2, 7, 100, 4]), Int32Array.from([3, 3, 8])];
        expect(await model.scoreTokens(seqs)).toEqual(await exported.scoreTokens(seqs));
      } finally {
        exported.dispose();
      }
    } finally {
      ingredients.dispose();
      model.dispose();
      await gpuMerge.dispose();
      await cpu.dispose();
    }
  }, 300_000);
});
