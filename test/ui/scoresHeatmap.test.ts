import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze, parseScoreTable } from '../../src/analysis';
import { formatRho, heatmapModel, moveInGrid } from '../../src/ui/scores/heatmapModel';

const bfcl = parseScoreTable({ name: 'data_overall.csv', text: readFileSync('public/demo/bfcl-v3/data_overall.csv', 'utf8') });

describe('heatmap model on the real BFCL v3 table', () => {
  const a = analyze(bfcl, { tau: 0.2 });
  const m = heatmapModel(a);

  it('lays the matrix out in dendrogram leaf order, symmetric, with ρ and n from the analysis', () => {
    const k = a.categories.length;
    expect(m.order).toEqual(a.heatmapOrder);
    expect(m.cells).toHaveLength(k * k);
    for (const c of m.cells) {
      const i = a.categories.indexOf(c.rowName);
      const j = a.categories.indexOf(c.colName);
      expect(c.rho).toBe(a.correlation.r[i][j]);
      expect(c.n).toBe(a.correlation.n[i][j]);
      expect(m.cells[c.col * k + c.row].rho).toBe(c.rho);
    }
  });

  it('dots the off-diagonal pairs with |ρ| < τ and bars those with ρ ≤ −τ; a category has a mark iff it is in L (default ρ < τ)', () => {
    for (const c of m.cells) {
      expect(c.low).toBe(c.row !== c.col && c.rho !== null && Math.abs(c.rho) < 0.2);
      expect(c.anti).toBe(c.row !== c.col && c.rho !== null && c.rho <= -0.2);
    }
    // BFCL v3 has anti-correlated pairs at τ = 0.2 (down to ρ ≈ −0.48).
    expect(m.antiCount).toBeGreaterThan(0);
    expect(m.antiCount % 2).toBe(0);
    expect(a.rule).toBe('signed');
    const marked = new Set(m.cells.filter((c) => c.low || c.anti).map((c) => c.rowName));
    expect([...marked].sort()).toEqual([...a.lowCorrelation].sort());
    expect(m.lowCount % 2).toBe(0);
  });

  it('under |ρ| < τ the dots alone decide L; the bars are the same cells, now outside L', () => {
    const abs = analyze(bfcl, { tau: 0.2, rule: 'absolute' });
    const hm = heatmapModel(abs);
    const dotted = new Set(hm.cells.filter((c) => c.low).map((c) => c.rowName));
    expect([...dotted].sort()).toEqual([...abs.lowCorrelation].sort());
    expect(hm.cells.map((c) => c.anti)).toEqual(m.cells.map((c) => c.anti));
  });

  it('marks fewer cells as τ falls, none at τ = 0', () => {
    const counts = [0.5, 0.3, 0.2, 0.1, 0].map((tau) => heatmapModel(analyze(bfcl, { tau })).lowCount);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1]);
    expect(counts[0]).toBeGreaterThan(counts[2]);
    expect(counts[4]).toBe(0);
  });

  it('turns clusters into contiguous blocks covering every row', () => {
    let next = 0;
    for (const b of m.blocks) {
      expect(b.start).toBe(next);
      expect(m.order.slice(b.start, b.end)).toEqual(a.clusters[m.blocks.indexOf(b)].categories);
      next = b.end;
    }
    expect(next).toBe(m.order.length);
  });

  it('counts undefined cells: a constant category has no defined ρ', () => {
    const text = ['model,a,b,c,flat', 'm1,1,2,3,5', 'm2,2,1,5,5', 'm3,3,5,4,5', 'm4,4,3,1,5'].join('\n');
    const t = parseScoreTable({ name: 'flat.csv', text }, { detectDerived: false });
    const hm = heatmapModel(analyze(t, { categories: ['a', 'b', 'c', 'flat'] }));
    // The flat column's row and column, diagonal included: 4 + 4 − 1.
    expect(hm.undefinedCount).toBe(7);
    expect(hm.cells.filter((c) => c.rho === null).every((c) => c.rowName === 'flat' || c.colName === 'flat')).toBe(true);
    expect(hm.cells.some((c) => c.low && (c.rowName === 'flat' || c.colName === 'flat'))).toBe(false);
  });
});

describe('heatmap keyboard moves and number format', () => {
  it('moves within the grid and stops at the edges', () => {
    expect(moveInGrid('ArrowRight', 0, 0, 3)).toEqual([0, 1]);
    expect(moveInGrid('ArrowRight', 0, 2, 3)).toEqual([0, 2]);
    expect(moveInGrid('ArrowLeft', 1, 0, 3)).toEqual([1, 0]);
    expect(moveInGrid('ArrowDown', 2, 1, 3)).toEqual([2, 1]);
    expect(moveInGrid('ArrowUp', 2, 1, 3)).toEqual([1, 1]);
    expect(moveInGrid('Home', 2, 1, 3)).toEqual([2, 0]);
    expect(moveInGrid('End', 2, 1, 3)).toEqual([2, 2]);
    expect(moveInGrid('Home', 2, 1, 3, true)).toEqual([0, 0]);
    expect(moveInGrid('End', 0, 1, 3, true)).toEqual([2, 2]);
    expect(moveInGrid('PageDown', 0, 1, 3)).toEqual([2, 1]);
    expect(moveInGrid('a', 0, 1, 3)).toBeNull();
  });

  it('formats ρ with a true minus sign and no negative zero', () => {
    expect(formatRho(-0.4812)).toBe('−0.48');
    expect(formatRho(0.07)).toBe('0.07');
    expect(formatRho(-0.001)).toBe('0.00');
    expect(formatRho(null)).toBe('undefined');
  });
});
