import { describe, expect, it } from 'vitest';
import { parseTrials, rankTrials, shapleyExact, shapleyFromTrials } from '../../src/analysis';

describe('exact Shapley values', () => {
  it('glove game: one left glove (player 0), two right gloves → 2/3, 1/6, 1/6', () => {
    const v = (mask: number) => ((mask & 1) && (mask & 6) ? 1 : 0);
    const { values, missing } = shapleyExact(3, v);
    expect(missing).toEqual([]);
    expect(values![0]).toBeCloseTo(2 / 3, 14);
    expect(values![1]).toBeCloseTo(1 / 6, 14);
    expect(values![2]).toBeCloseTo(1 / 6, 14);
  });

  it('v(S) = (Σ aᵢ)² gives φᵢ = aᵢ · Σ a, for any number of players', () => {
    const a = [1, 2, 3, 0.5, 4, 2.5];
    const total = a.reduce((s, x) => s + x, 0);
    const v = (mask: number) => a.reduce((s, x, i) => s + (mask & (1 << i) ? x : 0), 0) ** 2;
    const { values } = shapleyExact(a.length, v);
    values!.forEach((phi, i) => expect(phi).toBeCloseTo(a[i] * total, 10));
  });

  it('lists the missing coalitions instead of guessing', () => {
    const { values, missing } = shapleyExact(2, (m) => (m === 3 ? undefined : m));
    expect(values).toBeNull();
    expect(missing).toEqual([3]);
  });
});

/** A trials CSV in the grid-index format, objective = math + code = (Σ aᵢ over the soup)², a = 1, 2, 3. */
function gameTrials(skip: string[] = []): string {
  const a = { a: 1, b: 2, c: 3 };
  const names = ['a', 'b', 'c'] as const;
  const lines = ['recipe,kind,weight: a,weight: b,weight: c,math,code'];
  for (let mask = 1; mask < 8; mask++) {
    const members = names.filter((_, i) => mask & (1 << i));
    const id = members.join('+');
    if (skip.includes(id)) continue;
    const v = members.reduce((s, m) => s + a[m], 0) ** 2;
    // Uniform weights written rounded, as a spreadsheet would.
    const w = names.map((m) => (members.includes(m) ? (1 / members.length).toFixed(3) : '0'));
    lines.push([id, 'uniform', ...w, String(v / 4), String((3 * v) / 4)].join(','));
  }
  lines.push('tuned,grid,0.5,0.3,0.2,35,15');
  lines.push('broken,grid,0.2,0.2,0.6,N/A,10');
  return lines.join('\n') + '\n';
}

describe('trials', () => {
  it('reads weights and scores, ranks by the objective, finds the baselines', () => {
    const t = parseTrials({ name: 'trials.csv', text: gameTrials() });
    expect(t.models).toEqual(['a', 'b', 'c']);
    expect(t.scores.categories).toEqual(['math', 'code']);
    const tuned = t.trials.find((x) => x.id === 'tuned')!;
    expect(tuned.uniform).toBe(false);
    expect(t.trials.find((x) => x.id === 'a+b+c')!.uniform).toBe(true);

    const ranking = rankTrials(t, { experts: ['b', 'c'] });
    expect(ranking.objectiveColumns).toEqual(['math', 'code']);
    // Best first; equal objectives keep table order; the trial without a score last.
    expect(ranking.ranked.map((r) => [r.id, r.objective])).toEqual([
      ['tuned', 50],
      ['a+b+c', 36],
      ['b+c', 25],
      ['a+c', 16],
      ['a+b', 9],
      ['c', 9],
      ['b', 4],
      ['a', 1],
      ['broken', null],
    ]);
    expect(ranking.ranked.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 5, 7, 8, null]);
    expect(ranking.best!.id).toBe('tuned');
    expect(ranking.ranked.find((r) => r.id === 'c')!.rank).toBe(ranking.ranked.find((r) => r.id === 'a+b')!.rank);
    expect(ranking.baselines.bestSingle).toMatchObject({ id: 'c', model: 'c', objective: 9 });
    expect(ranking.baselines.uniformAll).toMatchObject({ id: 'a+b+c', objective: 36 });
    expect(ranking.baselines.uniformExperts).toMatchObject({ id: 'b+c', objective: 25 });
    expect(ranking.problems).toEqual(['trial "broken" lacks a score in "math", "code": not ranked']);
    // A single column as the objective.
    expect(rankTrials(t, { objective: { columns: ['code'] } }).best!.id).toBe('a+b+c');
    expect(() => rankTrials(t, { objective: { columns: ['maths'] } })).toThrow(/no score column "maths" \(did you mean "math"\?\)/);
  });

  it('Shapley values from the uniform soups: exact when every coalition is there', () => {
    const t = parseTrials({ name: 'trials.csv', text: gameTrials() });
    const s = shapleyFromTrials(t);
    expect(s.exact).toBe(true);
    expect(s.players).toEqual(['a', 'b', 'c']);
    // φᵢ = aᵢ · Σa = 6, 12, 18.
    [6, 12, 18].forEach((want, i) => expect(s.values[i]).toBeCloseTo(want, 10));
    expect(s.coalitions).toHaveLength(7);
    // A base-model score for the empty soup moves every value by −v(∅)/n.
    const based = shapleyFromTrials(t, { emptyValue: 3 });
    [6, 12, 18].forEach((want, i) => expect(based.values[i]).toBeCloseTo(want - 1, 10));
  });

  it('says which coalitions are missing, and can restrict the players', () => {
    const t = parseTrials({ name: 'trials.csv', text: gameTrials(['a+c', 'b']) });
    const s = shapleyFromTrials(t);
    expect(s.exact).toBe(false);
    expect(s.values).toEqual([null, null, null]);
    expect(s.missing).toEqual([['b'], ['a', 'c']]);
    // The game on {a, c} alone is complete: φ = aᵢ · (a_a + a_c) → 4, 12 … minus the missing {a, c}.
    const ac = shapleyFromTrials(parseTrials({ name: 'trials.csv', text: gameTrials(['b']) }), { players: ['a', 'c'] });
    expect(ac.exact).toBe(true);
    expect(ac.values[0]).toBeCloseTo(1 * 4, 10);
    expect(ac.values[1]).toBeCloseTo(3 * 4, 10);
  });

  it('reports bad weights and refuses a table without weight columns', () => {
    const t = parseTrials({ name: 't.csv', text: 'recipe,weight: a,weight: b,math\nx,1,oops,3\ny,0,0,4\nx,1,1,5\n' });
    expect(t.trials.map((x) => x.id)).toEqual(['x']);
    const msgs = t.problems.map((p) => p.message);
    expect(msgs).toContain('t.csv: trial "x", "weight: b": "oops" is not a weight; read as 0');
    expect(msgs).toContain('t.csv: trial "y" has no positive weight; skipped');
    expect(msgs).toContain('t.csv: trial "x" appears again at row 4; ignored');
    expect(() => parseTrials({ name: 't.csv', text: 'recipe,a,b\nx,1,2\n' })).toThrow(/no weight columns; name them "weight: <model>"/);
    const named = parseTrials({ name: 't.csv', text: 'recipe,a,b,math\nx,1,1,2\ny,1,0,3\n' }, { weightColumns: ['a', 'b'] });
    expect(named.models).toEqual(['a', 'b']);
    expect(named.scores.categories).toEqual(['math']);
  });
});
