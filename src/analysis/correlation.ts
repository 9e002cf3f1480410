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

/** Indices of the present values of x, sorted by value (stable). */
function sortedPresent(x: ArrayLike<number>): Int32Array {
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) idx.push(i);
  const values = new Float64Array(idx.length);
  for (let t = 0; t < idx.length; t++) values[t] = x[idx[t]];
  const order = Int32Array.from(idx.keys()).sort((a, b) => values[a] - values[b] || a - b);
  return Int32Array.from(order, (k) => idx[k]);
}

/**
 * Average ranks (1-based) of x over the positions in `order` (sorted by x) that `keep` allows;
 * every other position of `out` is NaN. Linear time once the order is known.
 */
function ranksAlong(
  x: ArrayLike<number>,
  order: Int32Array,
  keep: ArrayLike<number> | null,
  out: Float64Array,
  scratch: Int32Array = new Int32Array(order.length),
): Float64Array {
  out.fill(NaN);
  let count = 0;
  for (let t = 0; t < order.length; t++) {
    const i = order[t];
    if (keep === null || !Number.isNaN(keep[i])) scratch[count++] = i;
  }
  let rank = 0;
  let s = 0;
  while (s < count) {
    let e = s;
    const v = x[scratch[s]];
    while (e + 1 < count && x[scratch[e + 1]] === v) e++;
    const avg = rank + (e - s) / 2 + 1;
    for (let t = s; t <= e; t++) out[scratch[t]] = avg;
    rank += e - s + 1;
    s = e + 1;
  }
  return out;
}

/** Average ranks (1-based) of the present values; NaN stays NaN. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  return ranksAlong(x, sortedPresent(x), null, new Float64Array(x.length));
}

/** Spearman's ρ over the positions where both are present: ranks are taken within those positions. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): { r: number | null; n: number } {
  const rx = ranksAlong(x, sortedPresent(x), y, new Float64Array(x.length));
  const ry = ranksAlong(y, sortedPresent(y), x, new Float64Array(y.length));
  return pearson(rx, ry);
}

/**
 * The matrix between columns (each an array over models, NaN = missing). For Spearman every column
 * is sorted once; each pair then re-ranks both columns on their shared models in linear time.
 */
export function correlationMatrix(categories: string[], columns: Float64Array[], method: CorrelationMethod = 'pearson'): CorrelationMatrix {
  const k = columns.length;
  const r: (number | null)[][] = Array.from({ length: k }, () => new Array<number | null>(k).fill(null));
  const n: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const rows = k > 0 ? columns[0].length : 0;
  const complete = columns.map((c) => c.every((v) => !Number.isNaN(v)));
  const orders = method === 'spearman' ? columns.map(sortedPresent) : [];
  const fullRanks = method === 'spearman' ? columns.map((c, i) => ranksAlong(c, orders[i], null, new Float64Array(rows))) : [];
  const bufX = new Float64Array(rows);
  const bufY = new Float64Array(rows);
  const scratch = new Int32Array(rows);
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) {
      let res: { r: number | null; n: number };
      if (method === 'pearson') res = pearson(columns[i], columns[j]);
      else if (complete[i] && complete[j]) res = pearson(fullRanks[i], fullRanks[j]);
      else
        res = pearson(
          ranksAlong(columns[i], orders[i], columns[j], bufX, scratch),
          ranksAlong(columns[j], orders[j], columns[i], bufY, scratch),
        );
      r[i][j] = r[j][i] = i === j && res.r !== null ? 1 : res.r;
      n[i][j] = n[j][i] = res.n;
    }
  return { method, categories: [...categories], r, n };
}
