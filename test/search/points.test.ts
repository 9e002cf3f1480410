import { describe, expect, it } from 'vitest';
import { gridRecipes, weightGrid } from '../../src/analysis';
import { balanced, patternSearch } from '../../src/search/adaptive';
import { baselinePoints, coalitionPoints, gridPoints, listPoints, pointKey } from '../../src/search/points';

describe('search points', () => {
  it("the paper's grid over 3 of 4 models: 36 lattice points + the uniform soup, zero weight elsewhere", () => {
    const g = gridPoints([0, 2, 3], 4);
    expect(g.length).toBe(37);
    expect(g.every((p) => p.weights[1] === 0 && Math.abs(p.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12)).toBe(true);
    expect(g.at(-1)).toMatchObject({ kind: 'uniform-experts' });
    expect(new Set(g.map((p) => pointKey(p.weights))).size).toBe(37);
  });

  it('baselines: each model alone, the uniform soup of all and of the experts; coalitions fill the rest of 2^n − 1', () => {
    const b = baselinePoints([0, 2], 3);
    expect(b.map((p) => p.kind)).toEqual(['single', 'single', 'single', 'uniform-all', 'uniform-experts']);
    const c = coalitionPoints([0, 1, 2], 3);
    expect(c.length).toBe(2 ** 3 - 1 - 3 - 1);
    const keys = new Set([...b, ...c].map((p) => pointKey(p.weights)));
    expect(keys.size).toBe(7); // every non-empty coalition of 3, once (uniform-experts {0,2} is also a coalition)
  });

  it('reads the index.csv souplab grid writes, by model name, in any column order', () => {
    const models = ['alpha', 'beta', 'gamma'];
    const batch = gridRecipes([{ name: 'gamma', checkpoint: 'g' }, { name: 'alpha', checkpoint: 'a' }], weightGrid(2));
    const points = listPoints('index.csv', batch.indexCsv, models);
    expect(points.length).toBe(10);
    expect(points[0]).toMatchObject({ kind: 'list', label: 'soup-001.yaml' });
    expect(points[0].weights).toEqual([0.9, 0, 0.1]);
    expect(() => listPoints('x.csv', 'recipe,weight: delta\na,1\n', models)).toThrow(/x\.csv: column "weight: delta" names no model/);
    expect(() => listPoints('x.csv', 'recipe,weight: alpha\na,-1\n', models)).toThrow(/x\.csv line 2: the weights must be ≥ 0/);
  });
});

describe('adaptive pattern search', () => {
  /** Every lattice point of n experts with `steps` units each ≥ 1. */
  const lattice = (n: number, steps: number) => weightGrid(n, { step: 1 / steps }).points.filter((p) => !p.uniform).map((p) => p.units!);

  it('starts at the balanced lattice point', () => {
    expect(balanced(3, 10)).toEqual([3, 3, 4]);
    expect(balanced(4, 10)).toEqual([2, 2, 3, 3]);
  });

  it('finds the grid optimum of concave objectives with fewer evaluations than the grid', async () => {
    for (const target of [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.4, 0.3, 0.3], [0.5, 0.1, 0.4]]) {
      const f = (u: number[]) => -u.reduce((s, x, i) => s + (x / 10 - target[i]) ** 2 * (i + 1), 0);
      const seen = new Set<string>();
      const r = await patternSearch(3, async (u) => (seen.add(u.join()), f(u)), { steps: 10 });
      const gridBest = Math.max(...lattice(3, 10).map(f));
      expect(r.objective).toBe(gridBest);
      expect(seen.size).toBeLessThan(36);
    }
  });
});
