import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compositionCount, gridRecipes, linearRecipeYaml, weightGrid } from '../../src/analysis';
import { parseDelimited } from '../../src/analysis/rawTable';

describe('weight grid', () => {
  it("has the paper's sizes: 2 → 10, 3 → 37, 4 → 85", () => {
    expect(weightGrid(2).points).toHaveLength(10);
    expect(weightGrid(3).points).toHaveLength(37);
    expect(weightGrid(4).points).toHaveLength(85);
  });

  it('every point sums to exactly one step count, entries in {1..steps−1}, all distinct, uniform last', () => {
    for (const n of [2, 3, 4, 5]) {
      const g = weightGrid(n);
      const lattice = g.points.slice(0, -1);
      const keys = new Set<string>();
      for (const p of lattice) {
        expect(p.units!.reduce((a, b) => a + b, 0)).toBe(10);
        for (const u of p.units!) expect(u >= 1 && u <= 9).toBe(true);
        // Weights are units / 10, computed once: exactly the decimal a user would write.
        expect(p.weights).toEqual(p.units!.map((u) => Number(`0.${u}`)));
        keys.add(p.units!.join(','));
      }
      expect(keys.size).toBe(lattice.length);
      // Counted independently: C(9, n − 1) compositions of 10 into n positive parts.
      const binom = (a: number, b: number): number => (b === 0 ? 1 : (binom(a - 1, b - 1) * a) / b);
      expect(lattice.length).toBe(binom(9, n - 1));
      const last = g.points[g.points.length - 1];
      expect(last.uniform).toBe(true);
      expect(last.weights).toEqual(new Array(n).fill(1 / n));
    }
  });

  it('takes other steps, refuses steps that do not divide 1 and grids too large', () => {
    expect(weightGrid(3, { step: 0.05 }).points).toHaveLength(compositionCount(20, 3) + 1);
    expect(compositionCount(20, 3)).toBe(171);
    expect(weightGrid(2, { step: 0.25 }).points.map((p) => p.weights)).toEqual([
      [0.25, 0.75],
      [0.5, 0.5],
      [0.75, 0.25],
      [0.5, 0.5],
    ]);
    expect(() => weightGrid(3, { step: 0.3 })).toThrow('the weight step 0.3 does not divide 1');
    expect(() => weightGrid(8, { step: 0.01 })).toThrow(/make \d+ grid points, more than 100000/);
  });

  it('degenerate sizes: none → empty, one → [1], more experts than steps → only the uniform soup', () => {
    expect(weightGrid(0).points).toEqual([]);
    expect(weightGrid(1).points.map((p) => p.weights)).toEqual([[1]]);
    expect(weightGrid(11).points.map((p) => p.uniform)).toEqual([true]);
  });
});

describe('mergekit recipes', () => {
  const ingredients = [
    { name: 'xLAM-2-70b-fc-r (FC)', checkpoint: '/ckpt/xlam: 70b' },
    { name: 'watt-tool-70B (FC)', checkpoint: 'watt-ai/watt-tool-70B' },
    { name: 'CoALM-70B', checkpoint: '/ckpt/coalm' },
  ];

  it('round-trips through the yaml parser as a linear MergeConfiguration', () => {
    const text = linearRecipeYaml(ingredients, [0.5, 0.3, 0.2], { dtype: 'bfloat16', comment: 'a soup' });
    expect(text.startsWith('# a soup\n')).toBe(true);
    expect(parse(text)).toEqual({
      merge_method: 'linear',
      models: [
        { model: '/ckpt/xlam: 70b', parameters: { weight: 0.5 } },
        { model: 'watt-ai/watt-tool-70B', parameters: { weight: 0.3 } },
        { model: '/ckpt/coalm', parameters: { weight: 0.2 } },
      ],
      parameters: { normalize: true },
      dtype: 'bfloat16',
    });
    expect(parse(linearRecipeYaml(ingredients, [1 / 3, 1 / 3, 1 / 3])).models[0].parameters.weight).toBe(1 / 3);
    expect(() => linearRecipeYaml(ingredients, [1, 0])).toThrow('2 weights for 3 models');
    expect(() => linearRecipeYaml(ingredients, [1, 1, 1], { dtype: 'int8' })).toThrow('unknown dtype "int8"');
  });

  it('writes one recipe per grid point and an index that reads back with the same weights', () => {
    const grid = weightGrid(3);
    const batch = gridRecipes(ingredients, grid, { outDtype: 'bfloat16' });
    expect(batch.files).toHaveLength(37);
    expect(batch.files[0].file).toBe('soup-001.yaml');
    expect(batch.files[36].uniform).toBe(true);
    batch.files.forEach((f, i) => {
      const doc = parse(f.yaml);
      expect(doc.out_dtype).toBe('bfloat16');
      expect(doc.models.map((m: { parameters: { weight: number } }) => m.parameters.weight)).toEqual(grid.points[i].weights);
    });
    const index = parseDelimited(batch.indexCsv, 'index.csv');
    expect(index.header).toEqual(['recipe', 'kind', 'weight: xLAM-2-70b-fc-r (FC)', 'weight: watt-tool-70B (FC)', 'weight: CoALM-70B']);
    expect(index.rows).toHaveLength(37);
    index.rows.forEach((row, i) => {
      expect(row[0]).toBe(batch.files[i].file);
      expect(row.slice(2).map(Number)).toEqual(grid.points[i].weights);
    });
  });
});
