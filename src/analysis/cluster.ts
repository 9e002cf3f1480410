/**
 * Average-linkage (UPGMA) clustering of categories on the distance 1 − ρ.
 *
 * Undefined correlations: the average between two clusters is taken over the category pairs whose ρ
 * is defined (an undefined ρ is "no evidence", neither close nor far). Two clusters with no defined
 * pair between them are never joined by evidence: they are joined last, at distance null, only to
 * complete the tree, and never fall in the same cluster at any τ. A category whose ρ is undefined
 * with everything (a constant column) is thus a cluster of its own.
 *
 * Near ties: which join comes first is decided on ρ rounded to a grid of 2⁻³⁰ (≈ 9.3e-10), whose sums
 * are exact in float64 for any table `analyze` takes, so the decision does not depend on the order in
 * which the means were summed; means equal on that grid are tied and go to the documented tie-break.
 * Without it, two means within an ulp of each other could be ordered either way by two correct
 * implementations, and the trees below them differ. The heights reported are the unrounded means.
 */

/**
 * ρ is compared on multiples of 2⁻³⁰. Two clusters share at most k²/4 pairs, so a sum of grid values
 * stays below 2⁵³ (exact) for up to 5,000 categories; `analyze` takes at most 2,000.
 */
const DECISION_GRID = 2 ** 30;
/** The grid value of ρ, as an integer count of 2⁻³⁰ steps (exact in float64). */
export const onDecisionGrid = (rho: number): number => Math.round(rho * DECISION_GRID);

/** One join of the dendrogram, scipy-style: nodes 0..k−1 are the categories, node k+m is merge m. */
export interface DendrogramMerge {
  /** Node ids of the two sides; `left` holds the category earliest in table order. */
  left: number;
  right: number;
  /** 1 − mean ρ between the two sides; null when no pair between them has a defined ρ. */
  distance: number | null;
  /** Mean ρ between the two sides (1 − distance); null likewise. */
  correlation: number | null;
  /** Categories under this node. */
  size: number;
}

export interface Dendrogram {
  /** k − 1 merges in the order they happened (non-decreasing distance, null ones last). */
  merges: DendrogramMerge[];
  /** Category indices in dendrogram leaf order: the heatmap's block order. */
  leafOrder: number[];
}

export interface CategoryCluster {
  /** Short name: the first category, plus "(+n)" for the others ("Multi Turn Base (+3)"). */
  label: string;
  /** Member categories in leaf order. */
  categories: string[];
  /** Mean ρ over the defined pairs inside the cluster; null for a single category. */
  meanCorrelation: number | null;
}

/** A join found by the chain: node ids of its sides (earliest category left), mean ρ, tie-break, size. */
interface Join {
  a: number;
  b: number;
  corr: number;
  /** The mean on the decision grid (sum of grid values / count): what joins are ordered by. */
  key: number;
  link: number;
  size: number;
}

/**
 * Builds the full dendrogram from a symmetric correlation matrix (null = undefined).
 *
 * The result is the greedy one — at each step join the two clusters with the highest mean ρ, ties to
 * the pair whose first linked pair of categories comes first in table order (the linked pairs are
 * those with a defined ρ; when every ρ is defined this is the pair whose earliest categories come
 * first) — computed in O(k²) time and memory with the nearest-neighbour chain. The chain is exact for
 * this linkage because that order is reducible: the mean ρ of A∪B with C is a count-weighted mean of
 * those of A and B, and its first linked pair is A's or B's with C. (Tying on the clusters' earliest
 * categories instead is not reducible: A∪B may take its earliest category from a side with no evidence
 * about C.) The chain finds the greedy tree; the greedy order of its joins is then replayed from it.
 */
export function averageLinkage(r: (number | null)[][]): Dendrogram {
  const k = r.length;
  if (k === 0) return { merges: [], leafOrder: [] };
  // Sum of defined ρ and count of defined pairs between clusters, by slot (a cluster lives in the slot
  // of one of its members; Lance–Williams: the sums of a join are the sums of its sides).
  const sum = new Float64Array(k * k);
  // The same sums on the decision grid (exact integers).
  const gridSum = new Float64Array(k * k);
  const count = new Int32Array(k * k);
  // The first linked pair of categories between two clusters, as i·k + j with i < j (the tie-break).
  const link = new Int32Array(k * k).fill(2147483647);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      const v = i === j ? null : r[i][j];
      if (v !== null) {
        sum[i * k + j] = v;
        gridSum[i * k + j] = onDecisionGrid(v);
        count[i * k + j] = 1;
        link[i * k + j] = Math.min(i, j) * k + Math.max(i, j);
      }
    }
  const first = Array.from({ length: k }, (_, i) => i);
  const node = Array.from({ length: k }, (_, i) => i);
  const size = new Array<number>(k).fill(1);
  // 0: active, 1: joined into another slot, 2: active but with no defined pair left (joined last, at null).
  const state = new Uint8Array(k);
  // Tree joins in the order the chain finds them; nodes k + index.
  const found: Join[] = [];
  const chain: number[] = [];
  for (;;) {
    if (chain.length === 0) {
      let start = -1;
      for (let i = 0; i < k && start < 0; i++) if (state[i] === 0) start = i;
      if (start < 0) break;
      chain.push(start);
    }
    const x = chain[chain.length - 1];
    let best = -1;
    let bk = -Infinity;
    let bl = 0;
    for (let y = 0; y < k; y++) {
      if (y === x || state[y] !== 0 || count[x * k + y] === 0) continue;
      const c = gridSum[x * k + y] / count[x * k + y];
      const l = link[x * k + y];
      if (best < 0 || c > bk || (c === bk && l < bl)) {
        best = y;
        bk = c;
        bl = l;
      }
    }
    if (best < 0) {
      // No evidence with any active cluster: a root of the linked forest (the chain holds only x here,
      // since x entered it as someone's nearest neighbour through a defined pair otherwise).
      state[x] = 2;
      chain.pop();
      continue;
    }
    if (chain.length >= 2 && chain[chain.length - 2] === best) {
      // Reciprocal nearest neighbours: the greedy join makes this join too.
      chain.length -= 2;
      const [a, b] = first[x] < first[best] ? [x, best] : [best, x];
      found.push({ a: node[a], b: node[b], corr: sum[x * k + best] / count[x * k + best], key: bk, link: bl, size: size[a] + size[b] });
      for (let o = 0; o < k; o++) {
        if (o === a || o === b) continue;
        sum[a * k + o] = sum[o * k + a] = sum[a * k + o] + sum[b * k + o];
        gridSum[a * k + o] = gridSum[o * k + a] = gridSum[a * k + o] + gridSum[b * k + o];
        count[a * k + o] = count[o * k + a] = count[a * k + o] + count[b * k + o];
        link[a * k + o] = link[o * k + a] = Math.min(link[a * k + o], link[b * k + o]);
      }
      node[a] = k + found.length - 1;
      size[a] += size[b];
      state[b] = 1;
    } else chain.push(best);
  }
  return replayGreedy(k, found, first, node, state);
}

/**
 * The greedy order of the tree's joins: at each step, of the joins whose sides both exist, the one of
 * highest mean ρ on the decision grid (ties: first linked pair first) — the join the greedy algorithm makes at that step.
 * Then the clusters with no defined pair between them are joined at null, earliest first, as the
 * greedy algorithm does once no defined pair is left. O(k²), like the chain.
 */
function replayGreedy(
  k: number,
  found: Join[],
  first: number[],
  node: number[],
  state: Uint8Array,
): Dendrogram {
  const pending = found.map((j) => (j.a >= k ? 1 : 0) + (j.b >= k ? 1 : 0));
  const parent = new Array<number>(found.length).fill(-1);
  found.forEach((j, i) => {
    if (j.a >= k) parent[j.a - k] = i;
    if (j.b >= k) parent[j.b - k] = i;
  });
  const renamed = new Map<number, number>();
  const rename = (id: number): number => (id < k ? id : renamed.get(id)!);
  const merges: DendrogramMerge[] = [];
  const ready = found.flatMap((_, i) => (pending[i] === 0 ? [i] : []));
  while (ready.length > 0) {
    let at = 0;
    for (let i = 1; i < ready.length; i++) {
      const c = found[ready[i]];
      const b = found[ready[at]];
      if (c.key > b.key || (c.key === b.key && c.link < b.link)) at = i;
    }
    const i = ready[at];
    ready[at] = ready[ready.length - 1];
    ready.pop();
    const j = found[i];
    merges.push({ left: rename(j.a), right: rename(j.b), distance: 1 - j.corr, correlation: j.corr, size: j.size });
    renamed.set(k + i, k + merges.length - 1);
    const p = parent[i];
    if (p >= 0 && --pending[p] === 0) ready.push(p);
  }
  const roots: { id: number; first: number }[] = [];
  for (let s = 0; s < k; s++) if (state[s] === 2) roots.push({ id: rename(node[s]), first: first[s] });
  roots.sort((x, y) => x.first - y.first);
  const sizeOf = (id: number): number => (id < k ? 1 : merges[id - k].size);
  let top = roots[0].id;
  for (const root of roots.slice(1)) {
    merges.push({ left: top, right: root.id, distance: null, correlation: null, size: sizeOf(top) + sizeOf(root.id) });
    top = k + merges.length - 1;
  }
  const leafOrder: number[] = [];
  // Iterative walk (left before right): a deep tree must not overflow the stack.
  const stack = [top];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id < k) leafOrder.push(id);
    else stack.push(merges[id - k].right, merges[id - k].left);
  }
  return { merges, leafOrder };
}

/**
 * Cuts the dendrogram where the mean correlation between two sides falls below τ: joins with mean
 * ρ ≥ τ are kept. Average linkage is monotone, so this equals stopping at the first join below τ.
 * Clusters come in leaf order, each holding its categories in leaf order.
 */
export function cutDendrogram(d: Dendrogram, categories: string[], r: (number | null)[][], tau: number): CategoryCluster[] {
  const k = categories.length;
  const parent = Array.from({ length: k + d.merges.length }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]];
    return x;
  };
  // Leaves under each node, to union them when a join is kept.
  const firstLeaf = (id: number): number => (id < k ? id : firstLeaf(d.merges[id - k].left));
  // A join is kept only when its sides' own joins were: near ties may leave a parent's mean an ulp
  // above a child's, and a cut must never join part of a subtree.
  const kept = d.merges.map(() => false);
  const whole = (id: number): boolean => id < k || kept[id - k];
  d.merges.forEach((m, i) => {
    if (m.correlation === null || m.correlation < tau || !whole(m.left) || !whole(m.right)) return;
    kept[i] = true;
    parent[find(firstLeaf(m.right))] = find(firstLeaf(m.left));
  });
  const groups = new Map<number, number[]>();
  for (const leaf of d.leafOrder) {
    const root = find(leaf);
    if (!groups.has(root)) groups.set(root, []);
    groups.get(root)!.push(leaf);
  }
  return [...groups.values()].map((members) => {
    let s = 0;
    let c = 0;
    for (let a = 0; a < members.length; a++)
      for (let b = a + 1; b < members.length; b++) {
        const v = r[members[a]][members[b]];
        if (v !== null) {
          s += v;
          c++;
        }
      }
    const names = members.map((m) => categories[m]);
    return {
      label: names.length === 1 ? names[0] : `${names[0]} (+${names.length - 1})`,
      categories: names,
      meanCorrelation: c > 0 ? s / c : null,
    };
  });
}
