/**
 * Average-linkage (UPGMA) clustering of categories on the distance 1 − ρ.
 *
 * Undefined correlations: the average between two clusters is taken over the category pairs whose ρ
 * is defined (an undefined ρ is "no evidence", neither close nor far). Two clusters with no defined
 * pair between them are never joined by evidence: they are joined last, at distance null, only to
 * complete the tree, and never fall in the same cluster at any τ. A category whose ρ is undefined
 * with everything (a constant column) is thus a cluster of its own.
 */

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

/** Builds the full dendrogram from a symmetric correlation matrix (null = undefined). */
export function averageLinkage(r: (number | null)[][]): Dendrogram {
  const k = r.length;
  if (k === 0) return { merges: [], leafOrder: [] };
  // Active clusters: node id, member indices, smallest member (for deterministic order).
  interface Active {
    node: number;
    members: number[];
    first: number;
  }
  let active: Active[] = Array.from({ length: k }, (_, i) => ({ node: i, members: [i], first: i }));
  // Sum of defined ρ and count of defined pairs between active clusters, keyed by node ids.
  const sum = new Map<string, number>();
  const count = new Map<string, number>();
  const key = (a: number, b: number): string => (a < b ? `${a},${b}` : `${b},${a}`);
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++) {
      const v = r[i][j];
      sum.set(key(i, j), v ?? 0);
      count.set(key(i, j), v === null ? 0 : 1);
    }
  const merges: DendrogramMerge[] = [];
  const children = new Map<number, [number, number]>();
  while (active.length > 1) {
    let best: [number, number] | null = null;
    let bestCorr = -Infinity;
    for (let a = 0; a < active.length; a++)
      for (let b = a + 1; b < active.length; b++) {
        const kk = key(active[a].node, active[b].node);
        const c = count.get(kk)!;
        if (c === 0) continue;
        const corr = sum.get(kk)! / c;
        // Ties keep the earliest pair in table order, so results do not depend on iteration details.
        if (corr > bestCorr) {
          bestCorr = corr;
          best = [a, b];
        }
      }
    let linked = true;
    if (best === null) {
      linked = false;
      best = [0, 1];
    }
    const [ia, ib] = best;
    const A = active[ia];
    const B = active[ib];
    const [L, R] = A.first < B.first ? [A, B] : [B, A];
    const node = k + merges.length;
    merges.push({
      left: L.node,
      right: R.node,
      distance: linked ? 1 - bestCorr : null,
      correlation: linked ? bestCorr : null,
      size: A.members.length + B.members.length,
    });
    children.set(node, [L.node, R.node]);
    const merged: Active = { node, members: [...L.members, ...R.members], first: Math.min(A.first, B.first) };
    const rest = active.filter((_, i) => i !== ia && i !== ib);
    for (const o of rest) {
      const s = sum.get(key(A.node, o.node))! + sum.get(key(B.node, o.node))!;
      const c = count.get(key(A.node, o.node))! + count.get(key(B.node, o.node))!;
      sum.set(key(node, o.node), s);
      count.set(key(node, o.node), c);
    }
    active = [...rest, merged].sort((x, y) => x.first - y.first);
  }
  const leafOrder: number[] = [];
  const walk = (id: number): void => {
    const ch = children.get(id);
    if (!ch) leafOrder.push(id);
    else {
      walk(ch[0]);
      walk(ch[1]);
    }
  };
  walk(active[0].node);
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
  d.merges.forEach((m) => {
    if (m.correlation !== null && m.correlation >= tau) parent[find(firstLeaf(m.right))] = find(firstLeaf(m.left));
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
