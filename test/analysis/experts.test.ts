import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyze, averageLinkage, cutDendrogram, expertSetOf, lowCorrelationSet, parseScoreTable, pickExpert, qualifiesForL } from '../../src/analysis';

// Correlations chosen by hand: A–B 0.9, C–D 0.8, everything across ≤ 0.3.
const R = [
  [1, 0.9, 0.1, 0.0],
  [0.9, 1, 0.3, 0.2],
  [0.1, 0.3, 1, 0.8],
  [0.0, 0.2, 0.8, 1],
];

describe('average-linkage clusters', () => {
  it('merges by mean correlation and cuts where it falls below τ', () => {
    const d = averageLinkage(R);
    expect(d.merges.map((m) => [m.left, m.right, m.size])).toEqual([
      [0, 1, 2],
      [2, 3, 2],
      [4, 5, 4],
    ]);
    expect(d.merges[0].correlation).toBe(0.9);
    expect(d.merges[1].correlation).toBe(0.8);
    // {A,B}–{C,D}: mean of 0.1, 0.0, 0.3, 0.2.
    expect(d.merges[2].correlation).toBeCloseTo(0.15, 14);
    expect(d.merges[2].distance).toBeCloseTo(0.85, 14);
    const names = ['A', 'B', 'C', 'D'];
    expect(cutDendrogram(d, names, R, 0.2).map((c) => c.categories)).toEqual([['A', 'B'], ['C', 'D']]);
    expect(cutDendrogram(d, names, R, 0.15).map((c) => c.categories)).toEqual([['A', 'B', 'C', 'D']]);
    expect(cutDendrogram(d, names, R, 0.95).map((c) => c.label)).toEqual(['A', 'B', 'C', 'D']);
    expect(cutDendrogram(d, names, R, 0.2)[1]).toEqual({ label: 'C (+1)', categories: ['C', 'D'], meanCorrelation: 0.8 });
  });

  it('gives a leaf order that keeps clusters together whatever the table order', () => {
    // Table order A, C, B, D.
    const perm = [0, 2, 1, 3];
    const r = perm.map((i) => perm.map((j) => R[i][j]));
    const d = averageLinkage(r);
    expect(d.leafOrder.map((i) => ['A', 'C', 'B', 'D'][i])).toEqual(['A', 'B', 'C', 'D']);
  });

  it('averages only defined correlations, and never joins clusters with no defined link before the end', () => {
    const r: (number | null)[][] = [
      [1, 0.9, null, 0.0, null],
      [0.9, 1, 0.3, 0.2, null],
      [null, 0.3, 1, 0.8, null],
      [0.0, 0.2, 0.8, 1, null],
      [null, null, null, null, null],
    ];
    const d = averageLinkage(r);
    // {A,B}–{C,D} over the three defined pairs: (0.0 + 0.3 + 0.2) / 3.
    expect(d.merges[2].correlation).toBeCloseTo(0.5 / 3, 14);
    expect(d.merges[3]).toMatchObject({ distance: null, correlation: null, size: 5 });
    const clusters = cutDendrogram(d, ['A', 'B', 'C', 'D', 'E'], r, 0);
    expect(clusters.map((c) => c.categories)).toEqual([['A', 'B', 'C', 'D'], ['E']]);
    expect(clusters[1].meanCorrelation).toBeNull();
  });
});

/**
 * Average linkage from scratch: at every step, recompute every cluster pair's mean over defined ρ. The
 * documented rule: means are compared on ρ rounded to 2⁻³⁰ (integer sums, exact in any order); equal
 * ones go to the pair whose first linked pair of categories (i·k + j, i < j, ρ defined) comes first.
 */
function naiveLinkage(r: (number | null)[][]): (number | null)[] {
  const k = r.length;
  let clusters = r.map((_, i) => [i]);
  const heights: (number | null)[] = [];
  while (clusters.length > 1) {
    let best: [number, number] | null = null;
    let bestKey = -Infinity;
    let bestLink = Infinity;
    let bestMean = 0;
    for (let a = 0; a < clusters.length; a++)
      for (let b = a + 1; b < clusters.length; b++) {
        const pairs = clusters[a].flatMap((i) => clusters[b].map((j) => [Math.min(i, j), Math.max(i, j)] as const)).filter(([i, j]) => r[i][j] !== null);
        if (pairs.length === 0) continue;
        const mean = pairs.reduce((s, [i, j]) => s + r[i][j]!, 0) / pairs.length;
        const key = pairs.reduce((s, [i, j]) => s + Math.round(r[i][j]! * 2 ** 30), 0) / pairs.length;
        const link = Math.min(...pairs.map(([i, j]) => i * k + j));
        if (key > bestKey || (key === bestKey && link < bestLink)) {
          [best, bestKey, bestLink, bestMean] = [[a, b], key, link, mean];
        }
      }
    const [a, b] = best ?? [0, 1];
    heights.push(best ? bestMean : null);
    clusters = [...clusters.filter((_, i) => i !== a && i !== b), [...clusters[a], ...clusters[b]]];
  }
  return heights;
}

describe('average linkage against a from-scratch computation', () => {
  // Any doubles, near ties included: the rule above decides them the same way whatever the summation
  // order, so this holds for every input (fast-check prints the seed and the matrix when it does not).
  it('merges at the same mean correlations on random matrices with undefined entries', () => {
    const entry = fc.oneof(fc.constant(null), fc.double({ min: -1, max: 1, noNaN: true }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }).chain((k) => fc.array(entry, { minLength: (k * (k - 1)) / 2, maxLength: (k * (k - 1)) / 2 }).map((upper) => ({ k, upper }))), ({ k, upper }) => {
        const r: (number | null)[][] = Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : null)));
        let t = 0;
        for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) r[i][j] = r[j][i] = upper[t++];
        const d = averageLinkage(r);
        const ref = naiveLinkage(r);
        expect(d.merges).toHaveLength(k - 1);
        const ours = d.merges.map((m) => m.correlation);
        ours.forEach((v, i) => (ref[i] === null ? expect(v).toBeNull() : expect(v).toBeCloseTo(ref[i]!, 10)));
        expect([...d.leafOrder].sort((x, y) => x - y)).toEqual([...Array(k).keys()]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the paper\'s rule', () => {
  it('L holds categories with some ρ < τ by default (anti-correlated partners count); |ρ| < τ on request; undefined ρ never counts', () => {
    const r: (number | null)[][] = [
      [1, -0.9, 0.5, null],
      [-0.9, 1, 0.15, null],
      [0.5, 0.15, 1, null],
      [null, null, null, null],
    ];
    const cats = ['a', 'b', 'c', 'd'];
    expect(lowCorrelationSet(cats, r, 0.2)).toEqual(['a', 'b', 'c']);
    expect(lowCorrelationSet(cats, r, 0.2, 'signed')).toEqual(['a', 'b', 'c']);
    expect(lowCorrelationSet(cats, r, 0.2, 'absolute')).toEqual(['b', 'c']);
    expect(lowCorrelationSet(cats, r, 0.95, 'absolute')).toEqual(['a', 'b', 'c']);
    // τ = 0: only strictly negative partners, under the signed rule; nothing under the absolute one.
    expect(lowCorrelationSet(cats, r, 0)).toEqual(['a', 'b']);
    expect(lowCorrelationSet(cats, r, 0, 'absolute')).toEqual([]);
    expect([qualifiesForL(-0.7, 0.2, 'signed'), qualifiesForL(-0.7, 0.2, 'absolute'), qualifiesForL(0.2, 0.2, 'signed'), qualifiesForL(null, 1, 'signed')]).toEqual([true, false, false, false]);
  });

  it('analyze: the rule is in the result, an unknown rule is refused in words', () => {
    const t = parseScoreTable({ name: 't.csv', text: 'model,x,y\nm1,1,9\nm2,2,7\nm3,3,8\nm4,4,5\n' });
    const signed = analyze(t, { tau: 0.2 });
    expect(signed.rule).toBe('signed');
    expect(signed.lowCorrelation).toEqual(['x', 'y']);
    expect(signed.expertSet).toEqual(['m4', 'm1']);
    const absolute = analyze(t, { tau: 0.2, rule: 'absolute' });
    expect(absolute.lowCorrelation).toEqual([]);
    expect(absolute.warnings).toContain("no category has |ρ| < 0.2 with another: the paper's rule selects no experts; raise τ or use the clusters mode");
    expect(() => analyze(t, { rule: 'magnitude' as never })).toThrow(/the rule for L must be signed \(ρ < τ\) or absolute \(\|ρ\| < τ\), not "magnitude"/);
  });

  it('an expert is the best candidate; a tie goes to the first in table order, not in the candidate list', () => {
    const models = ['m0', 'm1', 'm2', 'm3'];
    const scores = [70, 90, 90, null];
    const p = pickExpert('cat', ['cat'], models, [2, 1, 3], (m) => scores[m]);
    expect(p).toEqual({ key: 'cat', categories: ['cat'], model: 'm1', score: 90, runnerUp: { model: 'm2', score: 90 }, tiedWith: ['m2'] });
    expect(pickExpert('cat', ['cat'], models, [3], (m) => scores[m]).model).toBeNull();
  });

  it('the expert set is the distinct experts in first-appearance order', () => {
    const pick = (model: string | null) => ({ key: 'k', categories: [], model, score: 0, runnerUp: null, tiedWith: [] });
    expect(expertSetOf([pick('b'), pick('a'), pick('b'), pick(null), pick('c'), pick('a')])).toEqual(['b', 'a', 'c']);
  });
});

describe('analyze on a hand-made table', () => {
  // Five models; math and code move together (ρ ≈ 0.97); chat is uncorrelated with both (ρ = 0 exactly:
  // its deviations are orthogonal to theirs); "flat" is the same for everyone.
  const csv = [
    'model,math,code,chat,flat,Overall',
    'base,10,10,30,5,0',
    'mathy,90,80,60,5,0',
    'coder,80,95,45,5,0',
    'talker,20,25,85,5,0',
    'mixed,50,55,80,N/A,0',
  ].join('\n');
  const table = parseScoreTable({ name: 'hand.csv', text: csv });

  it('computes L, experts and grid in paper mode; --candidates restricts experts but not correlations', () => {
    expect(table.categories).toEqual(['math', 'code', 'chat', 'flat']);
    const all = analyze(table);
    const restricted = analyze(table, { candidates: ['base', 'mathy', 'talker'] });
    expect(restricted.pearson).toEqual(all.pearson);
    // flat is constant: undefined with everything, never in L, its own cluster.
    expect(all.pearson.r[3]).toEqual([null, null, null, null]);
    expect(all.pearson.r[0][2]).toBeCloseTo(0, 12);
    expect(all.pearson.r[1][2]).toBeCloseTo(0, 12);
    expect(all.lowCorrelation).toEqual(['math', 'code', 'chat']);
    expect(all.experts.map((p) => [p.key, p.model])).toEqual([
      ['math', 'mathy'],
      ['code', 'coder'],
      ['chat', 'talker'],
    ]);
    expect(all.expertSet).toEqual(['mathy', 'coder', 'talker']);
    expect(all.grid.points).toHaveLength(37);
    expect(restricted.experts.map((p) => p.model)).toEqual(['mathy', 'mathy', 'talker']);
    expect(restricted.expertSet).toEqual(['mathy', 'talker']);
    expect(restricted.grid.points.map((p) => p.weights)).toHaveLength(10);
    expect(all.warnings.some((w) => w.includes('"flat" has no defined correlation'))).toBe(true);
  });

  it('clusters mode: one expert per cluster on the mean score, needing every score of the cluster', () => {
    const r = analyze(table, { mode: 'clusters' });
    expect(r.clusters.map((c) => c.categories)).toEqual([['math', 'code'], ['chat'], ['flat']]);
    const [mc, chat, flat] = r.experts;
    // Means over math+code: mathy 85, coder 87.5.
    expect([mc.key, mc.model, mc.score]).toEqual(['math (+1)', 'coder', 87.5]);
    expect(chat.model).toBe('talker');
    // flat: every candidate with a score ties at 5; "mixed" has none. The first in table order wins, with a note.
    expect(flat.model).toBe('base');
    expect(flat.tiedWith).toEqual(['mathy', 'coder', 'talker']);
    expect(r.warnings.some((w) => w.startsWith('tie on "flat"'))).toBe(true);
    expect(r.expertSet).toEqual(['coder', 'talker', 'base']);
    expect(r.paper.expertSet).toEqual(['mathy', 'coder', 'talker']);
  });

  it('correlates a chosen subset of rows, and explains bad names', () => {
    const sub = analyze(table, { rows: ['base', 'mathy', 'coder'] });
    expect(sub.pearson.n[0][1]).toBe(3);
    expect(sub.rows).toEqual(['base', 'mathy', 'coder']);
    expect(() => analyze(table, { candidates: ['mathz'] })).toThrow('candidates: no model "mathz" in the table (did you mean "mathy"?)');
    expect(() => analyze(table, { categories: ['math'] })).toThrow('need at least 2 categories');
    expect(() => analyze(table, { tau: 2 })).toThrow('τ must be between 0 and 1');
  });

  it('keeps the analysis when the grid would be too large to list, with the uniform soup only', () => {
    const r = analyze(table, { step: 0.01, maxGridPoints: 1000 });
    expect(r.expertSet).toHaveLength(3);
    expect(r.grid.points.map((p) => p.weights)).toEqual([[1 / 3, 1 / 3, 1 / 3]]);
    // C(99, 2) + 1 = 4852 points.
    expect(r.warnings).toContain('3 experts with step 0.01 make 4852 grid points, more than 1000: only the uniform soup is listed; use a larger step');
    expect(analyze(table, { step: 0.01 }).grid.points).toHaveLength(4852);
  });

  it('Spearman is used for L and clusters when asked; Pearson is still reported', () => {
    const s = analyze(table, { method: 'spearman' });
    expect(s.correlation.method).toBe('spearman');
    expect(s.pearson.method).toBe('pearson');
    expect(s.pearson).toEqual(analyze(table).pearson);
  });
});
