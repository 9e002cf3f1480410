/**
 * `souplab merge --backend webgpu` runs every kind of registry method (GPU statistics and kernels where
 * they exist, the CPU's code otherwise) and writes what `--backend cpu` writes, within 1 ulp of BF16
 * and ≥ 99.9 % identical.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareOutputs } from '../merge/gpu/soupCompare';
import { randomTensor, readSafetensors, writeModel, type TestTensor } from '../merge/models';
import { cli } from '../support/cliInProcess';

let dir: string;

function model(seed: number): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [64, 32], seed),
    randomTensor('model.layers.0.self_attn.q_proj.weight', 'BF16', [32, 32], seed + 1),
    randomTensor('model.layers.0.mlp.up_proj.weight', 'BF16', [96, 32], seed + 2),
    randomTensor('model.layers.1.mlp.up_proj.weight', 'BF16', [96, 32], seed + 3),
    randomTensor('model.norm.weight', 'BF16', [32], seed + 4),
  ];
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-methods-gpu-'));
  for (const [k, seed] of [['a', 10], ['b', 20], ['c', 30]] as const) writeModel(join(dir, `model-${k}.safetensors`), model(seed));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RECIPES: Record<string, string> = {
  ties: 'merge_method: ties\nbase_model: ./model-a.safetensors\nmodels:\n  - model: ./model-b.safetensors\n    parameters:\n      weight: 1\n      density: 0.4\n  - model: ./model-c.safetensors\n    parameters:\n      weight: 0.5\n      density: 0.7\ndtype: bfloat16\n',
  dare_ties: 'merge_method: dare_ties\nbase_model: ./model-a.safetensors\nmodels:\n  - model: ./model-b.safetensors\n    parameters:\n      weight: 1\n      density: 0.5\n  - model: ./model-c.safetensors\n    parameters:\n      weight: 0.5\n      density: 0.5\nparameters:\n  random_seed: 7\ndtype: bfloat16\n',
  slerp: 'merge_method: slerp\nbase_model: ./model-a.safetensors\nmodels:\n  - model: ./model-a.safetensors\n  - model: ./model-b.safetensors\nparameters:\n  t: [0, 0.5, 1]\ndtype: bfloat16\n',
  della: 'merge_method: della\nbase_model: ./model-a.safetensors\nmodels:\n  - model: ./model-b.safetensors\n    parameters:\n      weight: 1\n      density: 0.5\n      epsilon: 0.1\nparameters:\n  random_seed: 3\ndtype: bfloat16\n',
};

describe('souplab merge --backend webgpu, registry methods', () => {
  for (const [method, yaml] of Object.entries(RECIPES)) {
    test(`${method}: the WebGPU output is the CPU output within 1 ulp, ≥ 99.9 % identical`, async () => {
      const recipe = join(dir, `${method}.yaml`);
      writeFileSync(recipe, yaml);
      const outs: Record<string, Map<string, TestTensor>> = {};
      for (const backend of ['cpu', 'webgpu']) {
        const out = join(dir, `${method}-${backend}.safetensors`);
        const r = await cli(['merge', recipe, '--out', out, '--backend', backend]);
        expect(r.code, r.stderr).toBe(0);
        if (backend === 'webgpu') expect(r.stdout).toMatch(/backend {3}WebGPU/);
        outs[backend] = readSafetensors(readFileSync(out)).tensors;
      }
      let total = 0;
      let identical = 0;
      for (const [name, cpu] of outs.cpu) {
        const gpu = outs.webgpu.get(name)!;
        expect(gpu.dtype).toBe(cpu.dtype);
        const r = compareOutputs('BF16', gpu.data, cpu.data);
        expect(r.withinOneUlp + r.flushedSubnormals, `${name}: ${JSON.stringify(r.worst)}`).toBe(r.elements);
        total += r.elements;
        identical += r.identical;
      }
      expect(identical / total).toBeGreaterThanOrEqual(0.999);
    }, 240_000); // SwiftShader compiles the statistics kernels slowly on a busy machine
  }
});
