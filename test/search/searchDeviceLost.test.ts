// A GPU device lost in the middle of `souplab search --backend webgpu` (driver reset, GPU removed, a
// TDR on Windows): the search stops with one clear line, the finished points stay in trials.jsonl,
// and --resume continues without evaluating them again.
//
// The loss is real, not mocked: the search runs on Dawn's real device (SwiftShader here), and the test
// destroys that device from outside — as a driver reset does — right after the second trial is stored.
// The two wrappers below only record the devices the search creates and count stored trials.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/runCli';
import { captureIO, writeTinyModel } from '../eval/helpers';

const devices: GPUDevice[] = [];
/** When set: the number of stored trials after which every device the search made is destroyed. */
const loseAfter: { trials: number | undefined; stored: number } = { trials: undefined, stored: 0 };

vi.mock('../../src/node/webgpu', async (importActual) => {
  const actual = await importActual<typeof import('../../src/node/webgpu')>();
  return {
    ...actual,
    nodeGPU: async (): Promise<GPU | undefined> => {
      const gpu = await actual.nodeGPU();
      if (!gpu) return gpu;
      return {
        getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
        wgslLanguageFeatures: gpu.wgslLanguageFeatures,
        requestAdapter: async (options?: GPURequestAdapterOptions) => {
          const adapter = await gpu.requestAdapter(options);
          if (!adapter) return adapter;
          const requestDevice = adapter.requestDevice.bind(adapter);
          Object.defineProperty(adapter, 'requestDevice', {
            value: async (descriptor?: GPUDeviceDescriptor) => {
              const device = await requestDevice(descriptor);
              devices.push(device);
              return device;
            },
          });
          return adapter;
        },
      } as GPU;
    },
  };
});

vi.mock('../../src/node/trialStore', async (importActual) => {
  const actual = await importActual<typeof import('../../src/node/trialStore')>();
  return {
    ...actual,
    openResultsFolder: async (...args: Parameters<typeof actual.openResultsFolder>) => {
      const store = await actual.openResultsFolder(...args);
      const append = store.append.bind(store);
      return Object.assign(store, {
        append: async (record: Parameters<typeof store.append>[0]) => {
          await append(record);
          loseAfter.stored++;
          if (loseAfter.trials !== undefined && loseAfter.stored === loseAfter.trials) for (const d of devices) d.destroy();
        },
      });
    },
  };
});

let dir: string;
let models: string;
let tasks: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-search-lost-'));
  for (const [name, delta] of [['alpha', 31], ['beta', 32], ['gamma', 33]] as const) {
    await writeTinyModel(join(dir, name), { architecture: 'llama', seed: 12, deltaSeed: delta, deltaScale: 0.3, dtype: 'BF16', hiddenSize: 32, intermediateSize: 64 });
  }
  models = ['alpha', 'beta', 'gamma'].map((m) => `${m}=${join(dir, m)}`).join(';');
  tasks = join(dir, 'prose.jsonl');
  writeFileSync(tasks, ['The quick brown fox jumps over the lazy dog', 'A soup of models is the average of their weights'].map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trialKeys = (d: string): string[] =>
  readFileSync(join(dir, d, 'trials.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { key: string }).key);

describe('souplab search: the GPU device lost mid-search', () => {
  it('stops with a clear message, keeps the finished trials intact, and --resume evaluates only the rest', async () => {
    const args = ['search', '--models', models, '--tasks', tasks, '--plan', 'grid', '--step', '0.25', '--shapley', 'none', '--backend', 'webgpu', '--out', join(dir, 'out')];
    loseAfter.trials = 2;
    const lost = captureIO();
    const code = await runCli(args, lost);
    expect(devices.length).toBeGreaterThan(0);
    expect(code).not.toBe(0);
    const err = lost.err();
    expect(err).toMatch(/stopped by an error: 2 trials are kept in .*out; run again with --resume to continue/);
    expect(err).toMatch(/the GPU device was lost/);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
    const kept = trialKeys('out');
    expect(kept).toHaveLength(2); // both records whole: every line parses

    loseAfter.trials = undefined;
    const resumed = captureIO();
    expect(await runCli([...args, '--resume'], resumed)).toBe(0);
    expect(resumed.err()).toMatch(/resume: 2 trials already evaluated are reused/);
    const all = trialKeys('out');
    expect(all.slice(0, 2)).toEqual(kept);
    expect(new Set(all).size).toBe(all.length); // nothing evaluated twice
    expect(resumed.out()).toMatch(new RegExp(`: ${all.length} soups in .* \\(${all.length - 2} evaluated now\\)`));

    // The same plan uninterrupted, on a device nobody destroys, gives the same trials.
    const fresh = captureIO();
    expect(await runCli([...args.slice(0, -1), join(dir, 'fresh')], fresh)).toBe(0);
    expect(new Set(trialKeys('fresh'))).toEqual(new Set(all));
  }, 600_000);
});
