import { describe, expect, it } from 'vitest';
import { fromDirectoryInput, fromLooseFiles } from '../../src/ui/ingredients/collect';
import { matchExperts, normaliseModelName, uniqueName } from '../../src/ui/ingredients/names';
import { importRecipe, recipeYamlOf } from '../../src/ui/ingredients/recipeIO';
import { parseRecipe } from '../../src/merge/recipe';
import { parseWeight, sharesOf, sumOf, uniformWeights } from '../../src/ui/ingredients/weights';
import { formatBytes, formatCount } from '../../src/ui/ingredients/format';

describe('expert names matched to checkpoints', () => {
  it('normalises case, punctuation, paths, "(FC)" suffixes and the demo prefix', () => {
    expect(normaliseModelName('xLAM-2-70b-fc-r (FC)')).toBe('xlam270bfcr');
    expect(normaliseModelName('demo-xLAM-2-70b-fc-r')).toBe('xlam270bfcr');
    expect(normaliseModelName('Salesforce/xLAM-2-70b-fc-r')).toBe('xlam270bfcr');
    expect(normaliseModelName('watt_tool_70B.safetensors')).toBe('watttool70b');
  });

  it('matches the BFCL experts to the demo checkpoints, one checkpoint per expert', () => {
    const checkpoints = ['demo-CoALM-70B', 'demo-watt-tool-70B', 'demo-xLAM-2-70b-fc-r'];
    expect(matchExperts(['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B'], checkpoints)).toEqual([
      'demo-xLAM-2-70b-fc-r',
      'demo-watt-tool-70B',
      'demo-CoALM-70B',
    ]);
  });

  it('prefers an exact match over containment, and leaves ambiguous or absent names unmatched', () => {
    // "xLAM-2-70b-fc-r" is contained in "Llama-xLAM-2-70b-fc-r" (the hub name) — accepted when it is the only one.
    expect(matchExperts(['xLAM-2-70b-fc-r (FC)'], ['Llama-xLAM-2-70b-fc-r', 'watt-tool-8B'])).toEqual(['Llama-xLAM-2-70b-fc-r']);
    expect(matchExperts(['watt-tool-8B (FC)'], ['watt-tool-8B', 'watt-tool-8B-v2'])).toEqual(['watt-tool-8B']);
    expect(matchExperts(['watt-tool'], ['watt-tool-8B', 'watt-tool-70B'])).toEqual([undefined]);
    expect(matchExperts(['GPT-4o-2024-11-20 (FC)'], ['watt-tool-8B'])).toEqual([undefined]);
    // The same checkpoint is not given to two experts.
    expect(matchExperts(['CoALM-70B', 'CoALM-70B (FC)'], ['CoALM-70B'])).toEqual(['CoALM-70B', undefined]);
  });

  it('makes ingredient names unique', () => {
    expect(uniqueName('model', [])).toBe('model');
    expect(uniqueName('model', ['model', 'model (2)'])).toBe('model (3)');
  });
});

describe('weights', () => {
  it('sums, shares and uniform weights', () => {
    expect(sumOf([0.5, 0.3, 0.2])).toBeCloseTo(1, 12);
    expect(sharesOf([2, 1, 1])).toEqual([0.5, 0.25, 0.25]);
    expect(sharesOf([0, 0])).toBeUndefined();
    expect(uniformWeights(['a', 'b', 'c'])).toEqual({ a: 0.3333, b: 0.3333, c: 0.3333 });
    expect(parseWeight('0.')).toBe(0);
    expect(parseWeight('')).toBeUndefined();
    expect(parseWeight('abc')).toBeUndefined();
  });

  it('formats sizes and counts for people', () => {
    expect(formatBytes(214_272)).toBe('214 KB');
    expect(formatBytes(140e9)).toBe('140 GB');
    expect(formatCount(106_816)).toBe('106.8 K');
    expect(formatCount(70.6e9)).toBe('70.6 B');
  });
});

describe('recipes as mergekit YAML', () => {
  it('writes a linear recipe that mergekit reads and that imports back onto the same ingredients', () => {
    const yaml = recipeYamlOf({ models: [{ name: 'demo-CoALM-70B', weight: 0.2 }, { name: 'demo-watt-tool-70B', weight: 0.8 }], normalise: false, outDtype: 'BF16' });
    expect(yaml).toContain('merge_method: linear');
    expect(yaml).toContain('out_dtype: bfloat16');
    const { recipe } = parseRecipe(yaml);
    // Paths, not bare names (which mergekit would take for Hugging Face ids).
    expect(recipe.models.map((m) => m.model.path)).toEqual(['./demo-CoALM-70B', './demo-watt-tool-70B']);
    const back = importRecipe(yaml, 'r.yaml', ['demo-watt-tool-70B', 'demo-CoALM-70B', 'demo-xLAM-2-70b-fc-r']);
    expect(back.weights).toEqual({ 'demo-watt-tool-70B': 0.8, 'demo-CoALM-70B': 0.2, 'demo-xLAM-2-70b-fc-r': 0 });
    expect(back.normalise).toBe(false);
    expect(back.outDtype).toBe('BF16');
    expect(back.unmatched).toEqual([]);
  });

  it('matches hub ids in a recipe to checkpoints by name and lists the ones it cannot place', () => {
    const yaml = [
      'merge_method: linear',
      'models:',
      '  - model: Salesforce/Llama-xLAM-2-70b-fc-r',
      '    parameters: {weight: 0.5}',
      '  - model: uiuc-convai/CoALM-70B',
      '    parameters: {weight: 0.5}',
      '  - model: meta-llama/Llama-3.3-70B-Instruct',
      '',
    ].join('\n');
    const r = importRecipe(yaml, 'soce.yaml', ['demo-xLAM-2-70b-fc-r', 'demo-CoALM-70B']);
    expect(r.weights).toEqual({ 'demo-xLAM-2-70b-fc-r': 0.5, 'demo-CoALM-70B': 0.5 });
    expect(r.unmatched).toEqual(['meta-llama/Llama-3.3-70B-Instruct']);
    expect(r.normalise).toBe(true);
  });

  it('keeps a weight gradient, other methods and slices; refuses what it cannot run, naming the line', () => {
    const g = importRecipe('merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: [0, 1]\n', 'g.yaml', ['a']);
    expect(g.setup.modelParams).toEqual({ a: { weight: '0, 1' } });
    const t = importRecipe('merge_method: task_arithmetic\nbase_model: b\nmodels:\n  - model: a\n', 't.yaml', ['a', 'b']);
    expect(t.setup).toMatchObject({ method: 'task_arithmetic', base: 'b' });
    expect(t.weights).toEqual({ a: 1, b: 0 });
    const sl = importRecipe('merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n', 's.yaml', ['a']);
    expect(sl.setup.slices?.[0].sources[0]).toMatchObject({ model: { path: 'a' }, layerRange: [0, 2] });
    expect(() => importRecipe('merge_method: averaging\nmodels:\n  - model: a\n', 's.yaml', [])).toThrow(/^s\.yaml line 1: unknown merge method 'averaging'/);
  });
});

describe('what was dropped or picked, as ingredients', () => {
  const file = (name: string, path?: string) => {
    const f = new File([new Uint8Array(1)], name);
    if (path) Object.defineProperty(f, 'webkitRelativePath', { value: path });
    return f;
  };

  it('loose .safetensors files are one ingredient each; other loose files are skipped with a reason', () => {
    const r = fromLooseFiles(['a.safetensors', 'config.json', 'b.safetensors'].map((n) => ({ name: n, item: file(n) })));
    expect(r.inputs.map((i) => [i.name, i.kind, i.files.map(([n]) => n)])).toEqual([
      ['a', 'file', ['a.safetensors']],
      ['b', 'file', ['b.safetensors']],
    ]);
    expect(r.skipped).toEqual([expect.stringMatching(/^config\.json: not a \.safetensors file/)]);
  });

  it('loose shards with their index are one sharded checkpoint', () => {
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json'];
    const r = fromLooseFiles(names.map((n) => ({ name: n, item: file(n) })));
    expect(r.inputs).toHaveLength(1);
    expect(r.inputs[0].kind).toBe('folder');
    expect(r.inputs[0].files.map(([n]) => n)).toEqual(names);
  });

  it('a folder input is grouped by subfolder: one ingredient per checkpoint folder', () => {
    const r = fromDirectoryInput([
      file('model.safetensors', 'soups/a/model.safetensors'),
      file('config.json', 'soups/a/config.json'),
      file('model.safetensors', 'soups/b/model.safetensors'),
      file('README.md', 'soups/README.md'),
    ]);
    expect(r.inputs.map((i) => [i.name, i.files.map(([n]) => n)])).toEqual([
      ['a', ['model.safetensors', 'config.json']],
      ['b', ['model.safetensors']],
    ]);
  });
});
