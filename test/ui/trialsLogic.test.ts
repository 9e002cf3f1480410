import { describe, expect, it } from 'vitest';
import { parseTrials } from '../../src/analysis';
import { matchExperts } from '../../src/ui/ingredients/names';
import { bestTrialOf, usableObjective } from '../../src/ui/state/trialsStore';
import { objectiveChartKind, unitScale } from '../../src/ui/trials/chartKind';
import { deriveTrials } from '../../src/ui/trials/derive';
import { ternaryCorners, ternaryPoint } from '../../src/ui/trials/ternary';

/**
 * Trials generated from a documented rule (no real results): the objective of a soup is a concave
 * function of its weights, f(w) = 60 + 20·(1 − Σ(wᵢ − tᵢ)²) per category with targets tᵢ.
 */
function generatedTrials(models: string[], points: number[][]): string {
  const targets = [0.5, 0.3, 0.2];
  const lines = [['recipe', ...models.map((m) => `weight: ${m}`), 'Cat A', 'Cat B'].join(',')];
  points.forEach((w, i) => {
    const s = w.reduce((a, b) => a + b, 0);
    const n = w.map((x) => x / s);
    const d = n.reduce((acc, x, j) => acc + (x - targets[j]) ** 2, 0);
    lines.push([`soup-${i + 1}`, ...w.map(String), (60 + 20 * (1 - d)).toFixed(4), (50 + 10 * (1 - d)).toFixed(4)].join(','));
  });
  return lines.join('\n') + '\n';
}

const models = ['m-a', 'm-b', 'm-c'];
const subsets = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]];
const grid = [[0.5, 0.3, 0.2], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6]];

describe('trials derived for the Trials view', () => {
  const full = parseTrials({ name: 'trials.csv', text: generatedTrials(models, [...subsets, ...grid]) });

  it('the best trial is the rule\'s optimum, with weights by model name', () => {
    const best = bestTrialOf(full, null)!;
    expect(best.weights).toEqual({ 'm-a': 0.5, 'm-b': 0.3, 'm-c': 0.2 });
    expect(best.objective).toBeCloseTo(80 + 60, 6);
  });

  it('objective columns: a chosen subset, stale names ignored', () => {
    expect(usableObjective(full, ['Cat B', 'ghost'])).toEqual(['Cat B']);
    expect(usableObjective(full, ['ghost'])).toBeUndefined();
    expect(bestTrialOf(full, ['Cat B'])!.objective).toBeCloseTo(60, 6);
  });

  it('baselines and exact Shapley values when every coalition was evaluated', () => {
    const d = deriveTrials(full, null, ['m-a', 'm-b']);
    const r = d.ranking.value!;
    expect(r.best!.id).toBe('soup-8');
    expect(r.baselines.bestSingle!.model).toBe('m-a');
    expect(r.baselines.uniformAll!.id).toBe('soup-7');
    expect(r.baselines.uniformExperts!.id).toBe('soup-4');
    const s = d.shapley.value!;
    expect(s.exact).toBe(true);
    // Efficiency: the values add up to the grand coalition's value.
    const sum = s.values.reduce((a, b) => a! + b!, 0)!;
    expect(sum).toBeCloseTo(r.baselines.uniformAll!.objective!, 9);
    expect(deriveTrials(full, null, ['m-a', 'm-b'])).toBe(d);
  });

  it('names the missing coalitions and experts without weight columns', () => {
    const partial = parseTrials({ name: 'partial.csv', text: generatedTrials(models, [subsets[0], subsets[1], ...grid]) });
    const d = deriveTrials(partial, null, ['m-a', 'someone-else']);
    expect(d.shapley.value!.exact).toBe(false);
    expect(d.shapley.value!.missing.map((m) => m.join('+'))).toContain('m-c');
    expect(d.shapley.value!.missing).toHaveLength(5);
    expect(d.experts).toEqual({ missing: ['someone-else'] });
    expect(d.ranking.value!.baselines.uniformExperts).toBeNull();
  });

  it("the Scores view's experts are found in the trials as the Ingredients view matches them to checkpoints", () => {
    // The demo checkpoints' names in the trials; the leaderboard's names for them in the Scores view.
    const checkpoints = ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B', 'demo-CoALM-70B'];
    const table = parseTrials({ name: 'taste-trials.csv', text: generatedTrials(checkpoints, [...subsets, ...grid]) });
    const leaderboard = ['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)'];
    expect(matchExperts(leaderboard, checkpoints)).toEqual(['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B']);
    const d = deriveTrials(table, null, leaderboard);
    expect(d.experts).toEqual({ names: ['demo-xLAM-2-70b-fc-r', 'demo-watt-tool-70B'] });
    expect(d.ranking.value!.baselines.uniformExperts!.id).toBe('soup-4');
  });
});

describe('objective chart geometry', () => {
  it('picks a line for 2 ingredients, a ternary plot for 3, bars otherwise', () => {
    expect(objectiveChartKind(2)).toBe('line');
    expect(objectiveChartKind(3)).toBe('ternary');
    expect(objectiveChartKind(4)).toBe('bars');
    expect(objectiveChartKind(1)).toBe('bars');
  });

  it('ternary: corners are the pure soups, the centre is the uniform soup', () => {
    const side = 300;
    const corners = ternaryCorners(side);
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]].forEach((w, k) => {
      const p = ternaryPoint(w, side);
      expect(p.x).toBeCloseTo(corners[k][0], 9);
      expect(p.y).toBeCloseTo(corners[k][1], 9);
    });
    const c = ternaryPoint([1, 1, 1], side);
    expect(c.x).toBeCloseTo((corners[0][0] + corners[1][0] + corners[2][0]) / 3, 9);
    expect(c.y).toBeCloseTo((corners[0][1] + corners[1][1] + corners[2][1]) / 3, 9);
    // Unnormalised weights land where their normalised ones do.
    expect(ternaryPoint([2, 6, 2], side)).toEqual(ternaryPoint([0.2, 0.6, 0.2], side));
  });

  it('unit scale maps a flat range to the middle', () => {
    expect(unitScale(5, 0, 10)).toBe(0.5);
    expect(unitScale(3, 3, 3)).toBe(0.5);
    expect(unitScale(0, 0, 10)).toBe(0);
  });
});
