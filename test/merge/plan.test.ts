import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors';
import { openCheckpoint, type Checkpoint } from '../../src/formats/checkpoint';
import { bytesSource } from '../../src/formats/memorySource';
import { evaluateSetting, layerCountOf, layerIndexOf, layerPositionOf, resolveParameter, type ParameterSetting } from '../../src/merge/params';
import { modelRefsOf, planMerge, type SoupStep } from '../../src/merge/plan';
import { PreflightError } from '../../src/merge/preflight';
import { parseRecipe } from '../../src/merge/recipe';
import { int64Tensor, randomTensor, safetensorsBytes, type TestTensor } from './models';

type FloatName = 'F64' | 'F32' | 'F16' | 'BF16';

function tensors(dtype: FloatName, layers = 5): TestTensor[] {
  return [
    randomTensor('model.embed_tokens.weight', dtype, [10, 4], 1),
    ...Array.from({ length: layers }, (_, i) => [
      randomTensor(`model.layers.${i}.self_attn.o_proj.weight`, dtype, [4, 4], 10 + i),
      randomTensor(`model.layers.${i}.mlp.down_proj.weight`, dtype, [4, 8], 20 + i),
    ]).flat(),
    int64Tensor('model.steps', [], [3n]),
    randomTensor('model.norm.weight', dtype, [4], 2),
    randomTensor('lm_head.weight', dtype, [10, 4], 3),
  ];
}

async function ckpt(name: string, ts: TestTensor[]): Promise<Checkpoint> {
  return openCheckpoint(bytesSource(safetensorsBytes(ts), name));
}

async function plan(yaml: string, models: Record<string, TestTensor[]>) {
  const { recipe } = parseRecipe(yaml);
  const map = new Map<string, Checkpoint>();
  for (const [k, ts] of Object.entries(models)) map.set(k, await ckpt(`${k}.safetensors`, ts));
  return planMerge(recipe, map);
}

const soup = (p: Awaited<ReturnType<typeof plan>>, name: string) => p.steps.find((s) => s.name === name) as SoupStep;
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

describe('params', () => {
  test('layer indices and positions, as mergekit assigns t', () => {
    expect(layerIndexOf('model.layers.12.mlp.up_proj.weight')).toBe(12);
    expect(layerIndexOf('transformer.h.3.attn.c_attn.weight')).toBe(3);
    expect(layerIndexOf('model.norm.weight')).toBeUndefined();
    expect(layerIndexOf('model.layers_norm.1.weight')).toBeUndefined();
    expect(layerCountOf(['model.layers.0.a', 'model.layers.4.b', 'lm_head.weight'])).toBe(5);
    expect(layerPositionOf('model.layers.0.a', 5)).toBe(0);
    expect(layerPositionOf('model.layers.2.a', 5)).toBe(0.5);
    expect(layerPositionOf('model.layers.4.a', 5)).toBe(1);
    expect(layerPositionOf('model.layers.0.a', 1)).toBe(1); // one layer: t = 1, as in mergekit
    expect(layerPositionOf('model.embed_tokens.weight', 5)).toBe(0); // before the layers
    expect(layerPositionOf('transformer.wte.weight', 5)).toBe(0);
    // After them: mergekit plans post-weights with t = 0 too (plan.py, plan_module's ConfigReader(t=0)).
    expect(layerPositionOf('model.norm.weight', 5)).toBe(0);
    expect(layerPositionOf('lm_head.weight', 5)).toBe(0);
    expect(layerPositionOf('conv1.weight', 0)).toBe(0); // no layers at all
  });

  test('gradients interpolate linearly; filters take the first match; "*" matches all', () => {
    const g: ParameterSetting = { kind: 'value', value: [0, 1, 0.5] };
    expect(evaluateSetting(g, 'x', 0)).toBe(0);
    expect(evaluateSetting(g, 'x', 0.25)).toBe(0.5);
    expect(evaluateSetting(g, 'x', 0.5)).toBe(1);
    expect(evaluateSetting(g, 'x', 0.75)).toBe(0.75);
    expect(evaluateSetting(g, 'x', 1)).toBe(0.5);
    const c: ParameterSetting = { kind: 'conditional', entries: [{ filter: 'mlp', value: 1 }, { filter: 'mlp.down', value: 2 }, { filter: '*', value: 3 }] };
    expect(evaluateSetting(c, 'a.mlp.down_proj', 0)).toBe(1);
    expect(evaluateSetting(c, 'a.attn', 0)).toBe(3);
  });

  test('precedence: the model setting, then the recipe-wide one; unmatched filters fall through', () => {
    const model = { weight: { kind: 'conditional', entries: [{ filter: 'mlp', value: 9 }] } as ParameterSetting };
    const global = { weight: { kind: 'value', value: 4 } as ParameterSetting };
    expect(resolveParameter('weight', 'x.mlp.y', 0, [model, global])).toBe(9);
    expect(resolveParameter('weight', 'x.attn.y', 0, [model, global])).toBe(4);
    expect(resolveParameter('weight', 'x.attn.y', 0, [model, undefined])).toBeUndefined();
  });
});

describe('planMerge', () => {
  test('linear: normalised weights, f64 then one rounding to f32; output order and dtype from the first model', async () => {
    const p = await plan('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.1}\n  - model: b\n    parameters: {weight: 0.2}\n  - model: c\n    parameters: {weight: 0.3}\n', {
      a: tensors('BF16'),
      b: tensors('F16'),
      c: tensors('F32'),
    });
    const s = soup(p, 'model.layers.1.mlp.down_proj.weight');
    expect(s.mode).toBe('linear');
    expect(Array.from(s.coefficients)).toEqual(f32([0.1 / 0.6, 0.2 / 0.6, 0.3 / 0.6]));
    expect(s.outDtype).toBe('BF16');
    expect(s.inputs.map((t) => t.info.dtype)).toEqual(['BF16', 'F16', 'F32']);
    expect(s.inputLabels).toEqual(['a.safetensors', 'b.safetensors', 'c.safetensors']);
    expect(p.steps.map((x) => x.name)).toEqual(tensors('BF16').map((t) => t.name));
    expect(p.steps.find((x) => x.name === 'model.steps')).toMatchObject({ kind: 'copy', dtype: 'I64', from: 'a.safetensors' });
    // Inputs: every float tensor of the three models + the copied I64; outputs: BF16 floats + the I64.
    const floatNumel = tensors('F32').filter((t) => t.dtype !== 'I64').reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(p.inputBytes).toBe(floatNumel * (2 + 2 + 4) + 8);
    expect(p.outputBytes).toBe(floatNumel * 2 + 8);
  });

  test('uniform soup and normalize: false', async () => {
    const u = await plan('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n  - model: c\n', { a: tensors('F32'), b: tensors('F32'), c: tensors('F32') });
    expect(Array.from(soup(u, 'lm_head.weight').coefficients)).toEqual(f32([1 / 3, 1 / 3, 1 / 3]));
    const raw = await plan('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 2}\n  - model: b\n    parameters: {weight: -0.5}\nparameters:\n  normalize: false\n', {
      a: tensors('F32'),
      b: tensors('F32'),
    });
    expect(Array.from(soup(raw, 'lm_head.weight').coefficients)).toEqual([2, -0.5]);
  });

  test('gradients over layers and filters per tensor, model level over the recipe-wide weight', async () => {
    const p = await plan(
      `merge_method: linear
models:
  - model: a
    parameters:
      weight:
        - filter: mlp
          value: [0, 1]
  - model: b
parameters:
  weight: 1
  normalize: false
`,
      { a: tensors('F32'), b: tensors('F32') },
    );
    expect(soup(p, 'model.layers.0.mlp.down_proj.weight').weights).toEqual([0, 1]);
    expect(soup(p, 'model.layers.1.mlp.down_proj.weight').weights).toEqual([0.25, 1]);
    expect(soup(p, 'model.layers.4.mlp.down_proj.weight').weights).toEqual([1, 1]);
    expect(soup(p, 'model.layers.1.mlp.down_proj.weight').t).toBe(0.25);
    // No filter matches attention: falls through to the recipe-wide weight.
    expect(soup(p, 'model.layers.1.self_attn.o_proj.weight').weights).toEqual([1, 1]);
  });

  test('task arithmetic: delta mode, base first, λ·w, normalize, base listed among the models skipped', async () => {
    const p = await plan(
      'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: x\n    parameters: {weight: 0.3}\n  - model: base\n  - model: y\n    parameters: {weight: 0.9}\nparameters:\n  lambda: 0.7\n',
      { base: tensors('F16'), x: tensors('BF16'), y: tensors('F32') },
    );
    const s = soup(p, 'model.norm.weight');
    expect(s.mode).toBe('delta');
    expect(s.inputLabels).toEqual(['base.safetensors', 'x.safetensors', 'y.safetensors']);
    expect(Array.from(s.coefficients)).toEqual(f32([0, 0.7 * 0.3, 0.7 * 0.9]));
    expect(s.outDtype).toBe('F16'); // the base's dtype
    expect(p.reference.label).toBe('base.safetensors');

    const n = await plan('merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: x\n    parameters: {weight: 1}\n  - model: y\n    parameters: {weight: 3}\nparameters:\n  normalize: true\nout_dtype: bf16\n', {
      base: tensors('F32'),
      x: tensors('F32'),
      y: tensors('F32'),
    });
    expect(Array.from(soup(n, 'lm_head.weight').coefficients)).toEqual(f32([0, 0.25, 0.75]));
    expect(soup(n, 'lm_head.weight').outDtype).toBe('BF16');
  });

  test('out_dtype over dtype over the first model; non-float tensors keep theirs', async () => {
    const a = await plan('merge_method: linear\nmodels:\n  - model: a\n  - model: b\ndtype: float16\n', { a: tensors('F32'), b: tensors('F32') });
    expect(soup(a, 'lm_head.weight').outDtype).toBe('F16');
    const b = await plan('merge_method: linear\nmodels:\n  - model: a\n  - model: b\ndtype: float16\nout_dtype: float32\n', { a: tensors('BF16'), b: tensors('F32') });
    expect(soup(b, 'lm_head.weight').outDtype).toBe('F32');
    expect(b.steps.find((s) => s.name === 'model.steps')).toMatchObject({ kind: 'copy', dtype: 'I64' });
    const c = await plan('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n', { a: tensors('F64'), b: tensors('F32') });
    expect(soup(c, 'lm_head.weight').outDtype).toBe('F64');
  });

  test('weights near the f64 limit are normalised without overflow: 1e308, 1e308 is a uniform soup', async () => {
    const models = { a: tensors('F32'), b: tensors('F32'), c: tensors('F32') };
    const two = await plan('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1e308}\n  - model: b\n    parameters: {weight: 1e308}\n', models);
    expect(Array.from(soup(two, 'lm_head.weight').coefficients)).toEqual([0.5, 0.5]);
    const three = await plan(
      'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1.5e308}\n  - model: b\n    parameters: {weight: 1.5e308}\n  - model: c\n    parameters: {weight: -0.75e308}\n',
      models,
    );
    expect(Array.from(soup(three, 'lm_head.weight').coefficients)).toEqual(f32([1.5 / 2.25, 1.5 / 2.25, -0.75 / 2.25]));
    const ta = await plan(
      'merge_method: task_arithmetic\nbase_model: c\nparameters: {normalize: true}\nmodels:\n  - model: a\n    parameters: {weight: 1e308}\n  - model: b\n    parameters: {weight: 1e308}\n',
      models,
    );
    expect(Array.from(soup(ta, 'lm_head.weight').coefficients)).toEqual([0, 0.5, 0.5]);
  });

  test('errors: weights adding up to 0, a pre-flight error, a model not opened', async () => {
    await expect(
      plan('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: -1}\n', { a: tensors('F32'), b: tensors('F32') }),
    ).rejects.toThrow(/^recipe\.yaml line 1: the weights for tensor model\.embed_tokens\.weight add up to 0, so they cannot be normalised; change them or set normalize: false$/);
    const bad = tensors('F32');
    bad[1] = randomTensor(bad[1].name, 'F32', [5, 4], 9);
    await expect(plan('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n', { a: tensors('F32'), b: bad })).rejects.toBeInstanceOf(PreflightError);
    const { recipe } = parseRecipe('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n');
    expect(() => planMerge(recipe, new Map([['a', {} as Checkpoint]]))).toThrow(InputError);
  });

  test('modelRefsOf: base first, each once', () => {
    const { recipe } = parseRecipe('merge_method: task_arithmetic\nbase_model: b\nmodels:\n  - model: a\n  - model: b\n  - model: c\n');
    expect(modelRefsOf(recipe).map((r) => r.path)).toEqual(['b', 'a', 'c']);
  });

  test('models with the same file name are told apart by their recipe path', async () => {
    const { recipe } = parseRecipe('merge_method: linear\nmodels:\n  - model: one/model.safetensors\n  - model: two/model.safetensors\n');
    const map = new Map<string, Checkpoint>([
      ['one/model.safetensors', await ckpt('model.safetensors', tensors('F32'))],
      ['two/model.safetensors', await ckpt('model.safetensors', tensors('F32'))],
    ]);
    expect(planMerge(recipe, map).ingredients.map((g) => g.label)).toEqual(['one/model.safetensors', 'two/model.safetensors']);
  });
});

describe('planMerge: bytes read by methods that may stop early', () => {
  test('karcher counts every pass it may run and says so (inputBytesAtMost); ties counts its passes exactly', async () => {
    const models = { a: tensors('F32'), b: tensors('F32'), c: tensors('F32') };
    const k = await plan('merge_method: karcher\nparameters:\n  max_iter: 4\nmodels:\n  - model: a\n  - model: b\n  - model: c\ndtype: float32\n', models);
    const step = k.steps.find((s) => s.kind === 'method');
    expect(step?.kind === 'method' && step.program.passes.filter((p) => p.skip).length).toBeGreaterThanOrEqual(3 * 4);
    expect(k.inputBytesAtMost).toBe(true);
    const t = await plan('merge_method: ties\nbase_model: a\nparameters:\n  density: 0.5\nmodels:\n  - model: b\n    parameters:\n      weight: 1\n  - model: c\n    parameters:\n      weight: 1\ndtype: float32\n', models);
    expect(t.inputBytesAtMost).toBeFalsy();
  });
});

describe('planMerge: linear with a base_model outside the models', () => {
  test('joins the soup last when a recipe-wide weight gives it one (as mergekit); else only the reference, with a warning', async () => {
    const withWeight = await plan('merge_method: linear\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 3}\nparameters:\n  weight: 1\n', {
      base: tensors('F32'),
      a: tensors('F32'),
    });
    expect(soup(withWeight, 'lm_head.weight').inputLabels).toEqual(['a.safetensors', 'base.safetensors']);
    expect(Array.from(soup(withWeight, 'lm_head.weight').coefficients)).toEqual(f32([0.75, 0.25]));

    const text = 'merge_method: linear\nbase_model: base\nmodels:\n  - model: a\n  - model: b\n';
    expect(parseRecipe(text).warnings).toEqual([
      'recipe.yaml line 2: base_model base is not among the models and has no weight: it is not averaged, only the source of non-float tensors and config files',
    ]);
    const without = await plan(text, { base: tensors('BF16'), a: tensors('F32'), b: tensors('F32') });
    expect(soup(without, 'lm_head.weight').inputLabels).toEqual(['a.safetensors', 'b.safetensors']);
    expect(without.reference.label).toBe('base.safetensors');
    expect(without.steps.find((s) => s.name === 'model.steps')).toMatchObject({ kind: 'copy', from: 'base.safetensors' });
    expect(soup(without, 'lm_head.weight').outDtype).toBe('F32'); // the first input's dtype, not the base's
  });
});
