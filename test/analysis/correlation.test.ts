import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageRanks, correlationMatrix, pearson, spearman } from '../../src/analysis';

describe('Pearson', () => {
  it('matches a hand computation', () => {
    // dx = [-1.5, -0.5, 0.5, 1.5], dy = [-3, -1, 0, 4]: Σdxdy = 11, Σdx² = 5, Σdy² = 26.
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toEqual({ r: 11 / Math.sqrt(130), n: 4 });
    expect(pearson([1, 2, 3], [3, 2, 1]).r).toBe(-1);
  });

  it('is pairwise-complete: skips models missing either score and keeps the count', () => {
    // Shared positions 0, 3, 4: x = [1, 4, 5], y = [2, 4, 6]. Σdxdy = 8, Σdx² = 78/9, Σdy² = 8.
    const res = pearson([1, 2, NaN, 4, 5], [2, NaN, 3, 4, 6]);
    expect(res.n).toBe(3);
    expect(res.r).toBeCloseTo(8 / Math.sqrt((78 / 9) * 8), 14);
  });

  it('is undefined (null, never NaN or 0) below 3 shared models or with a constant side', () => {
    expect(pearson([1, 2, NaN, 4], [2, NaN, 3, 4])).toEqual({ r: null, n: 2 });
    expect(pearson([3, 3, 3, 3], [1, 2, 3, 4])).toEqual({ r: null, n: 4 });
    // Constant only on the shared models: still undefined.
    expect(pearson([1, 5, 5, 5], [NaN, 1, 2, 3])).toEqual({ r: null, n: 3 });
    // Equal values whose floating mean is not exactly them.
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3]).r).toBeNull();
  });

  it('agrees with the raw-sums formula on random tables with holes', () => {
    const cell = fc.oneof(fc.constant(NaN), fc.integer({ min: 0, max: 10000 }).map((v) => v / 100));
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell), { minLength: 0, maxLength: 40 }), (pairs) => {
        const x = pairs.map((p) => p[0]);
        const y = pairs.map((p) => p[1]);
        const res = pearson(x, y);
        const both = pairs.filter(([a, b]) => !Number.isNaN(a) && !Number.isNaN(b));
        expect(res.n).toBe(both.length);
        const constant = (v: number[]) => v.every((e) => e === v[0]);
        if (both.length < 3 || constant(both.map((p) => p[0])) || constant(both.map((p) => p[1]))) {
          expect(res.r).toBeNull();
          return;
        }
        // The raw-sums formula on the cells in hundredths, which are integers: every sum below is exact
        // (≤ 40 · 10⁸), so the reference does not lose digits to cancellation on near-constant columns.
        const n = both.length;
        let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0; // prettier-ignore
        for (const [a, b] of both.map(([p, q]) => [Math.round(p * 100), Math.round(q * 100)])) {
          sx += a;
          sy += b;
          sxx += a * a;
          syy += b * b;
          sxy += a * b;
        }
        const ref = (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
        expect(res.r).not.toBeNull();
        expect(Math.abs(res.r! - ref)).toBeLessThan(1e-6);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Spearman', () => {
  it('uses average ranks for ties', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5, NaN]))).toEqual([2, 3.5, 3.5, 1, NaN]);
    // Ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5.
    expect(spearman([1, 2, 2, 3], [10, 20, 30, 40]).r).toBeCloseTo(4.5 / Math.sqrt(22.5), 14);
  });

  it('ranks only the shared models, and is 1 for any increasing relation', () => {
    // Without position 1, x and y are both increasing.
    expect(spearman([1, 100, 2, 3, 4], [1, NaN, 8, 27, 64])).toEqual({ r: 1, n: 4 });
    const m = correlationMatrix(['a', 'b'], [Float64Array.from([1, 100, 2, 3, 4]), Float64Array.from([1, NaN, 8, 27, 64])], 'spearman');
    expect(m.r[0][1]).toBe(1);
    const full = correlationMatrix(['a', 'b'], [Float64Array.from([1, 2, 3, 4]), Float64Array.from([1, 8, 27, 1000])], 'spearman');
    expect(full.r[0][1]).toBe(1);
  });
});

/** Naive average rank: 1 + (# smaller) + (# equal − 1) / 2, O(n²), no sorting. */
function naiveRanks(v: number[]): number[] {
  return v.map((a) => 1 + v.filter((b) => b < a).length + (v.filter((b) => b === a).length - 1) / 2);
}

describe('Spearman against a naive definition', () => {
  it('matrix entries equal Pearson of naive ranks over each pair\'s shared models', () => {
    const cell = fc.oneof(fc.constant(NaN), fc.integer({ min: 0, max: 8 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 25 }).chain((rows) => fc.array(fc.array(cell, { minLength: rows, maxLength: rows }), { minLength: 2, maxLength: 4 })), (cols) => {
        const m = correlationMatrix(cols.map((_, i) => `c${i}`), cols.map((c) => Float64Array.from(c)), 'spearman');
        for (let i = 0; i < cols.length; i++)
          for (let j = 0; j < cols.length; j++) {
            const shared = cols[i].flatMap((a, r) => (Number.isNaN(a) || Number.isNaN(cols[j][r]) ? [] : [[a, cols[j][r]]]));
            const ref = pearson(naiveRanks(shared.map((p) => p[0])), naiveRanks(shared.map((p) => p[1])));
            expect(m.n[i][j]).toBe(shared.length);
            if (ref.r === null) expect(m.r[i][j]).toBeNull();
            else expect(m.r[i][j]).toBeCloseTo(i === j ? 1 : ref.r, 12);
          }
      }),
      { numRuns: 200 },
    );
  });
});

describe('correlation matrix', () => {
  it('is symmetric, 1 on the diagonal where defined, null for a constant column, with counts', () => {
    const cols = [[1, 2, 3, 4], [2, 4, 5, 9], [7, 7, 7, 7], [1, NaN, 2, NaN]].map((c) => Float64Array.from(c));
    const m = correlationMatrix(['a', 'b', 'c', 'd'], cols);
    expect(m.r[0][0]).toBe(1);
    expect(m.r[0][1]).toBe(m.r[1][0]);
    expect(m.r[2]).toEqual([null, null, null, null]);
    expect(m.r[3]).toEqual([null, null, null, null]);
    expect(m.n[3]).toEqual([2, 2, 2, 2]);
    expect(m.n[0]).toEqual([4, 4, 4, 2]);
  });
});
