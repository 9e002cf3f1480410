// Faults in the studio's search (issue 19 §4), on Dawn's real adapter (SwiftShader here), through the
// Search worker's job and the sentence its page shows:
// - the GPU device lost mid-search (destroyed from outside, as a driver reset does, after the second
//   stored point): one sentence, the finished points kept, the search resumed on the CPU evaluates only
//   the rest and ends with every point;
// - f16 kernels asked for on an adapter without `shader-f16`, and a model larger than the GPU memory
//   given: refused before any point, with the feature or the sizes, nothing stored.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requestAdapter } from '../../src/gpu/adapter';
import { createSoupDevice } from '../../src/gpu/device';
import { DeviceLostError } from '../../src/gpu/errors';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import { CpuCausalLM } from '../../src/model/cpu/cpuCausalLM';
import { WebGpuCausalLM } from '../../src/model/gpu/webgpuCausalLM';
import type { KernelFeatures } from '../../src/model/gpu/modelShaders';
import { nodeGPU } from '../../src/node/webgpu';
import type { TrialRecord, TrialStore } from '../../src/search/runSearch';
import type { SearchSettings } from '../../src/ui/search/protocol';
import { runSearchJob, type SearchJobDeps } from '../../src/ui/search/searchJob';
import { searchStopMessage } from '../../src/ui/search/stopMessage';
import type { TaskText } from '../../src/ui/taste/protocol';
import { demoFolder } from './demoFolder';

const TASKS: TaskText[] = [{ file: 'prose.txt', text: readFileSync('public/demo/tasks/prose.txt', 'utf8') }];

const settings: SearchSettings = { models: ['x', 'y', 'z'], experts: ['x', 'y'], plan: { kind: 'grid', step: 0.5 }, tasks: ['prose.txt'], metric: 'acc_norm', splitSeed: 0, tuneShare: 0.5, backend: 'webgpu' };
// x, y, z alone, the uniform soup of all and of x+y (the grid's only inner point), the coalitions x+z and y+z.
const POINTS = 7;

/** A store that keeps what it is given (as IndexedDB does); `after(n)` runs once n records are stored. */
function memoryStore(after?: (n: number) => void): TrialStore & { records: TrialRecord[] } {
  const records: TrialRecord[] = [];
  return {
    records,
    load: async () => structuredClone(records),
    append: async (r) => {
      records.push(structuredClone(r));
      after?.(records.length);
    },
  };
}

/** The worker's WebGPU model on its own device (src/ui/evalWorker/host.ts), with what a test forces. */
function onWebGpu(devices: GPUDevice[], opts: { kernels?: Partial<KernelFeatures>; memoryBudgetBytes?: number } = {}): SearchJobDeps['createModel'] {
  return async (config, weights, signal) => {
    const device = await createSoupDevice(await requestAdapter(await nodeGPU()), 'souplab model');
    devices.push(device.device);
    try {
      const model = await WebGpuCausalLM.create(config, weights, { device, signal, name: 'soup', batchTokens: 64, ...opts });
      return { model, description: model.description, gpu: { model, device }, dispose: () => (model.dispose(), device.destroy()) };
    } catch (e) {
      device.destroy();
      throw e;
    }
  };
}

const onCpu: SearchJobDeps['createModel'] = async (config, weights) => {
  const model = await CpuCausalLM.load(config, weights);
  return { model, description: 'CPU', dispose: () => model.dispose() };
};

async function search(store: TrialStore, createModel: SearchJobDeps['createModel'], backend: SearchSettings['backend']) {
  const ingredients = [await demoFolder(0, 'x'), await demoFolder(1, 'y'), await demoFolder(2, 'z')];
  const soupBackend = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
  try {
    return await runSearchJob({ settings: { ...settings, backend }, ingredients, tasks: TASKS }, { soupBackend, createModel, store, memoryBudget: 1e9 });
  } finally {
    await soupBackend.dispose();
  }
}

describe('faults in the studio search', () => {
  it('a GPU device lost mid-search: one sentence, the finished points kept, resumed on the CPU for the rest', async () => {
    const devices: GPUDevice[] = [];
    // The loss is real: the device the search soups and scores on is destroyed after the second stored point.
    const store = memoryStore((n) => n === 2 && devices.forEach((d) => d.destroy()));
    const failure = await search(store, onWebGpu(devices), 'webgpu').then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(DeviceLostError);
    expect(store.records).toHaveLength(2);
    expect(searchStopMessage(failure, store.records.length)).toMatch(
      /^The search stopped: the GPU device was lost \(destroyed[^)]*\); its 2 finished points are kept: start it again to resume \(on the CPU, in Run on, if the GPU does not come back\)\.$/,
    );
    expect(searchStopMessage(failure, store.records.length).split('. ')).toHaveLength(1);

    const kept = structuredClone(store.records);
    const resumed = await search(store, onCpu, 'cpu');
    expect(resumed.outcome.evaluated).toBe(POINTS - 2);
    expect(store.records.slice(0, 2)).toEqual(kept);
    expect(new Set(store.records.map((r) => r.key)).size).toBe(POINTS);
    expect(resumed.evidence.best).not.toBeNull();
  }, 300_000);

  it('f16 kernels asked for on an adapter without shader-f16: refused before any point, in one sentence', async () => {
    const store = memoryStore();
    const devices: GPUDevice[] = [];
    const failure = await search(store, onWebGpu(devices, { kernels: { f16: true } }), 'webgpu').then(
      () => null,
      (e: unknown) => e,
    );
    // The real adapter lacks the feature (SwiftShader): the refusal is the device's answer, not a stub's.
    expect(devices[0].features.has('shader-f16')).toBe(false);
    expect(searchStopMessage(failure, store.records.length)).toBe(
      'The search stopped: the GPU device does not offer the WebGPU feature shader-f16, which was asked for; nothing was evaluated yet: start it again (on the CPU, in Run on, if the GPU does not come back).',
    );
    expect(store.records).toHaveLength(0);
  }, 120_000);

  it('a model larger than the GPU memory given: refused before any point, with the sizes', async () => {
    const store = memoryStore();
    const failure = await search(store, onWebGpu([], { memoryBudgetBytes: 1024 }), 'webgpu').then(
      () => null,
      (e: unknown) => e,
    );
    const size = String.raw`[\d.]+ [KMGT]?B`;
    expect(searchStopMessage(failure, 0)).toMatch(
      new RegExp(
        String.raw`^The search stopped: soup does not fit this GPU: soup needs ${size} of GPU memory \(${size} of [A-Z0-9/]+ weights \+ ${size} for batches of \d+ tokens\), the adapter offers 1\.02 KB \(needs ${size}: ${size} of weights \+ .*budget 1\.02 KB\)`,
      ),
    );
    expect(store.records).toHaveLength(0);
  }, 120_000);
});
