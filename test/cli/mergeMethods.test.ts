/**
 * `souplab merge` end to end with the registry methods: ties (sharded base, folder output with
 * recipe.yaml), slerp with a layer gradient, dare_ties (a seed drawn, recorded, and the recorded recipe
 * reproducing the bits), model_stock, and vocabulary differences handled as mergekit does. Outputs
 * are checked against the independent reference of mergekit's arithmetic (test/merge/methodReference.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseRecipe } from '../../src/merge/recipe';
import * as ref from '../merge/methodReference';
import { decodeFloats, encodeFloats, int64Tensor, randomTensor, readSafetensors, writeModel, type TestTensor } from '../merge/models';
import { cli } from '../support/cliInProcess';

let dir: string;

function base(seed: number, vocab = 30): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', 'BF16', [vocab, 8], seed),
    randomTensor('model.layers.0.mlp.up_proj.weight', 'BF16', [24, 8], seed + 1),
    randomTensor('model.layers.1.mlp.up_proj.weight', 'BF16', [24, 8], seed + 2),
    int64Tensor('model.counter', [], [7n]),
    randomTensor('model.norm.weight', 'BF16', [8], seed + 3),
  ];
}

/** A fine-tune: the base plus seeded noise (and, for a larger vocabulary, extra embedding rows). */
function fineTune(b: TestTensor[], seed: number, vocab?: number): TestTensor[] {
  return b.map((t, i) => {
    if (t.dtype !== 'BF16') return t;
    const x = decodeFloats('BF16', t.data);
    const noise = decodeFloats('BF16', randomTensor('n', 'BF16', t.shape, seed + i, { scale: 0.05 }).data);
    let y = x.map((v, e) => v + noise[e]);
    let shape = t.shape;
    if (vocab !== undefined && t.name.includes('embed')) {
      const extra = decodeFloats('BF16', randomTensor('e', 'BF16', [vocab - t.shape[0], t.shape[1]], seed + 99).data);
      y = Float32Array.from([...y, ...extra]);
      shape = [vocab, t.shape[1]];
    }
    return { ...t, shape, data: encodeFloats('BF16', y) };
  });
}

const BASE = base(1);
const A = fineTune(BASE, 10);
const B = fineTune(BASE, 20);
const BIG = fineTune(BASE, 30, 34);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'souplab-cli-methods-'));
  writeModel(join(dir, 'base'), BASE, { layout: 'sharded', shards: 2, extraFiles: { 'config.json': '{"model_type": "llama", "torch_dtype": "bfloat16", "num_hidden_layers": 2}' } });
  writeModel(join(dir, 'a.safetensors'), A);
  writeModel(join(dir, 'b.safetensors'), B);
  writeModel(join(dir, 'big.safetensors'), BIG);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function merge(name: string, recipe: string, out: string) {
  writeFileSync(join(dir, name), recipe);
  const r = await cli(['merge', join(dir, name), '--out', join(dir, out), '--backend', 'cpu']);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('error'))).toEqual([]);
  expect(r.code).toBe(0);
  return r;
}

const f32 = (t: TestTensor) => decodeFloats(t.dtype, t.data);
const bf16Bits = (v: Float32Array) => encodeFloats('BF16', v);

function expectBits(got: TestTensor, expected: Float32Array, name: string) {
  expect(got.dtype).toBe('BF16');
  expect(Buffer.from(got.data).equals(Buffer.from(bf16Bits(expected))), name).toBe(true);
}

/** Every tensor of `expected` is in `got` with the same bytes. */
function expectSameBits(got: Map<string, TestTensor>, expected: Map<string, TestTensor>) {
  for (const [name, t] of expected) expect(Buffer.from(got.get(name)!.data).equals(Buffer.from(t.data)), name).toBe(true);
}

describe('souplab merge with the registry methods', () => {
  test('ties into a folder: the reference bits, recipe.yaml that parses, config carried', async () => {
    const r = await merge('ties.yaml', 'merge_method: ties\nbase_model: base\nmodels:\n  - model: a.safetensors\n    parameters: {weight: 0.7, density: 0.5}\n  - model: b.safetensors\n    parameters: {weight: 0.3, density: 0.5}\nparameters: {lambda: 1.1}\ndtype: bfloat16\n', 'ties-out');
    expect(r.stdout).toContain('(ties)');
    const out = readSafetensors(readFileSync(join(dir, 'ties-out', 'model.safetensors')));
    for (let i = 0; i < BASE.length; i++) {
      const t = BASE[i];
      if (t.dtype !== 'BF16') {
        expect(out.tensors.get(t.name)!.data).toEqual(t.data);
        continue;
      }
      const expected = ref.taskArithmeticFamily(f32(t), [f32(A[i]), f32(B[i])], { consensus: true, sparsify: 'magnitude', normalize: true, rescale: false, lambda: 1.1, weights: [0.7, 0.3], densities: [0.5, 0.5] });
      expectBits(out.tensors.get(t.name)!, expected, t.name);
    }
    const stored = readFileSync(join(dir, 'ties-out', 'recipe.yaml'), 'utf8');
    expect(stored).toContain('merge_method: ties');
    expect(stored).toContain('dtype: bfloat16');
    expect(parseRecipe(stored).recipe.models.map((m) => m.model.path)).toEqual(['a.safetensors', 'b.safetensors']);
    expect(readFileSync(join(dir, 'ties-out', 'config.json'), 'utf8')).toContain('llama');
  });

  test('slerp with a gradient over the layers (t = 0 for tensors outside them, as mergekit)', async () => {
    await merge('slerp.yaml', 'merge_method: slerp\nbase_model: base\nmodels:\n  - model: base\n  - model: a.safetensors\nparameters:\n  t: [0.1, 0.9]\n', 'slerp.safetensors');
    const out = readSafetensors(readFileSync(join(dir, 'slerp.safetensors')));
    for (let i = 0; i < BASE.length; i++) {
      const t = BASE[i];
      if (t.dtype !== 'BF16') continue;
      const tt = t.name.includes('layers.1.') ? 0.9 : 0.1;
      expectBits(out.tensors.get(t.name)!, ref.slerp(tt, f32(t), f32(A[i])), t.name);
    }
  });

  test('dare_ties: a drawn seed is recorded; the recorded recipe reproduces the bits', async () => {
    const r = await merge('dare.yaml', 'merge_method: dare_ties\nbase_model: base\nmodels:\n  - model: a.safetensors\n    parameters: {weight: 1, density: 0.4}\n  - model: b.safetensors\n    parameters: {weight: 1, density: 0.4}\n', 'dare.safetensors');
    const seed = /seed\s+(\d+)/.exec(r.stdout)?.[1];
    expect(seed).toBeDefined();
    const first = readSafetensors(readFileSync(join(dir, 'dare.safetensors')));
    expect(first.metadata['souplab.random_seed']).toBe(seed);
    const recorded = first.metadata['souplab.recipe'];
    expect(parseRecipe(recorded).recipe.parameters.random_seed).toMatchObject({ value: Number(seed) });
    await merge('dare-again.yaml', recorded, 'dare-again.safetensors');
    const again = readSafetensors(readFileSync(join(dir, 'dare-again.safetensors')));
    expectSameBits(again.tensors, first.tensors);
  });

  test('model_stock and a larger vocabulary: rows beyond the base are left out, with a warning', async () => {
    const r = await merge('stock.yaml', 'merge_method: model_stock\nbase_model: base\nmodels:\n  - model: a.safetensors\n  - model: big.safetensors\n', 'stock.safetensors');
    expect(r.stderr).toMatch(/warning: big\.safetensors: vocabulary size 34 differs from base's 30 .*only the first rows every model has are merged/);
    const out = readSafetensors(readFileSync(join(dir, 'stock.safetensors')));
    const emb = out.tensors.get('model.embed_tokens.weight')!;
    expect(emb.shape).toEqual([30, 8]);
    const rows = 30 * 8;
    expectBits(emb, ref.modelStock(f32(BASE[0]), [f32(A[0]), f32(BIG[0]).subarray(0, rows)]), 'embed');
  });

  test('ties with a larger vocabulary: cut to the base rows (get_task_vectors); a smaller one is refused', async () => {
    await merge('ties-big.yaml', 'merge_method: ties\nbase_model: base\nmodels:\n  - model: big.safetensors\n    parameters: {weight: 1, density: 0.6}\n  - model: a.safetensors\n    parameters: {weight: 1, density: 0.6}\n', 'ties-big.safetensors');
    const out = readSafetensors(readFileSync(join(dir, 'ties-big.safetensors')));
    expect(out.tensors.get('model.embed_tokens.weight')!.shape).toEqual([30, 8]);
    writeFileSync(join(dir, 'ties-small.yaml'), 'merge_method: ties\nbase_model: big.safetensors\nmodels:\n  - model: a.safetensors\n    parameters: {weight: 1}\n');
    const r = await cli(['merge', join(dir, 'ties-small.yaml'), '--out', join(dir, 'never.safetensors'), '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a.safetensors: vocabulary size 30 differs from big.safetensors\'s 34');
  });

  test('passthrough with slices: a frankenmerge of layer ranges, renumbered, num_hidden_layers set', async () => {
    const recipe = 'merge_method: passthrough\nslices:\n  - sources:\n      - model: base\n        layer_range: [0, 2]\n  - sources:\n      - model: a.safetensors\n        layer_range: [1, 2]\n        parameters: {scale: 0.5}\n';
    await merge('franken.yaml', recipe, 'franken-out');
    const out = readSafetensors(readFileSync(join(dir, 'franken-out', 'model.safetensors')));
    expect([...out.tensors.keys()]).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.1.mlp.up_proj.weight',
      'model.layers.2.mlp.up_proj.weight',
      'model.counter',
      'model.norm.weight',
    ]);
    const byName = (ts: TestTensor[], n: string) => ts.find((t) => t.name === n)!;
    expect(out.tensors.get('model.layers.1.mlp.up_proj.weight')!.data).toEqual(byName(BASE, 'model.layers.1.mlp.up_proj.weight').data);
    // layer 2 is a's layer 1 times its scale; the final norm comes from the last slice's source (a), scaled too
    expectBits(out.tensors.get('model.layers.2.mlp.up_proj.weight')!, ref.passthroughScaled(f32(byName(A, 'model.layers.1.mlp.up_proj.weight')), 0.5), 'layer 2');
    expectBits(out.tensors.get('model.norm.weight')!, ref.passthroughScaled(f32(byName(A, 'model.norm.weight')), 0.5), 'norm');
    expect(out.tensors.get('model.embed_tokens.weight')!.data).toEqual(byName(BASE, 'model.embed_tokens.weight').data);
    expect(JSON.parse(readFileSync(join(dir, 'franken-out', 'config.json'), 'utf8')).num_hidden_layers).toBe(3);
    const stored = readFileSync(join(dir, 'franken-out', 'recipe.yaml'), 'utf8');
    expect(stored).toContain('layer_range: [1, 2]');
    expect(parseRecipe(stored).recipe.slices?.map((sl) => sl.sources[0].layerRange)).toEqual([[0, 2], [1, 2]]);
  });

  test('slices with two sources merge them (slerp), as the models form would', async () => {
    await merge('slerp-slices.yaml', 'merge_method: slerp\nbase_model: base\nslices:\n  - sources:\n      - model: base\n        layer_range: [0, 2]\n      - model: a.safetensors\n        layer_range: [0, 2]\nparameters:\n  t: [0.1, 0.9]\n', 'slerp-slices.safetensors');
    const a = readSafetensors(readFileSync(join(dir, 'slerp-slices.safetensors')));
    const b = readSafetensors(readFileSync(join(dir, 'slerp.safetensors')));
    expectSameBits(a.tensors, b.tensors);
  });

  test('a slice whose sources differ in length names its line', async () => {
    writeFileSync(join(dir, 'bad-slices.yaml'), 'merge_method: linear\nslices:\n  - sources:\n      - model: base\n        layer_range: [0, 2]\n      - model: a.safetensors\n        layer_range: [0, 1]\n');
    const r = await cli(['merge', join(dir, 'bad-slices.yaml'), '--out', join(dir, 'never.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad-slices.yaml line 3: the sources of a slice must span the same number of layers, got 2, 1');
  });

  test('a parameter slerp does not take names its line and what slerp reads', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'merge_method: slerp\nbase_model: base\nmodels:\n  - model: a.safetensors\n    parameters:\n      tt: 0.5\nparameters: {t: 0.5}\n');
    const r = await cli(['merge', join(dir, 'bad.yaml'), '--out', join(dir, 'never.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`souplab merge: ${join(dir, 'bad.yaml')} line 6: unknown parameter 'tt' for slerp (slerp reads t)\n`);
  });
});
