/**
 * Every registry method on the CPU backend's worker threads (programPool.ts: each tensor's program
 * rebuilt in a worker from its method and context, the inputs read there by path, several tensors at
 * once) gives the same bytes as the same merge run on the calling thread: the random methods with a
 * seed too. Real files, real worker threads (the bundled cpuWorker.js), small chunks (many per
 * tensor) and small output credit, so the workers run ahead of the writer and wait on it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CancelledError } from '../../src/errors';
import type { Checkpoint } from '../../src/formats/checkpoint';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { ProgramPool } from '../../src/merge/cpu/programPool';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import type { SoupBackend } from '../../src/merge/kernel';
import { METHOD_NAMES } from '../../src/merge/methods/registry';
import { planMerge } from '../../src/merge/plan';
import { parseRecipe } from '../../src/merge/recipe';
import { runMerge } from '../../src/merge/runMerge';
import { nodeProgramSpawner } from '../../src/node/cpuWorkers';
import { nodeFileTarget } from '../../src/node/fileTargets';
import { openCheckpointPath, type NodeCheckpoint } from '../../src/node/openCheckpointPath';
import { buildCpuWorker } from './cpuWorkerBuild';
import { decodeFloats, encodeFloats, firstDifference, randomTensor, rng, safetensorsBytes, type TestTensor } from './models';

let workerUrl: URL;
let removeWorker: () => void;
let dir: string;
const opened: NodeCheckpoint[] = [];

const SHAPES: Record<string, number[]> = {
  'model.embed_tokens.weight': [37, 24],
  'model.layers.0.mlp.up_proj.weight': [65, 33],
  'model.layers.0.input_layernorm.weight': [33],
  'model.layers.1.mlp.up_proj.weight': [65, 33],
  'model.layers.1.input_layernorm.weight': [33],
  'model.norm.weight': [33],
};

/** base and three fine-tunes: small deltas, unchanged elements (ties at every magnitude select), specials. */
function writeFamily(dtype: 'BF16' | 'F32'): Record<string, string> {
  const names = Object.keys(SHAPES);
  const base = names.map((n, i) => randomTensor(n, dtype, SHAPES[n], 500 + i, { scale: 0.05 }));
  const models: Record<string, TestTensor[]> = { base };
  ['a', 'b', 'c'].forEach((name, k) => {
    models[name] = base.map((t, i) => {
      const r = rng(900 + 31 * k + i);
      const x = decodeFloats(t.dtype, t.data);
      const specials = [0, -0, 1e-40, 3.5, -4];
      for (let e = 0; e < x.length; e++) {
        const u = r();
        if (u < 0.15) continue;
        if (u < 0.17) x[e] = specials[Math.floor(r() * specials.length)];
        else x[e] += (r() + r() - 1) * 0.01 * (k + 1);
      }
      return { ...t, data: encodeFloats(dtype, x) };
    });
  });
  const paths: Record<string, string> = {};
  for (const [name, tensors] of Object.entries(models)) {
    paths[name] = join(dir, `${dtype}-${name}.safetensors`);
    writeFileSync(paths[name], safetensorsBytes(tensors));
  }
  return paths;
}

const W = (params: string) => `models:\n  - model: a\n    parameters: {weight: 0.6${params}}\n  - model: b\n    parameters: {weight: 0.3${params}}\n  - model: c\n    parameters: {weight: 0.45${params}}\n`;
const PLAIN = 'models:\n  - model: a\n  - model: b\n  - model: c\n';

/** One recipe per method (base_model: base where it takes one), every method of the registry. */
const RECIPES: Record<string, string> = {
  linear: W(''),
  task_arithmetic: `base_model: base\n${W('')}`,
  ties: `base_model: base\n${W(', density: 0.4')}parameters: {lambda: 0.9}\n`,
  dare_ties: `base_model: base\n${W(', density: 0.5')}parameters: {random_seed: 1234}\n`,
  dare_linear: `base_model: base\n${W(', density: 0.3')}parameters: {random_seed: 77}\n`,
  breadcrumbs: `base_model: base\n${W(', density: 0.8, gamma: 0.05')}`,
  breadcrumbs_ties: `base_model: base\n${W(', density: 0.5, gamma: 0.1')}`,
  della: `base_model: base\n${W(', density: 0.5, epsilon: 0.2')}parameters: {random_seed: 4242}\n`,
  della_linear: `base_model: base\n${W(', density: 0.4, epsilon: 0.1')}parameters: {random_seed: 9}\n`,
  sce: `base_model: base\n${PLAIN}parameters: {select_topk: 0.3}\n`,
  slerp: 'base_model: base\nmodels:\n  - model: base\n  - model: c\nparameters:\n  t: [0.2, 0.7]\n',
  nuslerp: 'base_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 2}\n',
  multislerp: `base_model: base\n${W('')}`,
  karcher: PLAIN,
  model_stock: `base_model: base\n${PLAIN}`,
  nearswap: 'base_model: base\nmodels:\n  - model: base\n  - model: b\nparameters: {t: 0.004}\n',
  ram: `base_model: base\n${PLAIN}parameters: {epsilon: 0.002}\n`,
  ramplus_tl: `base_model: base\n${PLAIN}parameters: {epsilon: 0.002, r: 0.5, alpha: 2}\n`,
  arcee_fusion: 'base_model: base\nmodels:\n  - model: base\n  - model: b\n',
  passthrough: 'models:\n  - model: b\n    parameters: {scale: 0.7}\n',
};

async function merge(method: string, paths: Record<string, string>, out: 'F32' | 'BF16', backend: SoupBackend, file: string): Promise<Uint8Array> {
  let yaml = `merge_method: ${method}\n${RECIPES[method]}out_dtype: ${out === 'F32' ? 'float32' : 'bfloat16'}\n`;
  for (const [name, path] of Object.entries(paths)) yaml = yaml.replace(new RegExp(`model: ${name}$`, 'gm'), `model: ${path}`);
  const { recipe } = parseRecipe(yaml);
  const checkpoints = new Map<string, Checkpoint>();
  for (const path of Object.values(paths)) {
    const c = await openCheckpointPath(path);
    opened.push(c);
    checkpoints.set(path, c);
  }
  const plan = planMerge(recipe, checkpoints);
  const target = join(dir, file);
  // 2 KiB jobs: every tensor streams in many chunks, and the workers' credit is a few chunks.
  await runMerge(plan, { backend, target: nodeFileTarget(target), maxShardBytes: Infinity, maxJobBytes: 2048 });
  return readFileSync(target);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-threaded-'));
  ({ url: workerUrl, remove: removeWorker } = await buildCpuWorker());
}, 120_000);

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
  removeWorker();
});

describe('method tensors on worker threads give the bytes of the single-threaded run', () => {
  test('the recipes below cover every registered method', () => {
    expect(Object.keys(RECIPES).sort()).toEqual([...METHOD_NAMES].sort());
  });

  for (const [dtype, out] of [['BF16', 'BF16'], ['F32', 'F32']] as const) {
    test(`every method, ${dtype} models → ${out}`, async () => {
      const paths = writeFamily(dtype);
      const single = createCpuSoupBackend({ workers: 1, spawn: inThreadSpawner });
      const pool = new ProgramPool(2, nodeProgramSpawner(workerUrl));
      const threaded = createCpuSoupBackend({ workers: 2, spawn: inThreadSpawner, programs: pool });
      try {
        for (const method of METHOD_NAMES) {
          const before = pool.tensorsStarted;
          const a = await merge(method, paths, out, single, `${method}-single.safetensors`);
          const b = await merge(method, paths, out, threaded, `${method}-threaded.safetensors`);
          expect(a.length, method).toBeGreaterThan(1000);
          expect(firstDifference(b, a), `${method}: threaded vs single-threaded`).toBeUndefined();
          // linear and task_arithmetic are soups, not programs; every other method ran on the workers.
          if (method !== 'linear' && method !== 'task_arithmetic') expect(pool.tensorsStarted - before, method).toBe(Object.keys(SHAPES).length);
        }
      } finally {
        await single.dispose();
        await threaded.dispose();
      }
    }, 240_000);
  }

  test('a cancelled merge stops the workers and leaves no output; the pool then runs the next merge', async () => {
    const paths = writeFamily('BF16');
    const pool = new ProgramPool(2, nodeProgramSpawner(workerUrl));
    const backend = createCpuSoupBackend({ workers: 2, spawn: inThreadSpawner, programs: pool });
    try {
      const yaml = `merge_method: ties\nbase_model: ${paths.base}\nmodels:\n  - model: ${paths.a}\n    parameters: {weight: 1, density: 0.5}\n  - model: ${paths.b}\n    parameters: {weight: 1, density: 0.5}\n`;
      const checkpoints = new Map<string, Checkpoint>();
      for (const path of [paths.base, paths.a, paths.b]) {
        const c = await openCheckpointPath(path);
        opened.push(c);
        checkpoints.set(path, c);
      }
      const plan = planMerge(parseRecipe(yaml).recipe, checkpoints);
      const controller = new AbortController();
      const target = join(dir, 'cancelled.safetensors');
      const run = runMerge(plan, {
        backend,
        target: nodeFileTarget(target),
        maxShardBytes: Infinity,
        maxJobBytes: 1024,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.tensorsDone >= 1) controller.abort();
        },
      });
      await expect(run).rejects.toBeInstanceOf(CancelledError);
      expect(() => readFileSync(target)).toThrow();
      const again = await runMerge(plan, { backend, target: nodeFileTarget(target), maxShardBytes: Infinity, maxJobBytes: 1024 });
      expect(again.tensors).toBe(Object.keys(SHAPES).length);
    } finally {
      await backend.dispose();
    }
  }, 120_000);
});
