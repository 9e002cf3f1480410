import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors';
import { evaluateSetting } from '../../src/merge/params';
import { parseRecipe, RecipeError, recipeToYaml, type Recipe } from '../../src/merge/recipe';

/** The message of the error parseRecipe throws for `text`. */
function errorOf(text: string, fileName = 'recipe.yaml'): string {
  try {
    parseRecipe(text, fileName);
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    expect(e).toBeInstanceOf(InputError); // the CLI prints it on one line, exit 2
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('parseRecipe accepted the recipe');
}

const LINEAR = `merge_method: linear
models:
  - model: ./a.safetensors
    parameters:
      weight: 0.6
  - model: ../models/b
    parameters:
      weight: 0.4
dtype: bfloat16
`;

describe('parseRecipe: valid recipes', () => {
  test('linear with weights, dtype and model paths as written', () => {
    const { recipe, warnings } = parseRecipe(LINEAR);
    expect(warnings).toEqual([]);
    expect(recipe.method).toBe('linear');
    expect(recipe.models.map((m) => m.model)).toEqual([
      { path: './a.safetensors', line: 3 },
      { path: '../models/b', line: 6 },
    ]);
    expect(recipe.models[0].parameters.weight).toEqual({ kind: 'value', value: 0.6, line: 5 });
    expect(recipe.dtype).toBe('BF16');
    expect(recipe.outDtype).toBeUndefined();
    expect(recipe.baseModel).toBeUndefined();
  });

  test('a uniform soup: models without weights', () => {
    const { recipe } = parseRecipe('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n  - model: c\n');
    expect(recipe.models.map((m) => m.parameters)).toEqual([{}, {}, {}]);
  });

  test('task_arithmetic with base, lambda, normalize, out_dtype', () => {
    const { recipe } = parseRecipe(`merge_method: task_arithmetic
base_model: base
models:
  - model: base
  - model: ft
    parameters:
      weight: 1.0
parameters:
  lambda: 0.5
  normalize: true
out_dtype: fp16
`);
    expect(recipe.method).toBe('task_arithmetic');
    expect(recipe.baseModel).toEqual({ path: 'base', line: 2 });
    expect(recipe.parameters.lambda).toMatchObject({ kind: 'value', value: 0.5 });
    expect(recipe.parameters.normalize).toMatchObject({ kind: 'value', value: true });
    expect(recipe.outDtype).toBe('F16');
  });

  test.each([
    ['float32', 'F32'],
    ['fp32', 'F32'],
    ['float16', 'F16'],
    ['fp16', 'F16'],
    ['bfloat16', 'BF16'],
    ['bf16', 'BF16'],
  ])('dtype name %s', (name, dtype) => {
    expect(parseRecipe(`merge_method: linear\nmodels:\n  - model: a\ndtype: ${name}\nout_dtype: ${name}\n`).recipe.outDtype).toBe(dtype);
  });

  test('filters, gradients and a single condition mapping', () => {
    const { recipe } = parseRecipe(`merge_method: linear
models:
  - model: a
    parameters:
      weight:
        - filter: self_attn
          value: [0, 0.5, 1]
        - filter: mlp
          value: 0.3
        - value: 0.5
  - model: b
    parameters:
      weight: {filter: mlp, value: 2}
parameters:
  weight: [1, 2]
`);
    const w = recipe.models[0].parameters.weight;
    expect(w.kind).toBe('conditional');
    expect(evaluateSetting(w, 'model.layers.0.self_attn.q_proj.weight', 0.25)).toBe(0.25);
    expect(evaluateSetting(w, 'model.layers.0.mlp.up_proj.weight', 0.25)).toBe(0.3);
    expect(evaluateSetting(w, 'model.norm.weight', 1)).toBe(0.5);
    const wb = recipe.models[1].parameters.weight;
    expect(evaluateSetting(wb, 'x.mlp.y', 0)).toBe(2);
    expect(evaluateSetting(wb, 'x.attn.y', 0)).toBeUndefined(); // falls through to the recipe-wide weight
    expect(recipe.parameters.weight).toMatchObject({ kind: 'value', value: [1, 2] });
  });

  test('parameters of other methods are kept with a warning that names the line', () => {
    const { recipe, warnings } = parseRecipe('merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n      density: 0.5\n');
    expect(warnings).toEqual(["recipe.yaml line 6: parameter 'density' is not used by linear; it is kept in the recipe (linear reads weight, normalize)"]);
    expect(recipe.models[0].parameters.density).toMatchObject({ value: 0.5 });
  });

  test('tokenizer_source union is taken without a warning (test/merge/vocabulary.test.ts); name and chat_template pass through', () => {
    const { recipe, warnings } = parseRecipe('merge_method: linear\nmodels:\n  - model: a\ntokenizer_source: union\nname: my-soup\nchat_template: chatml\n');
    expect(warnings).toEqual([]);
    expect(recipe.tokenizerSource).toBe('union');
    expect(recipe.passthrough).toEqual({ name: 'my-soup', chat_template: 'chatml' });
  });
});

describe('parseRecipe: every error names the file and line', () => {
  test.each([
    ['a weight that is not a number', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: heavy\n', "recipe.yaml line 5: weight must be a number, got 'heavy'"],
    ['a gradient with a word in it', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: [0.1,\n        lots]\n', "recipe.yaml line 6: weight must be a number, got 'lots'"],
    ['an empty weight', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight:\n', 'recipe.yaml line 5: weight must be a number, got nothing'],
    ['an unknown method', 'merge_method: averaging\nmodels:\n  - model: a\n', "recipe.yaml line 1: unknown merge method 'averaging' (SoupLab runs linear, task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear, sce, slerp, nuslerp, multislerp, karcher, model_stock, nearswap, arcee_fusion, ram, ramplus_tl, passthrough)"],
    ['arcee_fusion without base', 'merge_method: arcee_fusion\nmodels:\n  - model: a\n', 'recipe.yaml line 1: arcee_fusion needs base_model: the model the task vectors are taken from'],
    ['arcee_fusion with two models', 'merge_method: arcee_fusion\nbase_model: a\nmodels:\n  - model: b\n  - model: c\n', 'recipe.yaml line 3: arcee_fusion merges exactly one model besides base_model, got 2'],
    ['TIES with the base alone', 'models:\n  - model: a\nmerge_method: ties\nbase_model: a\n', 'recipe.yaml line 1: ties needs at least one model besides base_model, got 0'],
    ['DARE TIES without base', 'merge_method: dare_ties\nmodels:\n  - model: a\n', 'recipe.yaml line 1: dare_ties needs base_model: the model the task vectors are taken from'],
    ['SLERP with three models', 'merge_method: slerp\nbase_model: a\nmodels:\n  - model: a\n  - model: b\n  - model: c\nparameters:\n  t: 0.5\n', 'recipe.yaml line 3: slerp merges exactly one model besides base_model, got 2'],
    ['SLERP without t', 'merge_method: slerp\nbase_model: a\nmodels:\n  - model: a\n  - model: b\n', 'recipe.yaml line 1: slerp needs t (interpolation factor: 0 is the base model, 1 the other model) under the top-level parameters:'],
    ['nuslerp with one model', 'merge_method: nuslerp\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n', 'recipe.yaml line 2: nuslerp needs exactly two models, got 1'],
    ['model_stock with one fine-tune', 'merge_method: model_stock\nbase_model: b\nmodels:\n  - model: a\n', 'recipe.yaml line 3: model_stock needs at least two models besides base_model, got 1'],
    ['a TIES parameter on the wrong level', 'merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n      lambda: 2\n', 'recipe.yaml line 7: lambda applies to the whole merge: put it under the top-level parameters:'],
    ['a parameter no method reads, listing what ties reads', 'merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters:\n      densty: 0.5\n', "recipe.yaml line 6: unknown parameter 'densty' for ties (ties reads weight, density, normalize, lambda, rescale, int8_mask)"],
    ['a seed that is a list', 'merge_method: dare_ties\nbase_model: b\nmodels:\n  - model: a\nparameters:\n  random_seed: [1, 2]\n', 'recipe.yaml line 6: random_seed is one value for the whole merge, not a list or a condition'],
    ['no merge_method', 'models:\n  - model: a\n', 'recipe.yaml line 1: merge_method is missing (linear, task_arithmetic, ties,'],
    ['a method that is not a name', 'merge_method: [linear]\nmodels:\n  - model: a\n', 'recipe.yaml line 1: merge_method must be a name such as linear, got a list'],
    ['a models entry without model', 'merge_method: linear\nmodels:\n  - model: a\n  - parameters:\n      weight: 1\n', 'recipe.yaml line 4: this models entry has no model: path'],
    ['an empty model path', 'merge_method: linear\nmodels:\n  - model: a\n  - model:\n', 'recipe.yaml line 4: model must be a path to a .safetensors file or a model folder, got nothing'],
    ['a bare model string', 'merge_method: linear\nmodels:\n  - a.safetensors\n', "recipe.yaml line 3: each entry of models is '- model: <path>', got the bare string 'a.safetensors'"],
    ['no models', 'merge_method: linear\n', 'recipe.yaml line 1: models is missing: list the models to merge under models:'],
    ['an empty models list', 'merge_method: linear\nmodels: []\n', "recipe.yaml line 2: models must be a list of '- model: <path>' entries, got a list"],
    ['a slice without sources', 'merge_method: linear\nslices:\n  - sources: []\n', "recipe.yaml line 3: sources must be a list of '- model: <path>' entries with a layer_range, got a list"],
    ['a source without layer_range', 'merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n', 'recipe.yaml line 4: this source has no layer_range: [first, end)'],
    ['a backwards layer_range', 'merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [4, 2]\n', 'recipe.yaml line 5: layer_range must be [first, end) such as [0, 16], got a list'],
    ['passthrough with two sources in a slice', 'merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n      - model: b\n        layer_range: [0, 2]\n', 'recipe.yaml line 3: passthrough merges exactly one source per slice, this one has 2'],
    ['modules', 'merge_method: linear\nmodules:\n  text: {}\n', 'recipe.yaml line 2: modules are not supported yet'],
    ['models and slices', 'merge_method: linear\nmodels:\n  - model: a\nslices:\n  - sources: []\n', 'recipe.yaml line 4: give either models or slices, not both'],
    ['an unknown key (a typo)', 'merge_method: linear\nmodel:\n  - model: a\n', "recipe.yaml line 2: unknown key 'model'"],
    ['an unknown key in an entry', 'merge_method: linear\nmodels:\n  - model: a\n    weight: 0.5\n', "recipe.yaml line 4: unknown key 'weight' in a models entry (expected model and parameters)"],
    ['an unknown parameter', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      wieght: 0.5\n', "recipe.yaml line 5: unknown parameter 'wieght' for linear (linear reads weight, normalize)"],
    ['a bad dtype', 'merge_method: linear\nmodels:\n  - model: a\ndtype: int8\n', "recipe.yaml line 4: dtype must be float32, float16 or bfloat16 (or fp32, fp16, bf16), got 'int8'"],
    ['a bad out_dtype', 'merge_method: linear\nmodels:\n  - model: a\nout_dtype: 16\n', 'recipe.yaml line 4: out_dtype must be float32, float16 or bfloat16 (or fp32, fp16, bf16), got 16'],
    ['task_arithmetic without base', 'merge_method: task_arithmetic\nmodels:\n  - model: a\n', 'recipe.yaml line 1: task_arithmetic needs base_model: the model the task vectors are taken from'],
    ['task_arithmetic with the base alone', 'merge_method: task_arithmetic\nbase_model: a\nmodels:\n  - model: a\n', 'recipe.yaml line 3: task_arithmetic needs at least one model besides base_model'],
    ['a model listed twice', 'merge_method: linear\nmodels:\n  - model: a\n  - model: b\n  - model: a\n', 'recipe.yaml line 5: model a is listed twice (also on line 3)'],
    ['normalize on a model', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      normalize: false\n', 'recipe.yaml line 5: normalize applies to the whole merge: put it under the top-level parameters:'],
    ['normalize that is not a boolean', 'merge_method: linear\nmodels:\n  - model: a\nparameters:\n  normalize: sometimes\n', "recipe.yaml line 5: normalize must be true or false, got 'sometimes'"],
    ['lambda that is not a number', 'merge_method: task_arithmetic\nbase_model: b\nmodels:\n  - model: a\nparameters:\n  lambda: big\n', "recipe.yaml line 6: lambda must be a number, got 'big'"],
    ['a condition without value', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight:\n        - filter: mlp\n', 'recipe.yaml line 6: this weight condition has no value'],
    ['a condition with an unknown key', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight:\n        - filter: mlp\n          valeu: 1\n', "recipe.yaml line 7: unknown key 'valeu' in a weight condition (expected filter and value)"],
    ['a filter that is a list', 'merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight:\n        - filter: [mlp]\n          value: 1\n', 'recipe.yaml line 6: filter must be a piece of a tensor name such as mlp or self_attn, got a list'],
    ['YAML syntax', 'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.5\n', 'recipe.yaml line 4: YAML syntax error'],
    ['a tab indentation', 'merge_method: linear\nmodels:\n\t- model: a\n', 'recipe.yaml line 3: YAML syntax error'],
    ['a duplicate key', 'merge_method: linear\nmerge_method: linear\nmodels:\n  - model: a\n', 'recipe.yaml line 2: YAML syntax error: Map keys must be unique'],
    ['a list instead of a recipe', '- model: a\n', 'recipe.yaml line 1: a recipe is a mapping of keys (merge_method, models, …), got a list'],
    ['a nested model reference', 'merge_method: linear\nmodels:\n  - model:\n      model: a\n      lora: b\n      override_architecture: X\n', "recipe.yaml line 4: model must be a path to a .safetensors file or a model folder, or 'base+adapter' for a LoRA adapter; nested model references are not supported yet"],
    ['two adapters on one base', 'merge_method: linear\nmodels:\n  - model: a+b+c\n', "recipe.yaml line 3: model: 'a+b+c' has 2 '+' signs"],
  ])('%s', (_what, text, expected) => {
    expect(errorOf(text)).toContain(expected);
  });

  test('an empty recipe', () => {
    expect(errorOf('')).toBe('recipe.yaml: the recipe is empty (expected merge_method, models, …)');
    expect(errorOf('# just a comment\n')).toBe('recipe.yaml: the recipe is empty (expected merge_method, models, …)');
  });

  test('several problems: the first by line, and a count', () => {
    const e = errorOf('merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: x\n  - model: b\n    parameters:\n      weight: y\ndtype: q\n', 'soup.yml');
    expect(e).toBe("soup.yml line 5: weight must be a number, got 'x' (and 2 more problems)");
    try {
      parseRecipe('merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: x\n  - model: b\n    parameters:\n      weight: y\n');
    } catch (err) {
      expect((err as RecipeError).problems.map((p) => p.line)).toEqual([5, 8]);
    }
  });
});

describe('recipeToYaml', () => {
  const roundTrip = (text: string): Recipe => parseRecipe(recipeToYaml(parseRecipe(text).recipe)).recipe;
  const semantic = (r: Recipe) => JSON.parse(JSON.stringify(r, (k, v) => (k === 'line' || k === 'methodLine' ? undefined : v))) as unknown;

  test('round trip keeps every setting', () => {
    const text = `merge_method: task_arithmetic
base_model: ./base
models:
  - model: ./base
  - model: ./ft-1
    parameters:
      weight:
        - filter: mlp
          value: [0.1, 0.9]
        - value: 0.5
  - model: ./ft-2
    parameters:
      weight: 0.25
parameters:
  lambda: 1.2
  normalize: false
dtype: bfloat16
out_dtype: float32
tokenizer_source: base
name: soup
`;
    const once = parseRecipe(text).recipe;
    expect(semantic(roundTrip(text))).toEqual(semantic(once));
  });

  test('a slices recipe round-trips with its layer ranges and parameters', () => {
    const text = 'merge_method: passthrough\nslices:\n  - sources:\n      - model: ./a\n        layer_range: [0, 16]\n  - sources:\n      - model: ./b\n        layer_range: [8, 24]\n        parameters:\n          scale: [{filter: o_proj, value: 0.5}, {value: 1}]\ndtype: bfloat16\n';
    const once = parseRecipe(text).recipe;
    expect(once.slices?.map((s) => [s.sources[0].model.path, s.sources[0].layerRange])).toEqual([['./a', [0, 16]], ['./b', [8, 24]]]);
    expect(semantic(roundTrip(text))).toEqual(semantic(once));
  });

  test('writes what mergekit requires: explicit weights, long dtype names, inline gradients', () => {
    const yaml = recipeToYaml(parseRecipe('merge_method: linear\nmodels:\n  - model: a\n  - model: b\n    parameters:\n      weight: [0, 1]\ndtype: bf16\n').recipe);
    expect(yaml).toBe(`merge_method: linear
models:
  - model: a
    parameters:
      weight: 1
  - model: b
    parameters:
      weight: [0, 1]
dtype: bfloat16
`);
  });

  test('a recipe built in code (no lines) serialises and parses back', () => {
    const recipe: Recipe = {
      method: 'linear',
      models: [
        { model: { path: 'x.safetensors' }, parameters: { weight: { kind: 'value', value: 2 } } },
        { model: { path: 'y.safetensors' }, parameters: { weight: { kind: 'conditional', entries: [{ filter: 'attn', value: 1 }, { value: 3 }] } } },
      ],
      parameters: { normalize: { kind: 'value', value: false } },
      outDtype: 'F16',
      passthrough: {},
    };
    const back = parseRecipe(recipeToYaml(recipe)).recipe;
    expect(back.models.map((m) => m.model.path)).toEqual(['x.safetensors', 'y.safetensors']);
    expect(evaluateSetting(back.models[1].parameters.weight, 'a.attn.b', 0)).toBe(1);
    expect(evaluateSetting(back.models[1].parameters.weight, 'a.mlp.b', 0)).toBe(3);
    expect(back.parameters.normalize).toMatchObject({ value: false });
    expect(back.outDtype).toBe('F16');
  });
});
