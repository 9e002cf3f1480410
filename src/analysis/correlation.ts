/** Pearson on raw scores, or Spearman (Pearson on average ranks, ties sharing their mean rank). */
export type CorrelationMethod = 'pearson' | 'spearman';

/** A correlation matrix between categories, pairwise-complete. */
export interface CorrelationMatrix {
  method: CorrelationMethod;
  /** Row/column names, in the order of the matrices. */
  categories: string[];
  /** ρ(i, j); null where undefined (fewer than 3 shared models, or a constant score among them). */
  r: (number | null)[][];
  /** How many models have scores in both categories (the diagonal: in the category). */
  n: number[][];
}

export const MIN_PAIRS = 3;

/**
 * Pearson correlation over the positions where both x and y are present (NaN = missing).
 * Undefined (null) when fewer than 3 positions remain or either side is constant on them — never NaN
 * and never 0, which would read as "uncorrelated".
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): { r: number | null; n: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const b = y[i];
    if (Number.isNaN(a) || Number.isNaN(b)) continue;
    n++;
    sx += a;
    sy += b;
  }
  if (n < MIN_PAIRS) return { r: null, n };
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let xConst = true;
  let yConst = true;
  let x0 = NaN;
  let y0 = NaN;
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const b = y[i];
    if (Number.isNaN(a) || Number.isNaN(b)) continue;
    // Constancy is checked on the values themselves: the mean of equal floats need not equal them.
    if (Number.isNaN(x0)) {
      x0 = a;
      y0 = b;
    } else {
      if (a !== x0) xConst = false;
      if (b !== y0) yConst = false;
    }
    const dx = a - mx;
    const dy = b - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (xConst || yConst || sxx === 0 || syy === 0) return { r: null, n };
  const r = sxy / Math.sqrt(sxx * syy);
  return { r: Math.max(-1, Math.min(1, r)), n };
}

/** Average ranks (1-based) of the present values; NaN stays NaN. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) idx.push(i);
  idx.sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(x.length).fill(NaN);
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && x[idx[e + 1]] === x[idx[s]]) e++;
    const rank = (s + e) / 2 + 1;
    for (let t = s; t <= e; t++) ranks[idx[t]] = rank;
    s = e + 1;
  }
  return ranks;
}

/** Spearman's ρ over the positions where both are present: ranks are taken within those positions. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): { r: number | null; n: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < x.length; i++)
    if (!Number.isNaN(x[i]) && !Number.isNaN(y[i])) {
      xs.push(x[i]);
      ys.push(y[i]);
    }
  return pearson(averageRanks(xs), averageRanks(ys));
}

/**
 * The matrix between columns (each an array over models, NaN = missing). For Spearman, columns with
 * no missing values are ranked once; pairs involving missing values are re-ranked on their shared models.
 */
export function correlationMatrix(categories: string[], columns: Float64Array[], method: CorrelationMethod = 'pearson'): CorrelationMatrix {
  const k = columns.length;
  const r: (number | null)[][] = Array.from({ length: k }, () => new Array<number | null>(k).fill(null));
  const n: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const complete = columns.map((c) => c.every((v) => !Number.isNaN(v)));
  const ranked = method === 'spearman' ? columns.map((c, i) => (complete[i] ? averageRanks(c) : c)) : columns;
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) {
      const res =
        method === 'pearson' || (complete[i] && complete[j]) ? pearson(ranked[i], ranked[j]) : spearman(columns[i], columns[j]);
      r[i][j] = r[j][i] = i === j && res.r !== null ? 1 : res.r;
      n[i][j] = n[j][i] = res.n;
    }
  return { method, categories: [...categories], r, n };
}
