/**
 * The studio's face of the method registry: a mergekit recipe of every method read into the studio
 * (method, base, fields, weights), its soup status computed on real generated checkpoints (nothing
 * blocks, the plan stands), and written back — the same recipe, model paths as paths. Then the field
 * checks a person meets (range, whole numbers, lists, required t, model counts) and what of each
 * method runs on WebGPU.
 */
import { describe, expect, it } from 'vitest';
import { writeDemoCheckpoint } from '../../scripts/makeDemoCheckpoints';
import { methodGpuCoverage } from '../../src/merge/program/gpuCoverage';
import { getMethod, METHOD_NAMES } from '../../src/merge/methods/registry';
import type { ParameterMap } from '../../src/merge/params';
import { parseRecipe, type Recipe } from '../../src/merge/recipe';
import { modelCountProblem, setupProblems, type MethodSetup } from '../../src/ui/merge/method/methodSetup';
import { checkParamInput } from '../../src/ui/merge/method/paramInput';
import { ingredientOfPath, modelPathOf } from '../../src/ui/ingredients/modelPaths';
import { openInput, summarise } from '../../src/ui/ingredients/openIngredient';
import { importRecipe, recipeYamlOf } from '../../src/ui/ingredients/recipeIO';
import { soupStatus } from '../../src/ui/ingredients/soup';
import type { Ingredient, IngredientInput } from '../../src/ui/ingredients/types';
import { MemoryTarget } from '../formats/helpers';

/** One recipe per registry method, as people write them for mergekit (paths beside the recipe). */
const RECIPES: Record<string, string> = {
  linear: 'merge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 0.6}\n  - model: ./b\n    parameters: {weight: [0.2, 0.8]}\nparameters: {normalize: false}\ndtype: bfloat16\n',
  task_arithmetic: 'merge_method: task_arithmetic\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 0.5}\n  - model: ./b\n    parameters: {weight: 0.5, density: 0.9}\nparameters: {lambda: 0.8, normalize: true}\ndtype: float16\n',
  ties: 'merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1, density: 0.5}\n  - model: ./b\n    parameters:\n      weight:\n        - filter: mlp\n          value: 0.3\n        - value: 0.7\n      density: 0.6\nparameters: {normalize: true, int8_mask: true}\ndtype: bfloat16\n',
  dare_ties: 'merge_method: dare_ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 0.5}\n  - model: ./b\n    parameters: {weight: 0.5}\nparameters: {density: 0.5, random_seed: 42, rescale: false}\ndtype: bfloat16\n',
  dare_linear: 'merge_method: dare_linear\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 0.4, density: [0.3, 0.7]}\n  - model: ./b\n    parameters: {weight: 0.6, density: 0.5}\nparameters: {random_seed: 7}\n',
  breadcrumbs: 'merge_method: breadcrumbs\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1}\n  - model: ./b\n    parameters: {weight: 1, gamma: 0.02}\nparameters: {density: 0.9, gamma: 0.01}\ndtype: bfloat16\n',
  breadcrumbs_ties: 'merge_method: breadcrumbs_ties\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1, density: 0.8, gamma: 0.05}\n  - model: ./b\n    parameters: {weight: 1, density: 0.8}\n',
  della: 'merge_method: della\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 1, density: 0.5, epsilon: 0.1}\n  - model: ./b\n    parameters: {weight: 1, density: 0.6}\nparameters: {lambda: 1.1, random_seed: 3}\ndtype: bfloat16\n',
  della_linear: 'merge_method: della_linear\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 0.5, density: 0.5}\n  - model: ./b\n    parameters: {weight: 0.5, density: 0.5}\nparameters: {epsilon: 0.2, random_seed: 11}\n',
  sce: 'merge_method: sce\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./b\nparameters: {select_topk: 0.5}\ndtype: bfloat16\n',
  slerp: 'merge_method: slerp\nbase_model: ./base\nmodels:\n  - model: ./base\n  - model: ./a\nparameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 1]\n    - value: 0.4\ndtype: bfloat16\n',
  nuslerp: 'merge_method: nuslerp\nbase_model: ./base\nmodels:\n  - model: ./a\n    parameters: {weight: 0.3}\n  - model: ./b\n    parameters: {weight: 0.7}\nparameters: {nuslerp_flatten: false, nuslerp_row_wise: true}\n',
  multislerp: 'merge_method: multislerp\nmodels:\n  - model: ./a\n    parameters: {weight: 1}\n  - model: ./b\n    parameters: {weight: 2}\nparameters: {normalize_weights: false, eps: 1.0e-6}\ndtype: float32\n',
  karcher: 'merge_method: karcher\nmodels:\n  - model: ./a\n  - model: ./b\n  - model: ./c.safetensors\nparameters: {max_iter: 5, tol: 1.0e-6}\n',
  model_stock: 'merge_method: model_stock\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./b\nparameters: {filter_wise: true}\ndtype: bfloat16\n',
  nearswap: 'merge_method: nearswap\nbase_model: ./base\nmodels:\n  - model: ./base\n  - model: ./a\nparameters: {t: 0.001}\n',
  ram: 'merge_method: ram\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./c.safetensors\nparameters: {epsilon: 1.0e-4}\n',
  arcee_fusion: 'merge_method: arcee_fusion\nbase_model: ./base\nmodels:\n  - model: ./base\n  - model: ./a\ndtype: bfloat16\n',
  ramplus_tl: 'merge_method: ramplus_tl\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./b\nparameters: {r: 0.3, alpha: 0.5, epsilon: 1.0e-4}\ndtype: bfloat16\n',
  passthrough: 'merge_method: passthrough\nmodels:\n  - model: ./c.safetensors\n    parameters: {scale: 0.5}\ndtype: float32\n',
};

async function folder(variant: number, name: string): Promise<IngredientInput> {
  const target = new MemoryTarget(name);
  await writeDemoCheckpoint(target, variant, name);
  return { name, kind: 'folder', files: [...target.committed].map(([n, bytes]) => [n, new File([bytes as Uint8Array<ArrayBuffer>], n)]) };
}

async function ready(input: IngredientInput, id: string): Promise<Ingredient> {
  const checkpoint = await openInput(input);
  return { id, name: input.name, input, status: 'ready', checkpoint, summary: summarise(checkpoint) };
}

let made: Promise<Ingredient[]> | undefined;
/** Three checkpoint folders and one single file (c.safetensors), generated once (only their headers are read here). */
function ingredients(): Promise<Ingredient[]> {
  made ??= makeIngredients();
  return made;
}

async function makeIngredients(): Promise<Ingredient[]> {
  const inputs = await Promise.all([folder(0, 'base'), folder(1, 'a'), folder(2, 'b')]);
  const c = await folder(3, 'c');
  const file: IngredientInput = { name: 'c', kind: 'file', files: [['c.safetensors', c.files.find(([n]) => n === 'model.safetensors')![1]]] };
  return Promise.all([...inputs, file].map((x, i) => ready(x, `g${i}`)));
}

/** What a recipe asks of mergekit: method, base, each model's parameters (the base's place among the models aside), output dtype. */
function meaning(r: Recipe) {
  const strip = (m: ParameterMap) => JSON.parse(JSON.stringify(m, (k, v: unknown) => (k === 'line' ? undefined : v))) as unknown;
  return {
    method: r.method,
    base: r.baseModel?.path,
    models: Object.fromEntries(r.models.filter((m) => m.model.path !== r.baseModel?.path).map((m) => [m.model.path, strip(m.parameters)])),
    parameters: strip(r.parameters),
    out: r.outDtype ?? r.dtype,
  };
}

describe('a recipe of every method, through the studio and back', () => {
  it('covers every registry method', () => {
    expect(Object.keys(RECIPES).sort()).toEqual([...METHOD_NAMES].sort());
  });

  it.each(Object.keys(RECIPES))('%s: imported, planned on real checkpoints, exported as the same recipe', async (name) => {
    const list = await ingredients();
    const original = parseRecipe(RECIPES[name], `${name}.yaml`).recipe;
    const imported = importRecipe(RECIPES[name], `${name}.yaml`, list.map((g) => g.input));
    expect(imported.unmatched).toEqual([]);
    expect(imported.setup.method).toBe(name);
    const outDtype = imported.outDtype === 'F64' || imported.outDtype === undefined ? 'auto' : imported.outDtype;
    const status = soupStatus({ ingredients: list, weights: imported.weights, normalise: imported.normalise, outDtype, method: imported.setup });
    expect(status.blockers).toEqual([]);
    expect(status.plan?.steps.length).toBeGreaterThan(0);
    const yaml = recipeYamlOf(status.spec);
    const back = parseRecipe(yaml).recipe;
    expect(meaning(back)).toEqual(meaning(original));
    // Written for mergekit: f32 arithmetic, one rounding to the output dtype.
    if (back.outDtype) expect(back.dtype).toBe('F32');
  });
});

describe('slices: recipes (frankenmerges), kept whole', () => {
  const SLICES: Record<string, string> = {
    passthrough:
      'merge_method: passthrough\nslices:\n  - sources:\n      - model: ./a\n        layer_range: [0, 2]\n  - sources:\n      - model: ./c.safetensors\n        layer_range: [1, 2]\n        parameters: {scale: 0.5}\ndtype: bfloat16\n',
    slerp:
      'merge_method: slerp\nbase_model: ./base\nslices:\n  - sources:\n      - model: ./base\n        layer_range: [0, 2]\n      - model: ./b\n        layer_range: [0, 2]\nparameters:\n  t: [0.1, 0.9]\n',
  };
  it.each(Object.keys(SLICES))('%s: imported, planned, exported as the same slices', async (name) => {
    const list = await ingredients();
    const original = parseRecipe(SLICES[name]).recipe;
    const imported = importRecipe(SLICES[name], 's.yaml', list.map((g) => g.input));
    expect(imported.unmatched).toEqual([]);
    expect(imported.setup.slices?.map((sl) => sl.sources.map((src) => src.model.path))).toEqual(original.slices!.map((sl) => sl.sources.map((src) => src.model.path.replace(/^\.\/|\.safetensors$/g, ''))));
    // The cards' weights do not matter to slices.
    const weights = Object.fromEntries(list.map((g) => [g.name, 0]));
    const status = soupStatus({ ingredients: list, weights, normalise: true, outDtype: imported.outDtype === 'BF16' ? 'BF16' : 'auto', method: imported.setup });
    expect(status.blockers).toEqual([]);
    const back = parseRecipe(recipeYamlOf(status.spec)).recipe;
    const strip = (r: Recipe) => JSON.parse(JSON.stringify({ slices: r.slices, parameters: r.parameters, base: r.baseModel?.path, out: r.outDtype ?? r.dtype }, (k, v: unknown) => (k === 'line' ? undefined : v))) as unknown;
    expect(strip(back)).toEqual(strip(original));
    expect(back.models).toEqual([]);
  });
});

describe('recipes the studio reads with care', () => {
  it('a base_model of a method that averages every model joins the models, with a warning', () => {
    const r = importRecipe('merge_method: karcher\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./b\n', 'k.yaml', ['base', 'a', 'b', 'c']);
    expect(r.weights).toEqual({ base: 1, a: 1, b: 1, c: 0 });
    expect(r.setup.base).toBeNull();
    expect(r.warnings).toContain('base_model ./base is merged with the models by karcher: the studio lists it as one of them');
  });

  it("the recipe's model order is kept (f32 sums depend on it), whatever the cards' order", async () => {
    const list = await ingredients();
    const text = 'merge_method: linear\nmodels:\n  - model: ./c.safetensors\n    parameters: {weight: 1}\n  - model: ./a\n    parameters: {weight: 2}\n';
    const r = importRecipe(text, 'o.yaml', list.map((g) => g.input));
    expect(r.setup.order).toEqual(['c', 'a']);
    const status = soupStatus({ ingredients: list, weights: r.weights, normalise: r.normalise, outDtype: 'auto', method: r.setup });
    expect(parseRecipe(recipeYamlOf(status.spec)).recipe.models.map((m) => m.model.path)).toEqual(['./c.safetensors', './a']);
    // Without an order, card order.
    const cards = soupStatus({ ingredients: list, weights: r.weights, normalise: true, outDtype: 'auto', method: { ...r.setup, order: undefined } });
    expect(cards.spec.models.map((m) => m.name)).toEqual(['a', 'c']);
  });

  it('top-level weights reach every model; unmatched paths are listed', () => {
    const r = importRecipe('merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./gone\nparameters: {weight: 0.5, density: 0.7}\n', 't.yaml', ['base', 'a']);
    expect(r.weights).toEqual({ base: 0, a: 0.5 });
    expect(r.setup.params).toEqual({ density: '0.7' });
    expect(r.unmatched).toEqual(['./gone']);
  });
});

describe('model paths in exported recipes', () => {
  it('are paths beside the recipe: ./folder and ./file.safetensors, never bare names', async () => {
    const list = await ingredients();
    const imported = importRecipe(RECIPES.karcher, 'k.yaml', list.map((g) => g.input));
    const status = soupStatus({ ingredients: list, weights: imported.weights, normalise: true, outDtype: 'BF16', method: imported.setup });
    const paths = parseRecipe(recipeYamlOf(status.spec)).recipe.models.map((m) => m.model.path);
    expect(paths).toEqual(['./a', './b', './c.safetensors']);
    // A linear soup of all four, too.
    const linear = soupStatus({ ingredients: list, weights: {}, normalise: true, outDtype: 'auto' });
    const all = parseRecipe(recipeYamlOf(linear.spec)).recipe.models.map((m) => m.model.path);
    expect(all).toEqual(['./base', './a', './b', './c.safetensors']);
    for (const p of all) expect(p.startsWith('./')).toBe(true);
  });

  it('a renamed duplicate keeps a path of its own; paths, names and hub ids find their ingredient', () => {
    const file = (name: string, fileName: string): IngredientInput => ({ name, kind: 'file', files: [[fileName, new File([], fileName)]] });
    const inputs = [file('x', 'x.safetensors'), file('x (2)', 'x.safetensors'), { name: 'ft', kind: 'folder', files: [] } as IngredientInput];
    expect(inputs.map(modelPathOf)).toEqual(['./x.safetensors', './x (2).safetensors', './ft']);
    expect(ingredientOfPath('./x (2).safetensors', inputs)?.name).toBe('x (2)');
    expect(ingredientOfPath('x', inputs)?.name).toBe('x');
    expect(ingredientOfPath('/models/ft/', inputs)?.name).toBe('ft');
    expect(ingredientOfPath('org/ft', inputs)?.name).toBe('ft');
    expect(ingredientOfPath('./other', inputs)).toBeUndefined();
  });
});

describe('parameter fields, checked against the registry', () => {
  const spec = (method: string, name: string) => getMethod(method).parameters.find((p) => p.name === name)!;

  it('numbers, gradients, ranges, whole numbers and true/false', () => {
    expect(checkParamInput(spec('ties', 'density'), '0.5', false)).toEqual({ setting: { kind: 'value', value: 0.5 } });
    expect(checkParamInput(spec('ties', 'density'), '0.2, 0.8', false)).toEqual({ setting: { kind: 'value', value: [0.2, 0.8] } });
    expect(checkParamInput(spec('ties', 'density'), '[0.1 0.9]', false)).toEqual({ setting: { kind: 'value', value: [0.1, 0.9] } });
    expect(checkParamInput(spec('ties', 'density'), '1.5', false).error).toBe('density must be in [0, 1], got 1.5');
    expect(checkParamInput(spec('ties', 'density'), '0.5, 2', false).error).toBe('density must be in [0, 1], got 2');
    expect(checkParamInput(spec('ties', 'density'), 'half', false).error).toBe("density: 'half' is not a number");
    expect(checkParamInput(spec('dare_ties', 'random_seed'), '12.5', false).error).toBe('random_seed must be a whole number, got 12.5');
    expect(checkParamInput(spec('dare_ties', 'random_seed'), '1, 2', false).error).toBe('random_seed is one value for the whole merge, not a list');
    expect(checkParamInput(spec('karcher', 'max_iter'), '-1', false).error).toBe('max_iter must be in [0, ∞), got -1');
    expect(checkParamInput(spec('ties', 'normalize'), 'false', false)).toEqual({ setting: { kind: 'value', value: false } });
    expect(checkParamInput(spec('ties', 'density'), '', false)).toEqual({});
    expect(checkParamInput(spec('slerp', 't'), ' ', true).error).toMatch(/^t is required: interpolation factor/);
    expect(checkParamInput(spec('ties', 'density'), { conditions: [{ filter: 'mlp', value: 2 }] }, false).error).toBe('density (filter mlp) must be in [0, 1], got 2');
  });

  it('the base model and the number of models, said as the method declares them', () => {
    const slerp: MethodSetup = { method: 'slerp', base: null, params: { t: '0.5' }, modelParams: {} };
    expect(setupProblems(slerp, ['a', 'b'], ['base', 'a', 'b'])).toEqual([
      'SLERP needs a base model (the model the others are compared with): choose it under Method.',
      'SLERP merges exactly one model besides the base model; two models are in the merge besides the base model: leave the others out (weight 0 or "In the merge" unticked).',
    ]);
    expect(setupProblems({ ...slerp, base: 'base' }, ['a'], ['base', 'a', 'b'])).toEqual([]);
    expect(setupProblems({ ...slerp, base: 'gone', params: {} }, ['a'], ['base', 'a'])).toEqual([
      'The base model gone is not among the readable checkpoints: choose another under Method.',
      'SLERP: t is required: interpolation factor: 0 is the base model, 1 the other model.',
    ]);
    expect(modelCountProblem(getMethod('model_stock'), 1, 'base')).toBe('Model Stock needs at least two models besides the base model; one model is in the merge besides the base model.');
    expect(setupProblems({ method: 'ties', base: 'base', params: {}, modelParams: { a: { density: '7' } } }, ['a'], ['base', 'a'])).toEqual(['a: density must be in [0, 1], got 7.']);
  });
});

describe('what runs on WebGPU, as each method program says', () => {
  it('matches the kernels the README lists, and every method answers', () => {
    const onGpu = (m: string) => methodGpuCoverage(m);
    for (const m of ['ties', 'breadcrumbs', 'breadcrumbs_ties', 'dare_ties', 'dare_linear', 'della', 'della_linear', 'sce', 'slerp', 'nuslerp', 'multislerp', 'karcher', 'model_stock']) expect(onGpu(m).gpuPasses.length, m).toBeGreaterThan(0);
    for (const m of ['linear', 'task_arithmetic', 'ties', 'dare_ties', 'dare_linear', 'breadcrumbs', 'breadcrumbs_ties', 'della', 'della_linear', 'sce', 'slerp', 'nuslerp', 'multislerp', 'karcher', 'model_stock', 'nearswap', 'ram']) {
      expect(onGpu(m).elementsOnGpu, m).toBe(true);
    }
    expect(onGpu('passthrough').elementsOnGpu).toBe(false);
    // Their statistics (counts; KL per row and quartiles) on the CPU, their element passes on the GPU.
    for (const m of ['ramplus_tl', 'arcee_fusion']) {
      expect(onGpu(m).elementsOnGpu, m).toBe(true);
      expect(onGpu(m).gpuPasses, m).toEqual([]);
      expect(onGpu(m).cpuPasses.length, m).toBeGreaterThan(0);
    }
    // DELLA's ranks, draws and rescale sums too (shaders/merge/dellaRanks.wgsl).
    for (const m of ['slerp', 'multislerp', 'dare_ties', 'dare_linear', 'della', 'della_linear']) expect(onGpu(m).cpuPasses, m).toEqual([]);
  });
});
