import { describe, expect, test } from 'vitest';
import { parseRecipe, recipeToYaml } from '../../src/merge/recipe';
import { splitModelRef } from '../../src/formats/lora/modelRef';

describe("recipes with mergekit's base+adapter references", () => {
  test.each(['linear', 'task_arithmetic', 'ties'])('%s: parsed, written back and parsed again unchanged', (method) => {
    const text = `merge_method: ${method}\nbase_model: org/base\nmodels:\n  - model: org/base+adapters/chat\n    parameters:\n      weight: 0.5\n      density: 0.5\n  - model: ft\n    parameters:\n      weight: 0.5\n      density: 0.5\n`;
    const { recipe } = parseRecipe(text, 'soup.yaml');
    expect(recipe.models[0].model.path).toBe('org/base+adapters/chat');
    const yaml = recipeToYaml(recipe);
    expect(yaml).toContain('model: org/base+adapters/chat');
    expect(parseRecipe(yaml, 'soup.yaml').recipe.models.map((m) => m.model.path)).toEqual(['org/base+adapters/chat', 'ft']);
  });

  test("mergekit's long form {model, lora} is the same reference, on its line", () => {
    const { recipe } = parseRecipe('merge_method: linear\nmodels:\n  - model:\n      model: base\n      lora: adapter\n  - model: other\n', 'soup.yaml');
    expect(recipe.models[0].model).toEqual({ path: 'base+adapter', line: 4 });
  });

  test('slices take adapters too', () => {
    const { recipe } = parseRecipe('merge_method: passthrough\nslices:\n  - sources:\n      - model: base+adapter\n        layer_range: [0, 2]\n', 'soup.yaml');
    expect(recipe.slices![0].sources[0].model.path).toBe('base+adapter');
  });

  test('splitModelRef', () => {
    expect(splitModelRef('a')).toEqual({ base: 'a' });
    expect(splitModelRef('a/b+c/d')).toEqual({ base: 'a/b', adapter: 'c/d' });
    expect(splitModelRef('a+')).toBe("'a+' has an empty adapter before or after '+'; write 'path/to/base+path/to/adapter'");
    expect(splitModelRef('a+b+c')).toMatch(/^'a\+b\+c' has 2 '\+' signs/);
  });
});
