import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CancelledError } from '../../src/errors';
import { requestAdapter } from '../../src/gpu/adapter';
import { createWebGPUSoupBackend } from '../../src/merge/gpu/webgpuSoupBackend';
import { DeviceLostError } from '../../src/gpu/errors';
import { nodeGPU } from '../../src/node/webgpu';
import type { Checkpoint } from '../../src/formats/checkpoint';
import { createCpuSoupBackend } from '../../src/merge/cpu/cpuBackend';
import { inThreadSpawner } from '../../src/merge/cpu/protocol';
import type { SoupBackend } from '../../src/merge/kernel';
import { planMerge, type MergePlan } from '../../src/merge/plan';
import { parseRecipe, recipeToYaml } from '../../src/merge/recipe';
import { runMerge, type MergeProgress } from '../../src/merge/runMerge';
import { nodeFileSource } from '../../src/node/fileSource';
import { nodeFileTarget, nodeFolderTarget } from '../../src/node/fileTargets';
import { openCheckpointPath, type NodeCheckpoint } from '../../src/node/openCheckpointPath';
import {
  decodeFloats,
  firstDifference,
  int64Tensor,
  randomTensor,
  readSafetensors,
  referenceSoup,
  writeModel,
  type TestTensor,
} from './models';

let dir: string;
const opened: NodeCheckpoint[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-runmerge-'));
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Two workers in-thread: the real CPU backend with its job splitting, without worker threads. */
function cpuBackend(maxChunkElements?: number): SoupBackend {
  return createCpuSoupBackend({ workers: 2, spawn: inThreadSpawner, maxChunkElements });
}

/** Three models of a small llama-like architecture; model k's float tensors use `dtypes[k]`. */
function makeModels(prefix: string, dtypes: ('F32' | 'F16' | 'BF16' | 'F64')[], opts: { specials?: boolean } = {}): TestTensor[][] {
  return dtypes.map((dt, k) => [
    randomTensor('model.embed_tokens.weight', dt, [37, 16], 100 + k, opts),
    ...[0, 1, 2].flatMap((layer) => [
      randomTensor(`model.layers.${layer}.self_attn.q_proj.weight`, dt, [16, 16], 1000 * k + 10 * layer + 1, opts),
      randomTensor(`model.layers.${layer}.mlp.up_proj.weight`, dt, [33, 16], 1000 * k + 10 * layer + 2, opts),
      randomTensor(`model.layers.${layer}.input_layernorm.weight`, dt, [16], 1000 * k + 10 * layer + 3, opts),
      randomTensor(`model.layers.${layer}.odd.weight`, dt, [7, 3], 1000 * k + 10 * layer + 4, opts), // 21 elements: odd tails
    ]),
    int64Tensor('model.num_batches_tracked', [], [BigInt(7 + k)]),
    randomTensor('model.norm.weight', dt, [16], 500 + k, opts),
    randomTensor('lm_head.weight', dt, [37, 16], 600 + k, opts),
  ]);
}

async function open(path: string): Promise<NodeCheckpoint> {
  const c = await openCheckpointPath(path);
  opened.push(c);
  return c;
}

async function planFor(yaml: string, paths: Record<string, string>): Promise<MergePlan> {
  const { recipe } = parseRecipe(yaml);
  const map = new Map<string, Checkpoint>();
  for (const [k, p] of Object.entries(paths)) map.set(k, await open(p));
  return planMerge(recipe, map);
}

/** Reads every tensor of an output (single file or sharded folder) with the test's own reader. */
function readOutput(path: string): { metadata: Record<string, string>; tensors: Map<string, TestTensor>; files: string[] } {
  if (path.endsWith('.safetensors')) return { ...readSafetensors(readFileSync(path)), files: [path] };
  const files = readdirSync(path).filter((f) => f.endsWith('.safetensors')).sort();
  const tensors = new Map<string, TestTensor>();
  let metadata: Record<string, string> = {};
  for (const f of files) {
    const r = readSafetensors(readFileSync(join(path, f)));
    metadata = r.metadata;
    for (const [k, v] of r.tensors) tensors.set(k, v);
  }
  return { metadata, tensors, files };
}

describe('runMerge on generated models', () => {
  test('linear soup of three models with mixed dtypes, sharded input, I64 copied, vs the independent reference', async () => {
    const models = makeModels('mixed', ['BF16', 'F16', 'F32'], { specials: true });
    const a = writeModel(join(dir, 'a.safetensors'), models[0]);
    const b = writeModel(join(dir, 'b-sharded'), models[1], { layout: 'sharded', shards: 3 });
    const c = writeModel(join(dir, 'c-folder'), models[2], { layout: 'folder' });
    const yaml = `merge_method: linear
models:
  - model: a
    parameters:
      weight: 0.5
  - model: b
    parameters:
      weight:
        - filter: mlp
          value: 2
        - value: 0.25
  - model: c
    parameters:
      weight: [1, 3]
`;
    const plan = await planFor(yaml, { a, b, c });
    const out = join(dir, 'linear-out.safetensors');
    const progress: MergeProgress[] = [];
    const result = await runMerge(plan, {
      backend: cpuBackend(256), // small jobs: many chunks per tensor, odd tails
      target: nodeFileTarget(out),
      recipeYaml: recipeToYaml(plan.recipe),
      maxShardBytes: Infinity,
      readBack: (name) => nodeFileSource(out, name),
      onProgress: (p) => progress.push(p),
      maxJobBytes: 4096,
    });
    expect(result.verified).toBe(true);
    const written = readOutput(out);
    expect(written.metadata.format).toBe('pt');
    expect(parseRecipe(written.metadata['souplab.recipe']).recipe.models.map((m) => m.model.path)).toEqual(['a', 'b', 'c']);
    // Output order and names are the first model's.
    expect([...written.tensors.keys()]).toEqual(models[0].map((t) => t.name));

    const layerT = (name: string) => {
      const m = /layers\.(\d+)\./.exec(name);
      if (m) return Number(m[1]) / 2;
      return 0; // embeddings, final norm and lm_head: mergekit plans them with t = 0
    };
    for (let i = 0; i < models[0].length; i++) {
      const name = models[0][i].name;
      const got = written.tensors.get(name)!;
      if (models[0][i].dtype === 'I64') {
        expect(got.dtype).toBe('I64');
        expect(got.data).toEqual(models[0][i].data); // copied from the first model, never averaged
        continue;
      }
      const t = layerT(name);
      const w = [0.5, name.includes('mlp') ? 2 : 0.25, 1 + 2 * t];
      const sum = w[0] + w[1] + w[2];
      const expected = referenceSoup('linear', w.map((x) => x / sum), [models[0][i], models[1][i], models[2][i]], 'BF16');
      expect(got.dtype).toBe('BF16'); // the first model's dtype
      expect(firstDifference(got.data, expected), name).toBeUndefined();
    }
    const last = progress[progress.length - 1];
    expect(last.tensorsDone).toBe(last.tensorsTotal);
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(progress.length).toBeGreaterThan(plan.steps.length); // several chunks per tensor were reported
    for (let k = 1; k < progress.length; k++) expect(progress[k].bytesDone).toBeGreaterThanOrEqual(progress[k - 1].bytesDone);
  });

  test('task arithmetic with λ and out_dtype into a sharded folder, F64 inputs decoded to f32', async () => {
    const models = makeModels('ta', ['F32', 'F64', 'BF16']);
    const base = writeModel(join(dir, 'ta-base.safetensors'), models[0]);
    const x = writeModel(join(dir, 'ta-x.safetensors'), models[1]);
    const y = writeModel(join(dir, 'ta-y'), models[2], { layout: 'sharded', shards: 2 });
    const yaml = `merge_method: task_arithmetic
base_model: base
models:
  - model: base
  - model: x
    parameters:
      weight: 0.7
  - model: y
    parameters:
      weight: -0.3
parameters:
  lambda: 1.5
out_dtype: float16
`;
    const plan = await planFor(yaml, { base, x, y });
    const out = join(dir, 'ta-out');
    const result = await runMerge(plan, {
      backend: cpuBackend(),
      target: nodeFolderTarget(out),
      maxShardBytes: 3000,
      readBack: (name) => nodeFileSource(join(out, name), name),
    });
    expect(result.verified).toBe(true);
    const written = readOutput(out);
    expect(written.files.length).toBeGreaterThan(1);
    expect(existsSync(join(out, 'model.safetensors.index.json'))).toBe(true);
    for (let i = 0; i < models[0].length; i++) {
      const name = models[0][i].name;
      const got = written.tensors.get(name)!;
      if (models[0][i].dtype === 'I64') {
        expect(got.data).toEqual(models[0][i].data);
        continue;
      }
      const expected = referenceSoup('delta', [0, 1.5 * 0.7, 1.5 * -0.3], [models[0][i], models[1][i], models[2][i]], 'F16');
      expect(got.dtype).toBe('F16');
      expect(firstDifference(got.data, expected), name).toBeUndefined();
    }
  });

  test('an F64 model keeps F64: computed in f64, so 1e200, 1e-200 and 0.1 survive', async () => {
    await expectF64Soup(cpuBackend(), 'f64cpu');
  });

  test('cancelling mid-way leaves nothing behind and the previous output untouched', async () => {
    const models = makeModels('cancel', ['BF16', 'BF16']);
    const p = writeModel(join(dir, 'cancel-a.safetensors'), models[0]);
    const q = writeModel(join(dir, 'cancel-b.safetensors'), models[1]);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });

    // Into a new folder: the folder itself must not remain.
    const out = join(dir, 'cancel-out');
    const controller = new AbortController();
    const run = runMerge(plan, {
      backend: cpuBackend(64),
      target: nodeFolderTarget(out),
      maxJobBytes: 1024,
      signal: controller.signal,
      onProgress: (pr) => {
        if (pr.tensorsDone === 3) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(existsSync(out)).toBe(false);

    // Over an existing file: it stays as it was, and no temporary is left beside it.
    const existing = join(dir, 'keep', 'merged.safetensors');
    writeModel(join(dir, 'keep'), [], { layout: 'folder' });
    writeFileSync(existing, 'previous content');
    const controller2 = new AbortController();
    const run2 = runMerge(plan, {
      backend: cpuBackend(64),
      target: nodeFileTarget(existing),
      maxShardBytes: Infinity,
      maxJobBytes: 1024,
      signal: controller2.signal,
      onProgress: (pr) => {
        if (pr.tensorsDone === 5) controller2.abort();
      },
    });
    await expect(run2).rejects.toBeInstanceOf(CancelledError);
    expect(readFileSync(existing, 'utf8')).toBe('previous content');
    expect(readdirSync(join(dir, 'keep')).sort()).toEqual(['merged.safetensors', 'model.safetensors']);
  });

  test('a backend failure mid-way aborts the output', async () => {
    const models = makeModels('fail', ['F32', 'F32']);
    const p = writeModel(join(dir, 'fail-a.safetensors'), models[0]);
    const q = writeModel(join(dir, 'fail-b.safetensors'), models[1]);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });
    const real = cpuBackend();
    let calls = 0;
    const failing: SoupBackend = {
      kind: 'cpu',
      description: 'fails on the fifth job',
      maxChunkElements: real.maxChunkElements,
      run: (job, signal) => (++calls === 5 ? Promise.reject(new Error('device fell over')) : real.run(job, signal)),
      dispose: () => real.dispose(),
    };
    const out = join(dir, 'fail-out');
    await expect(runMerge(plan, { backend: failing, target: nodeFolderTarget(out) })).rejects.toThrow('device fell over');
    expect(existsSync(out)).toBe(false);
  });

  test('extra files are written with the model; the index and every header re-read', async () => {
    const models = makeModels('extra', ['BF16', 'BF16']);
    const p = writeModel(join(dir, 'extra-a'), models[0], { layout: 'folder', extraFiles: { 'config.json': '{"torch_dtype":"bfloat16"}' } });
    const q = writeModel(join(dir, 'extra-b.safetensors'), models[1]);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });
    const out = join(dir, 'extra-out');
    const reads: string[] = [];
    const result = await runMerge(plan, {
      backend: cpuBackend(),
      target: nodeFolderTarget(out),
      maxShardBytes: 2000,
      extraFiles: [
        { name: 'recipe.yaml', data: new TextEncoder().encode('merge_method: linear\n') },
        { name: 'config.json', data: plan.reference.checkpoint.extraFiles.get('config.json')! },
      ],
      readBack: (name) => {
        reads.push(name);
        return nodeFileSource(join(out, name), name);
      },
    });
    expect(result.verified).toBe(true);
    expect(reads.sort()).toEqual(result.files.sort());
    expect(readFileSync(join(out, 'recipe.yaml'), 'utf8')).toBe('merge_method: linear\n');
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe('{"torch_dtype":"bfloat16"}');
  });

  test('an output replaced by another process before it is checked: said so, not "no such file"', async () => {
    const models = makeModels('raced', ['F32', 'F32']);
    const p = writeModel(join(dir, 'raced-a.safetensors'), models[0]);
    const q = writeModel(join(dir, 'raced-b.safetensors'), models[1]);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });
    const out = join(dir, 'raced-out');
    // What a concurrent merge's commit does to this one's shard between its commit and its check.
    const readBack = (n: string) => {
      rmSync(join(out, n), { force: true });
      return nodeFileSource(join(out, n), n);
    };
    await expect(runMerge(plan, { backend: cpuBackend(), target: nodeFolderTarget(out), readBack })).rejects.toThrow(
      /^model\.safetensors: the output was replaced by another process before it could be checked \(.*no such file or folder\); is another merge writing to the same place\?$/,
    );
  });

  test('verification catches an output that does not match the plan', async () => {
    const models = makeModels('verify', ['F32', 'F32']);
    const p = writeModel(join(dir, 'verify-a.safetensors'), models[0]);
    const q = writeModel(join(dir, 'verify-b.safetensors'), models[1]);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });
    const out = join(dir, 'verify-out.safetensors');
    // readBack hands back another file (the first input): its header lacks the recipe and differs.
    await expect(
      runMerge(plan, { backend: cpuBackend(), target: nodeFileTarget(out), maxShardBytes: Infinity, recipeYaml: 'x', readBack: () => nodeFileSource(p) }),
    ).rejects.toThrow(/was not written as planned/);
  });
});

/** Values f32 cannot hold: overflow, underflow, digits past f32's, the smallest subnormal, NaN. */
const F64_VALUES = [
  [1e200, 1e-200, 0.1, -2.5e300, 5e-324, 1 / 3, NaN, 123456789.12345679],
  [3e200, 3e-200, 0.7, 1e300, 0, 2 / 3, 1, -0.000001],
];

/**
 * Linear (weights 1 and 2) and task arithmetic (λ 0.5) over two F64 models and an F32 one: the F64
 * output must be the mergekit arithmetic in f64, worked out here from the values themselves.
 */
async function expectF64Soup(backend: SoupBackend, prefix: string): Promise<void> {
  const f64 = (vs: number[]) => new Uint8Array(Float64Array.from(vs).buffer);
  const [a, b] = F64_VALUES;
  const pa = writeModel(join(dir, `${prefix}-a.safetensors`), [{ name: 'w', dtype: 'F64', shape: [8], data: f64(a) }]);
  const pb = writeModel(join(dir, `${prefix}-b.safetensors`), [{ name: 'w', dtype: 'F64', shape: [8], data: f64(b) }]);
  const c = [0.5, 0.25, 1, -1, 2, 0.125, 4, 8];
  const pc = writeModel(join(dir, `${prefix}-c.safetensors`), [{ name: 'w', dtype: 'F32', shape: [8], data: new Uint8Array(Float32Array.from(c).buffer) }]);
  const cases: [string, number[]][] = [
    ['merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 2}\n', a.map((x, i) => (1 / 3) * x + (2 / 3) * b[i])],
    [
      'merge_method: task_arithmetic\nbase_model: a\nparameters: {lambda: 0.5}\nmodels:\n  - model: b\n  - model: c\n',
      a.map((x, i) => x + 0.5 * (b[i] - x) + 0.5 * (c[i] - x)),
    ],
  ];
  for (const [k, [yaml, expected]] of cases.entries()) {
    const plan = await planFor(yaml, { a: pa, b: pb, c: pc });
    const out = join(dir, `${prefix}-out-${k}.safetensors`);
    await runMerge(plan, { backend, target: nodeFileTarget(out), maxShardBytes: Infinity, readBack: (n) => nodeFileSource(out, n) });
    const got = readOutput(out).tensors.get('w')!;
    expect(got.dtype).toBe('F64');
    const values = Array.from(new Float64Array(got.data.slice().buffer));
    expect(values, yaml).toEqual(expected);
    expect(values[0]).not.toBe(Infinity);
  }
}

describe('runMerge on WebGPU (Dawn; SwiftShader without a GPU)', () => {
  test('an F64 output is computed in f64 on the host, not in the f32 kernel', async () => {
    const gpu = await createWebGPUSoupBackend(await requestAdapter(await nodeGPU()));
    try {
      await expectF64Soup(gpu, 'f64gpu');
    } finally {
      await gpu.dispose();
    }
  });

  test('task arithmetic with NaN, ±Inf, subnormals: within 1 ulp of the reference, ≥ 99.9 % identical', async () => {
    const adapter = await requestAdapter(await nodeGPU());
    const gpu = await createWebGPUSoupBackend(adapter);
    try {
      const models = makeModels('gpu', ['BF16', 'F16', 'F32'], { specials: true });
      const paths = models.map((m, k) => writeModel(join(dir, `gpu-${k}.safetensors`), m));
      const plan = await planFor(
        'merge_method: task_arithmetic\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 0.6}\n  - model: c\n    parameters: {weight: [0.2, 1]}\nparameters:\n  lambda: 0.9\n',
        { a: paths[0], b: paths[1], c: paths[2] },
      );
      const out = join(dir, 'gpu-out.safetensors');
      const result = await runMerge(plan, { backend: gpu, target: nodeFileTarget(out), maxShardBytes: Infinity, readBack: (n) => nodeFileSource(out, n), maxJobBytes: 2048 });
      expect(result.verified).toBe(true);
      const written = readOutput(out);
      let total = 0;
      let same = 0;
      for (const step of plan.steps) {
        const got = written.tensors.get(step.name)!;
        if (step.kind !== 'soup') {
          expect(got.data).toEqual(models[0].find((t) => t.name === step.name)!.data);
          continue;
        }
        const i = models[0].findIndex((t) => t.name === step.name);
        const expected = referenceSoup('delta', Array.from(step.coefficients), [models[0][i], models[1][i], models[2][i]], 'BF16');
        const a = new Uint16Array(got.data.buffer, got.data.byteOffset, got.data.length / 2);
        const b = new Uint16Array(expected.buffer);
        for (let e = 0; e < a.length; e++) {
          total++;
          if (a[e] === b[e]) same++;
          else expect(Math.abs(a[e] - b[e]), `${step.name}[${e}]: ${a[e].toString(16)} vs ${b[e].toString(16)}`).toBeLessThanOrEqual(1);
        }
      }
      expect(same / total).toBeGreaterThanOrEqual(0.999);
    } finally {
      await gpu.dispose();
    }
  });

  test('the device lost mid-merge: DeviceLostError, and neither a new output nor a change to an existing one', async () => {
    const adapter = await requestAdapter(await nodeGPU());
    const gpu = await createWebGPUSoupBackend(adapter);
    try {
      const models = makeModels('lost', ['BF16', 'BF16']);
      const p = writeModel(join(dir, 'lost-a.safetensors'), models[0]);
      const q = writeModel(join(dir, 'lost-b.safetensors'), models[1]);
      const plan = await planFor('merge_method: linear\nmodels:\n  - model: p\n  - model: q\n', { p, q });
      const existing = join(dir, 'lost-keep.safetensors');
      writeFileSync(existing, 'previous content');
      let destroyed = false;
      const run = runMerge(plan, {
        backend: gpu,
        target: nodeFileTarget(existing),
        maxShardBytes: Infinity,
        maxJobBytes: 2048,
        onProgress: (pr) => {
          // As a driver reset would: the device goes away while chunks are in flight.
          if (pr.tensorsDone >= 2 && !destroyed) {
            destroyed = true;
            gpu.gpuDevice.destroy();
          }
        },
      });
      await expect(run).rejects.toBeInstanceOf(DeviceLostError);
      expect(destroyed).toBe(true);
      expect(readFileSync(existing, 'utf8')).toBe('previous content');
      expect(readdirSync(dir).filter((f) => f.includes('lost-keep'))).toEqual(['lost-keep.safetensors']);
    } finally {
      await gpu.dispose();
    }
  });
});

describe('runMerge on the shared fixtures', () => {
  const fixtures = join(__dirname, '../../../shared/fixtures');

  test('burn_mnist: its F32 tensors are merged with a BF16 variant, the I64 scalars copied', async () => {
    const original = readSafetensors(readFileSync(join(fixtures, 'burn_mnist.safetensors')));
    // A derived BF16 variant (values × 0.5, rounded to nearest even), written by the test.
    const variant: TestTensor[] = [...original.tensors.values()].map((t) =>
      t.dtype === 'F32' ? { ...t, dtype: 'BF16', data: encodeHalf(decodeFloats('F32', t.data)) } : t,
    );
    const v = writeModel(join(dir, 'mnist-bf16.safetensors'), variant);
    const plan = await planFor('merge_method: linear\nmodels:\n  - model: m\n    parameters: {weight: 3}\n  - model: v\n    parameters: {weight: 1}\n', {
      m: join(fixtures, 'burn_mnist.safetensors'),
      v,
    });
    expect(plan.steps.filter((s) => s.kind === 'copy').map((s) => s.name).length).toBe(2);
    const out = join(dir, 'mnist-out.safetensors');
    await runMerge(plan, { backend: cpuBackend(), target: nodeFileTarget(out), maxShardBytes: Infinity });
    const written = readOutput(out);
    let merged = 0;
    for (const [name, t] of original.tensors) {
      const got = written.tensors.get(name)!;
      if (t.dtype === 'I64') {
        expect(got.dtype).toBe('I64');
        expect(got.shape).toEqual([]);
        expect(got.data).toEqual(t.data);
        continue;
      }
      const expected = referenceSoup('linear', [0.75, 0.25], [t, variant.find((x) => x.name === name)!], 'F32');
      expect(firstDifference(got.data, expected), name).toBeUndefined();
      merged++;
    }
    expect(merged).toBe(18);
  });

  test('minicpm3: task arithmetic of the fixture with two derived fine-tunes', async () => {
    const base = readSafetensors(readFileSync(join(fixtures, 'ollama_minicpm3_testdata.safetensors')));
    const tune = (seed: number): TestTensor[] =>
      [...base.tensors.values()].map((t) => {
        const xs = decodeFloats('F32', t.data);
        const noise = randomTensor('n', 'F32', [xs.length], seed, { scale: 0.01 });
        const nz = decodeFloats('F32', noise.data);
        return { ...t, data: new Uint8Array(Float32Array.from(xs, (x, i) => x + nz[i]).buffer) };
      });
    const t1 = tune(1);
    const t2 = tune(2);
    const plan = await planFor(
      'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: t1\n    parameters: {weight: 1}\n  - model: t2\n    parameters: {weight: 1}\nparameters:\n  normalize: true\n  lambda: 0.8\ndtype: bfloat16\n',
      {
        base: join(fixtures, 'ollama_minicpm3_testdata.safetensors'),
        t1: writeModel(join(dir, 'cpm-t1.safetensors'), t1),
        t2: writeModel(join(dir, 'cpm-t2.safetensors'), t2),
      },
    );
    const out = join(dir, 'cpm-out.safetensors');
    await runMerge(plan, { backend: cpuBackend(), target: nodeFileTarget(out), maxShardBytes: Infinity });
    const written = readOutput(out);
    expect(written.tensors.size).toBe(15);
    const names = [...base.tensors.keys()];
    names.forEach((name, i) => {
      const expected = referenceSoup('delta', [0, 0.4, 0.4], [base.tensors.get(name)!, t1[i], t2[i]], 'BF16');
      expect(firstDifference(written.tensors.get(name)!.data, expected), name).toBeUndefined();
    });
  });
});

function encodeHalf(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  values.forEach((x, i) => {
    f[0] = x * 0.5;
    const bits = u[0];
    const r = (bits & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
    view.setUint16(i * 2, r, true);
  });
  return out;
}
