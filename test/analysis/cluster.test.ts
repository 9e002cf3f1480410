import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageLinkage, cutDendrogram, type DendrogramMerge } from '../../src/analysis';

/**
 * Average linkage the slow, obvious way (O(k³) and worse): every step recomputes the mean of the defined ρ
 * between every pair of clusters from their members, joins the highest (ties: the pair whose first
 * linked pair of categories — defined ρ, (i, j) with i < j in table order — comes first), and once no pair has a defined ρ joins the two clusters with the
 * earliest categories at null. Node ids scipy-style; the side with the earliest category is `left`.
 */
function naiveDendrogram(r: (number | null)[][]): { merges: DendrogramMerge[]; leafOrder: number[] } {
  const k = r.length;
  let clusters = r.map((_, i) => ({ id: i, members: [i] }));
  const merges: DendrogramMerge[] = [];
  const kids = new Map<number, [number, number]>();
  while (clusters.length > 1) {
    let best: { a: number; b: number; mean: number; key: [number, number] } | null = null;
    const linked = (i: number, j: number): boolean => r[i][j] !== null;
    for (let a = 0; a < clusters.length; a++)
      for (let b = 0; b < clusters.length; b++) {
        if (a === b) continue;
        const vals = clusters[a].members.flatMap((i) => clusters[b].members.map((j) => r[i][j])).filter((v): v is number => v !== null);
        if (vals.length === 0) continue;
        const mean = vals.reduce((x, y) => x + y, 0) / vals.length;
        const pairs = clusters[a].members.flatMap((i) => clusters[b].members.filter((j) => linked(i, j)).map((j): [number, number] => [Math.min(i, j), Math.max(i, j)]));
        const key = pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1])[0];
        if (best === null || mean > best.mean || (mean === best.mean && (key[0] < best.key[0] || (key[0] === best.key[0] && key[1] < best.key[1])))) best = { a, b, mean, key };
      }
    let pair: [number, number];
    if (best) pair = [best.a, best.b];
    else {
      const byFirst = clusters.map((c, i) => [Math.min(...c.members), i]).sort((x, y) => x[0] - y[0]);
      pair = [byFirst[0][1], byFirst[1][1]];
    }
    const [A, B] = pair.map((i) => clusters[i]).sort((x, y) => Math.min(...x.members) - Math.min(...y.members));
    const id = k + merges.length;
    merges.push({ left: A.id, right: B.id, distance: best ? 1 - best.mean : null, correlation: best ? best.mean : null, size: A.members.length + B.members.length });
    kids.set(id, [A.id, B.id]);
    clusters = [...clusters.filter((c) => c !== A && c !== B), { id, members: [...A.members, ...B.members] }];
  }
  const leafOrder: number[] = [];
  const walk = (id: number): void => {
    const ch = kids.get(id);
    if (ch) ch.forEach(walk);
    else leafOrder.push(id);
  };
  if (k > 0) walk(clusters[0].id);
  return { merges, leafOrder };
}

/** A symmetric ρ matrix from its upper triangle; the diagonal is 1, or null for a constant category. */
function symmetric(k: number, upper: (number | null)[]): (number | null)[][] {
  const r: (number | null)[][] = Array.from({ length: k }, () => new Array<number | null>(k).fill(null));
  let t = 0;
  for (let i = 0; i < k; i++) {
    r[i][i] = 1;
    for (let j = i + 1; j < k; j++) r[i][j] = r[j][i] = upper[t++];
  }
  return r;
}

const matrices = (entry: fc.Arbitrary<number | null>, maxK: number) =>
  fc
    .integer({ min: 0, max: maxK })
    .chain((k) => fc.array(entry, { minLength: (k * (k - 1)) / 2, maxLength: (k * (k - 1)) / 2 }).map((upper) => symmetric(k, upper)));

describe('average linkage (nearest-neighbour chain) against the naive greedy algorithm', () => {
  // Quarters: sums and means of a few are exact, so ties are real ties for both algorithms.
  const tied = fc.oneof(fc.constant(null), fc.constantFrom(-1, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1));
  // Fine-grained ρ, still on a grid (k/1024) so both algorithms' sums are exact: with arbitrary doubles,
  // summing in another order can move a near-tie by an ulp, and either answer is then right.
  const continuous = fc.oneof(fc.constant(null), fc.integer({ min: -1024, max: 1024 }).map((n) => n / 1024));

  for (const [what, entry] of [
    ['many ties and undefined ρ', tied],
    ['continuous ρ and undefined ρ', continuous],
    ['mostly undefined ρ', fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: tied })],
  ] as const)
    it(`gives the same joins, heights, leaf order and clusters: ${what}`, () => {
      fc.assert(
        fc.property(matrices(entry, 14), fc.constantFrom(-0.5, 0, 0.2, 0.5, 0.9), (r, tau) => {
          const ours = averageLinkage(r);
          const ref = naiveDendrogram(r);
          expect(ours.merges).toEqual(ref.merges);
          expect(ours.leafOrder).toEqual(ref.leafOrder);
          const names = r.map((_, i) => `c${i}`);
          expect(cutDendrogram(ours, names, r, tau)).toEqual(cutDendrogram(ref, names, r, tau));
        }),
        { numRuns: 400 },
      );
    });

  it('handles a constant category (undefined with everything) and an all-tied matrix', () => {
    const r = symmetric(6, [0.5, 0.5, null, 0.5, 0.5, 0.5, null, 0.5, 0.5, null, 0.5, 0.5, null, null, null]);
    r[3][3] = null;
    expect(averageLinkage(r)).toEqual(naiveDendrogram(r));
  });
});
