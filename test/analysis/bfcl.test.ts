import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze, parseScoreTable, weightGrid } from '../../src/analysis';

// The real BFCL v3 leaderboard (121 models), shared read-only beside the repository.
const dir = fileURLToPath(new URL('../../../shared/data/bfcl-v3/', import.meta.url));
const text = readFileSync(`${dir}data_overall.csv`, 'utf8');

const LEAVES = [
  'Non-Live Simple AST',
  'Non-Live Multiple AST',
  'Non-Live Parallel AST',
  'Non-Live Parallel Multiple AST',
  'Live Simple AST',
  'Live Multiple AST',
  'Live Parallel AST',
  'Live Parallel Multiple AST',
  'Multi Turn Base',
  'Multi Turn Miss Func',
  'Multi Turn Miss Param',
  'Multi Turn Long Context',
  'Relevance Detection',
  'Irrelevance Detection',
];
const PAPER_70B = ['xLAM-2-70b-fc-r (FC)', 'watt-tool-70B (FC)', 'CoALM-70B'];

/** An independent reading: the file has no quoted fields, so a plain split is exact. */
function naiveColumns(): { models: string[]; get: (col: string) => (number | null)[] } {
  const lines = text.trim().split('\n');
  const header = lines[0].split(',');
  const rows = lines.slice(1).map((l) => l.split(','));
  const mi = header.indexOf('Model');
  return {
    models: rows.map((r) => r[mi]),
    get: (col) => {
      const j = header.indexOf(col);
      return rows.map((r) => (r[j] === 'N/A' ? null : parseFloat(r[j])));
    },
  };
}

/** Textbook Pearson via raw sums: n Σxy − Σx Σy over √(n Σx² − (Σx)²)(n Σy² − (Σy)²). */
function naivePearson(x: (number | null)[], y: (number | null)[]): { r: number; n: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  x.forEach((a, i) => {
    const b = y[i];
    if (a === null || b === null) return;
    n++;
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  });
  return { r: (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)), n };
}

describe('BFCL v3 overall table', () => {
  const table = parseScoreTable({ name: 'data_overall.csv', text });

  it('finds the model column, the 14 leaf categories, the 4 aggregates, and keeps rank/cost/latency out', () => {
    expect(table.modelColumn).toBe('Model');
    expect(table.models).toHaveLength(121);
    expect(table.categories).toEqual(LEAVES);
    expect(table.aggregates).toEqual(['Overall Acc', 'Non-Live AST Acc', 'Live Acc', 'Multi Turn Acc']);
    const kinds = Object.fromEntries(table.columns.map((c) => [c.name, c.kind]));
    for (const c of ['Rank', 'Cost ($ Per 1k Function Calls)', 'Latency Mean (s)', 'Latency 95th Percentile (s)']) expect(kinds[c]).toBe('metadata');
    expect(table.textColumns).toEqual(['Model Link', 'Organization', 'License']);
    // N/A cells are missing scores, not problems.
    expect(table.problems.filter((p) => p.severity === 'warning')).toEqual([]);
  });

  it('reads percent strings as the numbers written and N/A as missing', () => {
    const naive = naiveColumns();
    for (const c of LEAVES) {
      const ours = table.columns.find((col) => col.name === c)!.values;
      expect(ours).toEqual(naive.get(c));
    }
    expect(naive.get('Multi Turn Base').filter((v) => v === null).length).toBe(1);
  });

  it('Pearson matches a second, naive computation on every pair, with pairwise-complete counts', () => {
    const r = analyze(table, { candidates: PAPER_70B });
    const naive = naiveColumns();
    LEAVES.forEach((a, i) =>
      LEAVES.forEach((b, j) => {
        const ref = naivePearson(naive.get(a), naive.get(b));
        expect(r.pearson.n[i][j]).toBe(ref.n);
        expect(r.pearson.r[i][j]).toBeCloseTo(ref.r, 10);
      }),
    );
    // One model (the last row) has N/A in every leaf: 120 shared models per pair.
    expect(r.pearson.n[0][1]).toBe(120);
  });

  it("paper rule, τ = 0.2, the paper's 70B candidates: all three come out as experts", () => {
    const r = analyze(table, { tau: 0.2, candidates: PAPER_70B });
    expect(new Set(r.expertSet)).toEqual(new Set(PAPER_70B));
    expect(r.expertSet).toHaveLength(3);
    // Independent check of L and the experts from the naive reading.
    const naive = naiveColumns();
    const L = LEAVES.filter((a) => LEAVES.some((b) => b !== a && Math.abs(naivePearson(naive.get(a), naive.get(b)).r) < 0.2));
    expect(r.lowCorrelation).toEqual(L);
    for (const pick of r.experts) {
      const col = naive.get(pick.key);
      const scores = PAPER_70B.map((m) => col[naive.models.indexOf(m)]!);
      const best = Math.max(...scores);
      expect(pick.score).toBe(best);
      // Ties go to the first in table order.
      const firstInTable = PAPER_70B.filter((_, k) => scores[k] === best).sort((x, y) => naive.models.indexOf(x) - naive.models.indexOf(y))[0];
      expect(pick.model).toBe(firstInTable);
    }
    // CoALM-70B, the weakest overall, is kept as the Irrelevance Detection expert (as the paper notes).
    expect(r.experts.find((p) => p.key === 'Irrelevance Detection')!.model).toBe('CoALM-70B');
    // The grid over 3 experts has 37 points and holds the paper's 0.5/0.3/0.2 (xLAM/watt/CoALM).
    expect(r.grid.points).toHaveLength(37);
    const want = { 'xLAM-2-70b-fc-r (FC)': 0.5, 'watt-tool-70B (FC)': 0.3, 'CoALM-70B': 0.2 };
    const paperPoint = r.expertSet.map((m) => want[m as keyof typeof want]);
    expect(r.grid.points.some((p) => p.weights.every((w, k) => w === paperPoint[k]))).toBe(true);
    expect(r.grid).toEqual(weightGrid(3));
  });

  it('the default rule for L is ρ < τ; on BFCL v3 it selects the same L and 70B experts as |ρ| < τ', () => {
    const signed = analyze(table, { tau: 0.2, candidates: PAPER_70B });
    const absolute = analyze(table, { tau: 0.2, candidates: PAPER_70B, rule: 'absolute' });
    expect(signed.rule).toBe('signed');
    expect(absolute.rule).toBe('absolute');
    expect(signed.lowCorrelation).toEqual(absolute.lowCorrelation);
    expect(signed.experts).toEqual(absolute.experts);
    expect(signed.expertSet).toEqual(absolute.expertSet);
    expect(new Set(signed.expertSet)).toEqual(new Set(PAPER_70B));
    // Independently: L under ρ < τ from the naive reading.
    const naive = naiveColumns();
    expect(signed.lowCorrelation).toEqual(LEAVES.filter((a) => LEAVES.some((b) => b !== a && naivePearson(naive.get(a), naive.get(b)).r < 0.2)));
  });

  it('clusters: the multi-turn categories form one cluster; the heatmap order keeps clusters contiguous', () => {
    const r = analyze(table, { tau: 0.2, candidates: PAPER_70B, mode: 'clusters' });
    const multi = r.clusters.find((c) => c.categories.includes('Multi Turn Base'))!;
    for (const c of ['Multi Turn Miss Func', 'Multi Turn Miss Param', 'Multi Turn Long Context']) expect(multi.categories).toContain(c);
    expect(r.clusters.flatMap((c) => c.categories)).toEqual(r.heatmapOrder);
    expect([...r.heatmapOrder].sort()).toEqual([...LEAVES].sort());
    // Within a cluster the mean correlation is at least τ.
    for (const c of r.clusters) if (c.meanCorrelation !== null) expect(c.meanCorrelation).toBeGreaterThanOrEqual(0.2);
    expect(r.experts).toHaveLength(r.clusters.length);
    expect(r.expertSet.length).toBeLessThanOrEqual(r.paper.expertSet.length);
  });

  it('recognises aggregates by structure too: renamed to neutral names, weighted means are still found', () => {
    const renamed = text
      .replace('Overall Acc', 'Score A')
      .replace('Non-Live AST Acc', 'Score B')
      .replace('Multi Turn Acc', 'Score C')
      .replace('Live Acc', 'Score D');
    const t = parseScoreTable({ name: 'renamed.csv', text: renamed });
    // Overall, Non-Live AST and Multi Turn are exact weighted means of other columns; BFCL's Live Acc is not.
    expect(t.aggregates).toEqual(['Score A', 'Score B', 'Score C']);
    expect(t.columns.find((c) => c.name === 'Score B')!.reason).toMatch(/weighted mean of/);
    expect(t.categories).toEqual([...LEAVES.slice(0, 4), 'Score D', ...LEAVES.slice(4)]);
  });

  it('joins the per-section files on the model name, qualifying names they share', () => {
    const files = ['data_live.csv', 'data_non_live.csv'].map((f) => ({ name: f, text: readFileSync(`${dir}${f}`, 'utf8') }));
    const t = parseScoreTable(files);
    expect(t.models).toHaveLength(121);
    expect(t.categories).toContain('data_live: Irrelevance Detection');
    expect(t.categories).toContain('data_non_live: Irrelevance Detection');
    expect(t.aggregates).toContain('Live Overall Acc');
    expect(t.aggregates).toContain('data_live: AST Summary');
  });
});

/**
 * A category made from the real scores to run against "Live Simple AST" with ρ = −0.7 exactly:
 * −0.7·z(A) + √0.51·z(C⊥), C⊥ being "Irrelevance Detection" with its projection on A removed.
 */
function withAntiCategory(): { text: string; anti: (number | null)[] } {
  const naive = naiveColumns();
  const a = naive.get('Live Simple AST');
  const c = naive.get('Irrelevance Detection');
  const both = a.map((v, i) => v !== null && c[i] !== null);
  const mean = (x: (number | null)[]) => x.reduce<number>((s, v, i) => s + (both[i] ? v! : 0), 0) / both.filter(Boolean).length;
  const ma = mean(a);
  const mc = mean(c);
  const dot = (x: (number | null)[], mx: number, y: (number | null)[], my: number) => x.reduce<number>((s, v, i) => s + (both[i] ? (v! - mx) * (y[i]! - my) : 0), 0);
  const beta = dot(c, mc, a, ma) / dot(a, ma, a, ma);
  const perp = c.map((v, i) => (both[i] ? v! - mc - beta * (a[i]! - ma) : null));
  const sa = Math.sqrt(dot(a, ma, a, ma));
  const sp = Math.sqrt(dot(perp, 0, perp, 0));
  const anti = a.map((v, i) => (both[i] ? 50 - 0.7 * ((v! - ma) / sa) * 100 + Math.sqrt(0.51) * (perp[i]! / sp) * 100 : null));
  const lines = text.trim().split('\n');
  const out = [`${lines[0]},Anti Live Simple AST`, ...lines.slice(1).map((l, i) => `${l},${anti[i] === null ? 'N/A' : String(anti[i])}`)];
  return { text: out.join('\n') + '\n', anti };
}

describe('two anti-correlated categories (ρ = −0.7) on the real BFCL v3 scores', () => {
  const { text: antiText, anti } = withAntiCategory();
  const table = parseScoreTable({ name: 'anti.csv', text: antiText });
  const categories = ['Live Simple AST', 'Anti Live Simple AST'];

  it('ρ is −0.7 by an independent computation', () => {
    expect(naivePearson(naiveColumns().get('Live Simple AST'), anti).r).toBeCloseTo(-0.7, 10);
  });

  it('|ρ| < τ selects no experts; the default ρ < τ puts both into L and picks the best 70B model of each', () => {
    const old = analyze(table, { tau: 0.2, categories, candidates: PAPER_70B, rule: 'absolute' });
    expect(old.lowCorrelation).toEqual([]);
    expect(old.expertSet).toEqual([]);
    expect(old.warnings.join(' ')).toMatch(/no category has \|ρ\| < 0\.2 with another/);
    const now = analyze(table, { tau: 0.2, categories, candidates: PAPER_70B });
    expect(now.correlation.r[0][1]).toBeCloseTo(-0.7, 10);
    expect(now.lowCorrelation).toEqual(categories);
    const naive = naiveColumns();
    const best = (col: (number | null)[]) => PAPER_70B.reduce((m, x) => (col[naive.models.indexOf(x)]! > col[naive.models.indexOf(m)]! ? x : m));
    expect(now.experts.map((p) => p.model)).toEqual([best(naive.get('Live Simple AST')), best(anti)]);
    expect(now.expertSet.length).toBeGreaterThan(0);
  });
});
